import assert from "node:assert/strict";
import {
  APT_PACKAGES,
  BREW_FORMULAS,
  installHint,
  packageManagerFor,
} from "../../builders/install_hint.ts";
import { HOST_FILES, HOST_KERNEL, HOST_TOOLS } from "../../builders/host_tools.ts";
import { which } from "../../engine/tools.ts";
import { toolPath } from "../../iso/demo/host_tools.ts";
import { findHostKernel } from "../../iso/demo/initramfs.ts";

const DEBIAN = { kind: "linux", ids: ["debian"], root: false };
const MAC = { kind: "darwin", ids: ["macos"], root: false };

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  try {
    const r = new Deno.Command(cmd, { args, stderr: "null", env: { LC_ALL: "C" } }).outputSync();
    return { ok: r.success, out: new TextDecoder().decode(r.stdout) };
  } catch {
    return { ok: false, out: "" };
  }
}

const hasApt = run("apt-cache", ["--version"]).ok && run("dpkg", ["--version"]).ok;

Deno.test("packageManagerFor() picks apt on Debian, Ubuntu and their derivatives, brew on macOS, else none", () => {
  assert.equal(packageManagerFor(DEBIAN), "apt");
  assert.equal(packageManagerFor({ kind: "linux", ids: ["ubuntu", "debian"] }), "apt");
  assert.equal(packageManagerFor({ kind: "linux", ids: ["linuxmint", "ubuntu"] }), "apt");
  assert.equal(packageManagerFor(MAC), "brew");
  assert.equal(packageManagerFor({ kind: "linux", ids: ["fedora"] }), null);
  assert.equal(packageManagerFor({ kind: "windows", ids: [] }), null);
});

Deno.test("installHint() makes one sorted apt-get command, with sudo unless root, each package once", () => {
  const missing = ["qemu-img", "packer", "modprobe", "depmod", "qemu-system-x86_64", HOST_KERNEL];
  assert.deepEqual(installHint(missing, DEBIAN), {
    manager: "apt",
    packages: ["kmod", "linux-image-amd64", "packer", "qemu-system-x86", "qemu-utils"],
    command: "sudo apt-get install -y kmod linux-image-amd64 packer qemu-system-x86 qemu-utils",
    unknown: [],
  });
  assert.equal(
    installHint(["lintian", "apt-ftparchive", "isolinux.bin"], { ...DEBIAN, root: true }).command,
    "apt-get install -y apt-utils isolinux lintian",
  );
});

Deno.test("installHint() makes a brew command on macOS and lists what Homebrew has no formula for", () => {
  assert.deepEqual(
    installHint(["qemu-img", "qemu-system-x86_64", "packer", "lintian", "xorriso"], MAC),
    {
      manager: "brew",
      packages: ["hashicorp/tap/packer", "qemu", "xorriso"],
      command: "brew install hashicorp/tap/packer qemu xorriso",
      unknown: ["lintian"],
    },
  );
  assert.deepEqual(installHint(["lintian"], MAC).command, null);
});

Deno.test("installHint() names no command on an OS without a known package manager", () => {
  assert.deepEqual(
    installHint(["packer", "git", "packer"], { kind: "linux", ids: ["arch"], root: false }),
    {
      manager: null,
      packages: [],
      command: null,
      unknown: ["git", "packer"],
    },
  );
  assert.equal(installHint([], DEBIAN).command, null);
  assert.deepEqual(installHint(["toString"], DEBIAN).unknown, ["toString"], "no prototype keys");
});

Deno.test("APT_PACKAGES names a package for every tool and file doctor checks, and brew for every tool but Debian's own", () => {
  for (const t of HOST_TOOLS) {
    if (t.name === "deno") continue; // installed with npm or Deno's installer
    assert.ok(APT_PACKAGES[t.name], `apt package of ${t.name}`);
    if (!t.linuxOnly) assert.ok(BREW_FORMULAS[t.name], `brew formula of ${t.name}`);
  }
  for (const f of HOST_FILES) assert.ok(APT_PACKAGES[f.name], `apt package of ${f.name}`);
  assert.ok(APT_PACKAGES[HOST_KERNEL]);
});

Deno.test({
  name: "APT_PACKAGES names packages this Debian knows, which install the tools found here",
  ignore: !hasApt,
  fn() {
    const packages = [...new Set(Object.values(APT_PACKAGES))];
    const shown = run("apt-cache", ["show", "--no-all-versions", ...packages]);
    const known = new Set([...shown.out.matchAll(/^Package: (\S+)$/gm)].map((m) => m[1]));
    assert.deepEqual(packages.filter((p) => !known.has(p)), [], "unknown to apt-cache");

    const where: [string, string | null][] = [
      ...HOST_TOOLS.map((t): [string, string | null] => [t.name, which(t.name, toolPath())]),
      ...HOST_FILES.map((f): [string, string | null] => [f.name, f.path]),
    ];
    let checked = 0;
    for (const [name, path] of where) {
      if (!path || !APT_PACKAGES[name]) continue;
      try {
        Deno.statSync(path);
      } catch {
        continue;
      }
      // dpkg knows a usr-merged /usr/bin/x as /bin/x, or the other way round.
      const owner = [path, path.replace(/^\/usr\//, "/")]
        .map((p) => run("dpkg", ["-S", p]))
        .find((r) => r.ok)?.out.split(":")[0];
      if (!owner) continue; // not from a package (e.g. deno from npm)
      const pkg = APT_PACKAGES[name];
      const deps = owner === pkg ? "" : run("apt-cache", ["depends", pkg]).out;
      assert.ok(
        owner === pkg || new RegExp(`Depends: ${owner}$`, "m").test(deps),
        `${name} (${path}) comes from "${owner}", which "${pkg}" does not install`,
      );
      checked++;
    }
    assert.ok(checked >= 10, `only ${checked} tools found to check`);
    const kernel = findHostKernel();
    if (!("reason" in kernel)) {
      assert.match(run("dpkg", ["-S", kernel.path]).out, /^linux-image-/);
    }
  },
});
