import assert from "node:assert/strict";
import { join } from "node:path";
import { StagedWrites } from "../../apt/staged_writes.ts";

const DIR = "dists/stable/main/binary-amd64";

async function withRoot(fn: (root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "kiln-staged-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function stagedNames(root: string): string[] {
  return [...Deno.readDirSync(join(root, DIR, "by-hash", "SHA256"))].map((e) => e.name).sort();
}

Deno.test("StagedWrites.take() gives a file holding the staged bytes, in the index's by-hash folder", async () => {
  await withRoot(async (root) => {
    const staged = new StagedWrites(root);
    const bytes = new TextEncoder().encode("Package: hello\n".repeat(5000));
    staged.stage(DIR, "Packages", bytes);
    const tmp = await staged.take(DIR, "Packages");
    assert.ok(tmp);
    assert.equal(join(tmp, ".."), join(root, DIR, "by-hash", "SHA256"));
    assert.deepEqual(Deno.readFileSync(tmp), bytes);
    assert.equal(await staged.take(DIR, "Packages"), null, "taken once");
    assert.equal(await staged.take(DIR, "Packages.gz"), null, "never staged");
    await staged.discard();
    assert.deepEqual(stagedNames(root), [tmp.split("/").at(-1)], "a taken file is the caller's");
  });
});

Deno.test("StagedWrites.discard() removes every file not taken, and staging again replaces a file", async () => {
  await withRoot(async (root) => {
    const staged = new StagedWrites(root);
    staged.stage(DIR, "Packages", new Uint8Array(100_000).fill(1));
    staged.stage(DIR, "Packages", new Uint8Array(10).fill(2));
    staged.stage(DIR, "Packages.xz", new Uint8Array(10).fill(3));
    const tmp = await staged.take(DIR, "Packages");
    assert.deepEqual(Deno.readFileSync(tmp!), new Uint8Array(10).fill(2));
    await staged.discard();
    assert.deepEqual(stagedNames(root), [tmp!.split("/").at(-1)]);
  });
});

Deno.test("StagedWrites.take() throws what the write threw, leaving nothing behind", async () => {
  await withRoot(async (root) => {
    const folder = join(root, DIR, "by-hash", "SHA256");
    Deno.mkdirSync(folder, { recursive: true });
    // An immutable folder refuses new files even to root; skip where the file system has no such flag.
    const chattr = await new Deno.Command("chattr", { args: ["+i", folder], stderr: "null" })
      .output().catch(() => null);
    if (!chattr?.success) return;
    try {
      const staged = new StagedWrites(root);
      staged.stage(DIR, "Packages", new Uint8Array(10));
      await assert.rejects(() => staged.take(DIR, "Packages"), Deno.errors.PermissionDenied);
      await staged.discard();
    } finally {
      await new Deno.Command("chattr", { args: ["-i", folder] }).output();
    }
    assert.deepEqual(stagedNames(root), []);
  });
});
