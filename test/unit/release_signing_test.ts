import assert from "node:assert/strict";
import { keyTask } from "../../tasks/release_signing.ts";
import { exists, makeTmp, removeTree } from "../rig/workspace.ts";

Deno.test("keyTask() makes the throwaway key only when a build may sign, and keys on it", async () => {
  const ws = await makeTmp("release-key-");
  try {
    const none = () => undefined;
    const looking = await keyTask(ws, none, false);
    assert.ok(!exists(`${ws}/.kiln/throwaway-signing-key.asc`), "kiln list made a signing key");
    assert.equal(looking.task.params?.keyFile, "none");

    const first = await keyTask(ws, none, true);
    assert.ok(exists(`${ws}/.kiln/throwaway-signing-key.asc`));
    assert.match(String(first.task.params?.keyFile), /^[0-9a-f]{64}$/);
    const second = await keyTask(ws, none, true);
    assert.equal(second.task.params?.keyFile, first.task.params?.keyFile, "the key changed");
    assert.deepEqual(second.configFiles, [`${ws}/.kiln/throwaway-signing-key.asc`]);
  } finally {
    await removeTree(ws);
  }
});
