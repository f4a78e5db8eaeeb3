/**
 * The kiln side of the APT bench as a whole process: one `publishAptRepository()` and nothing
 * else loaded (the bench harness's own modules would be start-up kiln does not have).
 *
 * Usage: `deno run -A bench/apt_publish_child.ts ROOT STATE KEY (--list FILE | --add DEB)`.
 *
 * @module
 */

import { publishAptRepository } from "../apt/mod.ts";

const [root, stateDir, keyPath, mode, arg] = Deno.args;
const debs = mode === "--list" ? Deno.readTextFileSync(arg).split("\n").filter((l) => l) : [arg];
// The key as a function: read (and OpenPGP loaded) while the indexes compress.
const r = await publishAptRepository({
  root,
  stateDir,
  origin: "kiln",
  label: "kiln",
  suites: [{ name: "stable", components: ["main"], architectures: ["amd64"] }],
}, async () => {
  const { readSigningKey } = await import("../signing/key.ts");
  return await readSigningKey(Deno.readTextFileSync(keyPath), keyPath);
}, { add: debs.map((deb) => ({ deb, suite: "stable", component: "main" })) });
if ("reason" in r) {
  console.error(r.message);
  Deno.exit(1);
}
console.log(JSON.stringify({ hashed: r.hashed, packages: r.packages }));
