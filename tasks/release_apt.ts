/**
 * kiln's APT repository: the .deb added to suite `stable`, component `main`, for amd64 and
 * arm64 (an `all` package is listed in both), signed with the release key (`InRelease`,
 * `Release.gpg`), with the binary keyring apt's `signed-by=` takes beside it.
 *
 * The repository is published incrementally in the task's state folder (`ctx.stateDir()`): its
 * pool keeps earlier versions, its index cache means only a new .deb is hashed, and unchanged
 * indexes are not rewritten. It is then copied to `dist/apt/`, the task's output.
 *
 * @module
 */

import { failure } from "../engine/failure.ts";
import { copyTree } from "../engine/fs_util.ts";
import { fn, type Task } from "../engine/task.ts";
import { DEB_SPEC, DEB_TASK, debPath } from "./release_deb.ts";
import { releaseEpoch } from "./release_date.ts";
import { KEY_TASK, PUBLIC_KEY, releaseKey, SIGNING_ENV } from "./release_signing.ts";

/** The published repository. */
export const APT_DIR = "dist/apt";
/** The keyring users point `signed-by=` at, inside the repository. */
export const APT_KEYRING = "kiln-archive-keyring.gpg";

/** The suites kiln publishes into: one, `stable`. */
export const APT_SUITES = [
  { name: "stable", codename: "kiln", components: ["main"], architectures: ["amd64", "arm64"] },
];

/** The task that adds kiln's .deb to its APT repository and signs the indexes. */
export function aptTask(version: string, revision: string): Task {
  const deb = debPath(version, revision);
  return {
    id: "release:apt",
    description: "The signed APT repository holding kiln's .deb (InRelease, Release.gpg, by-hash)",
    deps: [DEB_TASK, KEY_TASK],
    params: { version, suites: APT_SUITES },
    env: ["SOURCE_DATE_EPOCH", ...SIGNING_ENV.env!],
    secretEnv: SIGNING_ENV.secretEnv,
    outputs: [APT_DIR],
    action: fn(import.meta.url, async (ctx) => {
      const epoch = releaseEpoch(ctx.env);
      if (typeof epoch !== "number") return epoch;
      const key = await releaseKey(ctx, PUBLIC_KEY);
      if ("reason" in key) return key;
      const { publishAptRepository } = await import("../apt/mod.ts");
      const state = ctx.stateDir();
      const repo = `${state}/repo`;
      const r = await publishAptRepository(
        {
          root: repo,
          stateDir: `${state}/index`,
          origin: "kiln",
          label: "kiln",
          description: "kiln release packages",
          suites: APT_SUITES,
          sourceDateEpoch: epoch,
        },
        key.key,
        { add: [{ deb: ctx.path(deb), suite: "stable", component: "main" }] },
      );
      if ("reason" in r) {
        if (r.reason !== "apt-pool-conflict") return r;
        return failure(
          r.reason,
          `${r.message}: bump the Debian revision in ${DEB_SPEC} ("{version}-<n>") or kiln's ` +
            `version in deno.json, or, if this repository was never published, start it over ` +
            `with "deno run -A build.ts clean release:apt"`,
        );
      }
      await Deno.writeFile(`${repo}/${APT_KEYRING}`, key.key.publicBinary);
      ctx.log(
        `hashed ${r.hashed} pool file(s), wrote ${r.written.length} index file(s), ` +
          `${r.unchanged} unchanged; ${r.packages} package(s)`,
      );
      copyTree(repo, ctx.path(APT_DIR));
    }),
  };
}
