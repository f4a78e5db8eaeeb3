import assert from "node:assert/strict";
import { localModuleClosure } from "../../engine/module_closure.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

Deno.test("localModuleClosure() follows every relative import form when given an entry module", async () => {
  const dir = await makeTmp("closure-");
  try {
    const files: Record<string, string> = {
      "tasks/mod.ts": [
        `import { a } from "./a.ts";`,
        `import type {\n  B,\n  C as D,\n} from "../lib/b.ts";`,
        `import * as c from './c.ts';`,
        `import "./side.ts";`,
        `export { e } from "./e.ts";`,
        `export * from "./f.ts";`,
        `const g = await import("./g.ts");`,
        `import { z } from "zod";`,
        `import x from "npm:left-pad";`,
      ].join("\n"),
      "tasks/a.ts": `import { shared } from "../lib/shared.ts";`,
      "lib/b.ts": `export type B = 1;`,
      "tasks/c.ts": `import { a } from "./a.ts"; // a cycle back is fine\nimport "./mod.ts";`,
      "tasks/side.ts": ``,
      "tasks/e.ts": ``,
      "tasks/f.ts": ``,
      "tasks/g.ts": ``,
      "lib/shared.ts": ``,
      "lib/unused.ts": ``,
    };
    for (const [rel, text] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${rel.split("/").slice(0, -1).join("/")}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${rel}`, text);
    }
    const got = localModuleClosure(`${dir}/tasks/mod.ts`).map((f) => f.slice(dir.length + 1));
    assert.deepEqual(got, [
      "lib/b.ts",
      "lib/shared.ts",
      "tasks/a.ts",
      "tasks/c.ts",
      "tasks/e.ts",
      "tasks/f.ts",
      "tasks/g.ts",
      "tasks/mod.ts",
      "tasks/side.ts",
    ]);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("localModuleClosure() lists a missing module when an import points at nothing", async () => {
  const dir = await makeTmp("closure-");
  try {
    await Deno.writeTextFile(`${dir}/mod.ts`, `import "./gone.ts";`);
    assert.deepEqual(localModuleClosure(`${dir}/mod.ts`), [`${dir}/gone.ts`, `${dir}/mod.ts`]);
  } finally {
    await removeTree(dir);
  }
});
