import assert from "node:assert/strict";
import { secretDigest } from "../../engine/fingerprint.ts";
import { checkStamp, stampPath, writeStamp } from "../../engine/stamp.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

Deno.test("checkStamp() misses when a secret env value changed and the stamp holds only its digest", async () => {
  const root = await makeTmp("stamp-");
  try {
    await Deno.mkdir(`${root}/.kiln`);
    const id = { config: "ts pipeline", targets: ["release:apt"] };
    const secret = "armored-key-material-123";
    const ok = writeStamp(root, id, { LANG: "C" }, new Map(), ["release:apt"], {
      KILN_SIGNING_KEY: secretDigest(secret),
    });
    assert.ok(ok);
    assert.ok(!Deno.readTextFileSync(stampPath(root)).includes(secret));
    const env = (v: string | undefined) => (n: string) =>
      n === "LANG" ? "C" : n === "KILN_SIGNING_KEY" ? v : undefined;
    assert.deepEqual(checkStamp(root, id, env(secret)), ["release:apt"]);
    assert.equal(checkStamp(root, id, env("another-key")), null);
    assert.equal(checkStamp(root, id, env(undefined)), null);
  } finally {
    await removeTree(root);
  }
});
