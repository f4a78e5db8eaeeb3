import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import {
  type AptPublishRequest,
  type AptPublishResult,
  type AptRepoConfig,
  publishAptRepository,
} from "../../apt/mod.ts";
import type { Failure } from "../../engine/failure.ts";
import { buildDeb } from "../rig/dpkg_deb.ts";
import { testSigningKey } from "../rig/signing_key.ts";

const TMP = resolve("test/.tmp");
const INDEX = "dists/stable/main/binary-amd64";

function config(dir: string): AptRepoConfig {
  return {
    root: join(dir, "repo"),
    stateDir: join(dir, "state"),
    origin: "kiln",
    label: "kiln",
    sourceDateEpoch: 1_700_000_000,
    suites: [{ name: "stable", components: ["main"], architectures: ["amd64"] }],
  };
}

function ok(r: AptPublishResult | Failure): AptPublishResult {
  if ("reason" in r) throw new Error(`unexpected failure ${r.reason}: ${r.message}`);
  return r;
}

function files(c: AptRepoConfig): Map<string, Uint8Array> {
  return new Map(
    ["Packages", "Packages.gz", "Packages.xz", "Release"].map((n) => `${INDEX}/${n}`)
      .concat("dists/stable/Release")
      .map((f) => [f, Deno.readFileSync(join(c.root, f))]),
  );
}

/** The recorded chunks of the index: how many, and how many have a saved hash state. */
function recorded(c: AptRepoConfig): { chunks: number; withState: number } {
  const dir = join(c.stateDir, "records");
  const [name] = [...Deno.readDirSync(dir)].map((e) => e.name);
  const chunks: { after?: string }[] = JSON.parse(Deno.readTextFileSync(join(dir, name))).chunks;
  return { chunks: chunks.length, withState: chunks.filter((x) => x.after).length };
}

Deno.test("publishAptRepository() through its records resumes hashing and equals a full build when an index has many chunks", async () => {
  Deno.mkdirSync(TMP, { recursive: true });
  const dir = Deno.makeTempDirSync({ dir: TMP, prefix: "apt-resume-" });
  try {
    const debs = join(dir, "debs");
    Deno.mkdirSync(debs);
    const names = Array.from({ length: 240 }, (_, i) => `pkg${String(i).padStart(3, "0")}`);
    const built: string[] = [];
    for (let i = 0; i < names.length; i += 8) { // a few dpkg-deb at a time
      built.push(
        ...await Promise.all(
          names.slice(i, i + 8).map((pkg) =>
            buildDeb(debs, { pkg, version: "1.0", arch: "amd64" })
          ),
        ),
      );
    }
    const [mid, last] = await Promise.all([
      buildDeb(debs, { pkg: "pkg120a", version: "1.0", arch: "amd64" }),
      buildDeb(debs, { pkg: "zzz", version: "1.0", arch: "amd64" }),
    ]);
    const add = (deb: string) => ({ deb, suite: "stable", component: "main" });
    const key = await testSigningKey();
    const c = config(join(dir, "records"));
    ok(await publishAptRepository(c, key, { add: built.map(add) }));
    const first = recorded(c);
    assert.ok(first.chunks >= 3, `${first.chunks} chunks: enough to resume mid-index`);
    assert.equal(first.withState, first.chunks, "every chunk's hash state is recorded");

    const steps: AptPublishRequest[] = [
      { add: [add(mid)] }, // the middle: hashing resumes after the chunks before it
      { add: [add(last)] }, // the end: only the last chunk and the tails are hashed
      { remove: [{ suite: "stable", package: "pkg000" }] }, // the start: nothing to resume
      { remove: [{ suite: "stable", package: "zzz" }, { suite: "stable", package: "pkg120a" }] },
    ];
    const g = config(join(dir, "general"));
    ok(await publishAptRepository(g, key, { add: built.map(add) }));
    for (const [i, step] of steps.entries()) {
      const r = ok(await publishAptRepository(c, key, step));
      assert.equal(r.readBack, 0, `step ${i}: published through the records`);
      Deno.removeSync(g.stateDir, { recursive: true }); // the reference hashes whole files
      ok(await publishAptRepository(g, key, step));
      for (const [f, bytes] of files(g)) {
        assert.deepEqual(files(c).get(f), bytes, `step ${i}: ${f}`);
      }
      const now = recorded(c);
      assert.equal(now.withState, now.chunks, `step ${i}: states recorded for every chunk`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
