/**
 * The kiln side of the APT bench as a whole process: one `publishAptRepository()` and nothing
 * else loaded (the bench harness's own modules would be start-up kiln does not have).
 *
 * Usage: `deno run -A bench/apt_publish_child.ts ROOT STATE KEY (--list FILE | --add DEB)`.
 *
 * @module
 */

import { AptWorkerSigner } from "../apt/worker_signer.ts";

const [root, stateDir, keyPath, mode, arg] = Deno.args;
// The signer first: OpenPGP loads and the key is read and checked on another thread while this
// one loads the publisher and reads the packages.
const signer = new AptWorkerSigner({ armored: Deno.readTextFileSync(keyPath), name: keyPath });
try {
  const { publishAptRepository } = await import("../apt/mod.ts");
  const debs = mode === "--list" ? Deno.readTextFileSync(arg).split("\n").filter((l) => l) : [arg];
  const r = await publishAptRepository(
    {
      root,
      stateDir,
      origin: "kiln",
      label: "kiln",
      suites: [{ name: "stable", components: ["main"], architectures: ["amd64"] }],
    },
    signer,
    { add: debs.map((deb) => ({ deb, suite: "stable", component: "main" })) },
  );
  if ("reason" in r) {
    console.error(r.message);
    Deno.exitCode = 1;
  } else console.log(JSON.stringify({ hashed: r.hashed, packages: r.packages }));
} finally {
  signer.close();
}
