/**
 * The kiln side of the APT bench as a whole process: one `publishAptRepository()` and nothing
 * else loaded (the bench harness's own modules would be start-up kiln does not have). The key is
 * read as the `release:apt` task reads it (`readSigningKey`: kiln's own OpenPGP reader, openpgp.js
 * only for keys it does not read).
 *
 * Usage: `deno run -A bench/apt_publish_child.ts ROOT STATE KEY (--list FILE | --add DEB)`.
 *
 * @module
 */

import { publishAptRepository } from "../apt/mod.ts";
import { readSigningKey } from "../signing/key.ts";

const [root, stateDir, keyPath, mode, arg] = Deno.args;
const debs = mode === "--list" ? Deno.readTextFileSync(arg).split("\n").filter((l) => l) : [arg];
const r = await publishAptRepository(
  {
    root,
    stateDir,
    origin: "kiln",
    label: "kiln",
    suites: [{ name: "stable", components: ["main"], architectures: ["amd64"] }],
  },
  () => readSigningKey(Deno.readTextFileSync(keyPath), keyPath),
  { add: debs.map((deb) => ({ deb, suite: "stable", component: "main" })) },
);
if ("reason" in r) {
  console.error(r.message);
  Deno.exitCode = 1;
} else console.log(JSON.stringify({ hashed: r.hashed, packages: r.packages }));
