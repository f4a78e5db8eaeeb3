import assert from "node:assert/strict";
import { collectFiles, writeArchive } from "../../release/archive.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const MTIME = 1_763_683_200; // 2025-11-21T00:00:00Z

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${text}`);
  return text;
}

async function withTree(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await makeTmp("archive-");
  try {
    await Deno.mkdir(`${dir}/src/bin`, { recursive: true });
    await Deno.writeTextFile(`${dir}/src/README.md`, "# kiln\n".repeat(50));
    await Deno.writeTextFile(`${dir}/src/bin/kiln`, "#!/bin/sh\necho kiln\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/src/bin/notes.txt`, "ünïcode\n");
    await Deno.chmod(`${dir}/src/bin/kiln`, 0o775);
    await body(dir);
  } finally {
    await removeTree(dir);
  }
}

Deno.test("writeArchive() makes a zip that unzip extracts with modes and bytes intact", async () => {
  await withTree(async (dir) => {
    const files = await collectFiles(`${dir}/src`, ["README.md", "bin"]);
    assert.ok(Array.isArray(files));
    const r = await writeArchive(files, {
      top: "kiln-1.0",
      format: "zip",
      mtime: MTIME,
      dest: `${dir}/a.zip`,
    });
    assert.ok(!("reason" in r));
    assert.match(await run("unzip", ["-t", `${dir}/a.zip`]), /No errors detected/);
    const info = await run("zipinfo", [`${dir}/a.zip`]);
    assert.match(info, /-rwxr-xr-x .* kiln-1\.0\/bin\/kiln/);
    assert.match(info, /-rw-r--r-- .* kiln-1\.0\/README\.md/);
    assert.match(info, /25-Nov-21 00:00 kiln-1\.0\/README\.md/);
    await run("unzip", ["-q", `${dir}/a.zip`, "-d", `${dir}/out`]);
    assert.equal(Deno.readTextFileSync(`${dir}/out/kiln-1.0/bin/notes.txt`), "ünïcode\n");
    assert.equal(Deno.readTextFileSync(`${dir}/out/kiln-1.0/README.md`), "# kiln\n".repeat(50));
  });
});

Deno.test("writeArchive() gives identical bytes twice and a tar.gz that tar lists as root-owned", async () => {
  await withTree(async (dir) => {
    const files = await collectFiles(`${dir}/src`, ["bin", "README.md"]);
    assert.ok(Array.isArray(files));
    for (const format of ["tar.gz", "zip"] as const) {
      const o = { top: "kiln-1.0-linux-amd64", format, mtime: MTIME };
      await writeArchive(files, { ...o, dest: `${dir}/one.${format}` });
      await Deno.utime(`${dir}/src/README.md`, 1, 1); // a touched source changes nothing
      const again = await collectFiles(`${dir}/src`, ["README.md", "bin"]);
      assert.ok(Array.isArray(again));
      await writeArchive(again, { ...o, dest: `${dir}/two.${format}` });
      assert.deepEqual(
        Deno.readFileSync(`${dir}/one.${format}`),
        Deno.readFileSync(`${dir}/two.${format}`),
      );
    }
    const listing = await run("tar", ["-tvzf", `${dir}/one.tar.gz`]);
    assert.match(listing, /-rwxr-xr-x root\/root .* (\.\/)?kiln-1\.0-linux-amd64\/bin\/kiln\n/);
    assert.match(listing, /2025-11-21 00:00/);
  });
});

Deno.test("collectFiles() fails with archive-source-missing when a source is absent", async () => {
  await withTree(async (dir) => {
    const r = await collectFiles(`${dir}/src`, ["README.md", "nope"]);
    assert.ok("reason" in r && r.reason === "archive-source-missing");
    assert.match(r.message, /"nope"/);
  });
});
