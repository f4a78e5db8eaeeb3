import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../../engine/failure.ts";
import {
  declaredVariables,
  packerError,
  prepareTemplate,
  REAL_TEMPLATE_IDS,
  REPO_ROOT,
  TEMPLATE_VARIABLES,
  templateDigestInputs,
  templateVars,
  type TemplateVarsOptions,
  validateTemplate,
  variablesFile,
} from "../../packer/templates.ts";
import {
  type PackerVersion,
  parsePackerVersion,
  planFor,
  pluginsHcl,
} from "../../packer/version.ts";
import { makeTmp, removeTree } from "../rig/workspace.ts";

const ZERO_SHA = "0".repeat(64);

function version(text: string): PackerVersion {
  return parsePackerVersion(text)!;
}

function sampleVars(dir: string, id: string): TemplateVarsOptions {
  return {
    isoUrl: `${dir}/${id}.iso`,
    isoSha256: ZERO_SHA,
    outputDirectory: `${dir}/out-${id}`,
    vmName: `${id}.qcow2`,
    accelerator: "tcg",
    serialLog: `${dir}/${id}-serial.log`,
    cpus: 2,
    memory: 2048,
    diskSize: "20G",
    bootWait: "10s",
    shutdownTimeout: "120m",
  };
}

async function packer(args: string[], cwd: string): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command("packer", {
    args,
    cwd,
    env: { CHECKPOINT_DISABLE: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { ok: r.success, out: d.decode(r.stdout) + d.decode(r.stderr) };
}

function templateText(id: string): string {
  return Deno.readTextFileSync(`${REPO_ROOT}/packer/${id}/template.pkr.hcl`);
}

/** The strings of the `boot_command = [...]` list. */
function bootCommand(hcl: string): string {
  const m = hcl.match(/boot_command\s*=\s*\[([\s\S]*?)\n\s*\]/);
  assert.ok(m, "no boot_command");
  return [...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]).join("");
}

// Packer's boot command keys (packer's bootcommand grammar), compared in lower case.
const KEYS = new Set(
  [
    "bs",
    "del",
    "enter",
    "esc",
    "insert",
    "home",
    "end",
    "pageup",
    "pagedown",
    "return",
    "tab",
    "up",
    "down",
    "left",
    "right",
    "spacebar",
    "wait",
    ...Array.from({ length: 12 }, (_, i) => `f${i + 1}`),
    ...["leftalt", "leftctrl", "leftshift", "rightalt", "rightctrl", "rightshift"].flatMap((
      k,
    ) => [k, `${k}on`, `${k}off`]),
  ],
);

Deno.test("templateVars() passes every contract variable once, in order", () => {
  const args = templateVars({
    ...sampleVars("/work/x", "ubuntu"),
    isoSha256: `sha256:${"AB".repeat(32)}`,
  });
  const names = args.filter((_, i) => i % 2 === 1).map((a) => a.slice(0, a.indexOf("=")));
  assert.deepEqual(names, [...TEMPLATE_VARIABLES]);
  assert.ok(args.filter((_, i) => i % 2 === 0).every((a) => a === "-var"));
  assert.ok(args.includes(`iso_checksum=sha256:${"ab".repeat(32)}`));
  assert.ok(args.includes("headless=true"));
  assert.ok(args.includes("serial_log=/work/x/ubuntu-serial.log"));
  assert.ok(args.includes("memory=2048"));
  const windowed = templateVars({ ...sampleVars("/w", "x"), headless: false });
  assert.ok(windowed.includes("headless=false"));
});

Deno.test("templateVars() throws ConfigError for values packer would misread", () => {
  const ok = sampleVars("/w", "x");
  const cases: [Partial<TemplateVarsOptions>, RegExp][] = [
    [{ isoSha256: "md5:abc" }, /ISO checksum "md5:abc" is not a SHA-256/],
    [{ serialLog: "serial.log" }, /Serial log "serial.log" is not absolute/],
    [{ outputDirectory: "out" }, /Output directory "out" is not absolute/],
    [{ vmName: "a/b.qcow2" }, /VM name "a\/b.qcow2" is not a file name/],
    [{ accelerator: "xen" as "kvm" }, /Accelerator "xen" is unknown/],
    [{ cpus: 0 }, /CPU count 0 is not a positive integer/],
    [{ memory: 1.5 }, /Memory 1.5 is not a positive integer/],
    [{ diskSize: "20 GB" }, /Disk size "20 GB" is not a size/],
    [{ bootWait: "10" }, /Boot wait "10" is not a duration/],
    [{ shutdownTimeout: "2 hours" }, /Shutdown timeout "2 hours" is not a duration/],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => templateVars({ ...ok, ...change }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, message);
      assert.doesNotMatch(e.message, /\.$/);
      return true;
    });
  }
});

Deno.test("declaredVariables() lists variable blocks and skips commented ones", () => {
  const hcl = [
    'variable "a" {',
    "  type = string",
    "}",
    '# variable "commented" {',
    '  variable   "b"   {',
    'locals { c = "variable \\"d\\" {" }',
  ].join("\n");
  assert.deepEqual(declaredVariables(hcl), ["a", "b"]);
});

Deno.test("every real template declares exactly the contract variables", async () => {
  const shared = Deno.readTextFileSync(variablesFile());
  const dir = await makeTmp("contract-");
  try {
    for (const id of REAL_TEMPLATE_IDS) {
      // What packer reads: the template with the shared variables file beside it.
      const declared = declaredVariables(`${templateText(id)}\n${shared}`);
      assert.deepEqual([...declared].sort(), [...TEMPLATE_VARIABLES].sort(), id);
      // packer's own reading of the prepared folder agrees with the text.
      const p = await prepareTemplate(id, `${dir}/${id}`, planFor(version("1.6.6")));
      const r = await packer(["inspect", p.dir], REPO_ROOT);
      assert.ok(r.ok, r.out);
      const inspected = [...r.out.matchAll(/^var\.([a-z_]+):/gm)].map((m) => m[1]).sort();
      assert.deepEqual(inspected, [...TEMPLATE_VARIABLES].sort(), `${id} (packer inspect)`);
      assert.match(r.out, /^var\.headless: "true"$/m, `${id}: headless defaults to true`);
    }
  } finally {
    await removeTree(dir);
  }
});

Deno.test("every real template builds qcow2 unattended with the serial log and no packer block", () => {
  for (const id of REAL_TEMPLATE_IDS) {
    const hcl = templateText(id);
    const setting = (name: string) => hcl.match(new RegExp(`^\\s*${name}\\s*=\\s*(.+)$`, "m"))?.[1];
    assert.equal(setting("format"), '"qcow2"', id);
    assert.equal(setting("http_directory"), '"${path.root}/http"', id);
    assert.equal(setting("qemuargs"), '[["-serial", "file:${var.serial_log}"]]', id);
    assert.equal(setting("communicator"), '"none"', id);
    assert.equal(setting("shutdown_timeout"), "var.shutdown_timeout", id);
    for (const v of TEMPLATE_VARIABLES) {
      if (v === "serial_log") continue;
      assert.equal(setting(v), `var.${v}`, `${id}: ${v} is passed to the builder`);
    }
    assert.doesNotMatch(hcl, /^\s*packer\s*\{/m, `${id}: no packer {} block`);
    assert.doesNotMatch(hcl, /ssh_password|ssh_username/, `${id}: no build credential`);
    assert.match(hcl, /^build \{\n {2}sources = \["source\.qemu\.[a-z_]+"\]\n\}/m, id);
  }
});

Deno.test("every boot command uses only packer's keys and template fields", () => {
  for (const id of REAL_TEMPLATE_IDS) {
    const typed = bootCommand(templateText(id));
    for (const [, key] of typed.matchAll(/<([^<>]+)>/g)) {
      const k = key.toLowerCase().replace(/^wait\d+(ms|s|m|h)?$/, "wait");
      assert.ok(KEYS.has(k), `${id}: <${key}> is not a packer boot command key`);
    }
    const fields = [...typed.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(fields)].sort(), [".HTTPIP", ".HTTPPort"], id);
    assert.match(typed, /console=ttyS0,115200n8/, `${id}: installer on the serial console`);
    // console=ttyS0 last: it becomes /dev/console, so the installer's output reaches serial_log.
    const consoles = [...typed.matchAll(/console=(\w+)/g)].map((m) => m[1]);
    assert.equal(consoles.at(-1), "ttyS0", id);
  }
});

Deno.test("boot commands match each ISO's BIOS bootloader", () => {
  // Ubuntu 22.04: GRUB command line, casper kernel, NoCloud seed with ";" escaped for GRUB.
  const ubuntu = bootCommand(templateText("ubuntu"));
  assert.match(ubuntu, /^<wait>c<wait2>linux \/casper\/vmlinuz autoinstall /);
  assert.ok(
    ubuntu.includes("ds=nocloud-net\\\\;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ "),
    ubuntu,
  );
  assert.match(ubuntu, / ---<enter><wait>initrd \/casper\/initrd<enter><wait>boot<enter>$/);
  // EL9: isolinux; up to "Install", Tab edits the kernel line, Enter boots.
  for (const id of ["almalinux", "rockylinux", "centos-stream"]) {
    const el = bootCommand(templateText(id));
    assert.match(el, /^<up><wait><tab><wait> inst\.text /, id);
    assert.match(el, /inst\.ks=http:\/\/\{\{ \.HTTPIP \}\}:\{\{ \.HTTPPort \}\}\/ks\.cfg /, id);
    assert.match(el, /<enter>$/, id);
  }
  // Fedora >= 37: GRUB 2; up to "Install", e edits, down twice to the linux line, F10 boots.
  const fedora = bootCommand(templateText("fedora"));
  assert.match(fedora, /^<up><wait>e<wait><down><down><end> inst\.text /);
  assert.match(fedora, /inst\.ks=http:\/\/\{\{ \.HTTPIP \}\}:\{\{ \.HTTPPort \}\}\/ks\.cfg /);
  assert.match(fedora, /<f10>$/);
});

Deno.test("the Ubuntu autoinstall seed is valid YAML that installs unattended and powers off", () => {
  const dir = `${REPO_ROOT}/packer/ubuntu/http`;
  const text = Deno.readTextFileSync(`${dir}/user-data`);
  assert.ok(text.startsWith("#cloud-config\n"), "cloud-init needs the #cloud-config header");
  const doc = parseYaml(text);
  const ai = doc.autoinstall;
  assert.equal(ai.version, 1);
  assert.equal(ai.shutdown, "poweroff");
  assert.equal(ai["interactive-sections"], undefined, "no question may stop the install");
  assert.equal(ai.identity, undefined, "no build credential");
  assert.equal(typeof ai["user-data"], "object", "user-data replaces identity");
  assert.equal(ai.storage.layout.name, "direct");
  assert.ok(Array.isArray(ai["late-commands"]));
  const late = ai["late-commands"].join("\n");
  assert.match(late, /GRUB_CMDLINE_LINUX_DEFAULT="console=tty0 console=ttyS0,115200n8"/);
  assert.match(late, /curtin in-target --target=\/target -- update-grub/);
  assert.ok(!/\$6\$|passw(or)?d:/i.test(text), "no password hash in the seed");
  const meta = parseYaml(Deno.readTextFileSync(`${dir}/meta-data`));
  assert.equal(typeof meta["instance-id"], "string");
});

Deno.test("every kickstart is text-mode, serial, credential-free and powers off", () => {
  for (const id of ["almalinux", "rockylinux", "centos-stream", "fedora"]) {
    const ks = Deno.readTextFileSync(`${REPO_ROOT}/packer/${id}/http/ks.cfg`);
    const commands = ks.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
    const has = (re: RegExp) => commands.some((l) => re.test(l));
    assert.ok(has(/^text$/), `${id}: text mode`);
    assert.ok(has(/^poweroff$/), `${id}: powers off (communicator none)`);
    assert.ok(has(/^cdrom$/), `${id}: installs from the DVD`);
    assert.ok(has(/^bootloader .*--append="[^"]*console=ttyS0,115200n8"/), `${id}: serial`);
    assert.ok(has(/^rootpw --iscrypted --lock locked$/), `${id}: root locked`);
    assert.ok(!has(/^user /), `${id}: no build user`);
    assert.ok(!has(/^(reboot|halt|shutdown)\b/), `${id}: one completion method`);
    assert.ok(has(/^ignoredisk --only-use=vda$/), `${id}: the virtio disk only`);
    // Sections open and close in pairs.
    const sections = commands.filter((l) => l.startsWith("%"));
    for (let i = 0; i < sections.length; i += 2) {
      assert.match(sections[i], /^%(packages|post|pre)\b/, `${id}: ${sections[i]}`);
      assert.equal(sections[i + 1], "%end", `${id}: ${sections[i]} is closed`);
    }
    const env = id === "fedora" ? "@^server-product-environment" : "@^minimal-environment";
    assert.ok(has(new RegExp(`^${env.replace(/[\^]/g, "\\^")}$`)), `${id}: ${env}`);
  }
});

Deno.test("every real template is in packer fmt's canonical form", async () => {
  for (const id of REAL_TEMPLATE_IDS) {
    const r = await packer(["fmt", "-check", "-diff", `packer/${id}/template.pkr.hcl`], REPO_ROOT);
    assert.ok(r.ok, `${id}:\n${r.out}`);
  }
});

Deno.test("templateDigestInputs() lists the template and its http files, sorted", () => {
  assert.deepEqual(templateDigestInputs("ubuntu"), [
    "packer/ubuntu/http/meta-data",
    "packer/ubuntu/http/user-data",
    "packer/ubuntu/template.pkr.hcl",
  ]);
  for (const id of ["almalinux", "rockylinux", "centos-stream", "fedora"]) {
    assert.deepEqual(templateDigestInputs(id), [
      `packer/${id}/http/ks.cfg`,
      `packer/${id}/template.pkr.hcl`,
    ]);
  }
  assert.throws(() => templateDigestInputs("../etc"), /template id/);
});

Deno.test("templateDigestInputs() picks up a file added to a template's http folder", async () => {
  const root = await makeTmp("digest-inputs-");
  try {
    await Deno.mkdir(`${root}/packer/t/http/sub`, { recursive: true });
    for (const f of ["template.pkr.hcl", "http/ks.cfg", "http/sub/extra.sh"]) {
      await Deno.writeTextFile(`${root}/packer/t/${f}`, f);
    }
    assert.deepEqual(templateDigestInputs("t", root), [
      "packer/t/http/ks.cfg",
      "packer/t/http/sub/extra.sh",
      "packer/t/template.pkr.hcl",
    ]);
  } finally {
    await removeTree(root);
  }
});

Deno.test("prepareTemplate() copies the template and the shared variables for packer 1.6 and runs nothing first", async () => {
  const dir = await makeTmp("prepare-old-");
  try {
    const p = await prepareTemplate("ubuntu", `${dir}/work`, planFor(version("1.6.6")));
    assert.equal(p.pluginsFile, null);
    assert.deepEqual(p.setup, []);
    const files = [...Deno.readDirSync(p.dir)].map((e) => e.name).sort();
    assert.deepEqual(files, ["http", "template.pkr.hcl", "variables.pkr.hcl"]);
    assert.equal(
      Deno.readTextFileSync(`${p.dir}/http/user-data`),
      Deno.readTextFileSync(`${REPO_ROOT}/packer/ubuntu/http/user-data`),
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["work"], "no leftovers");
  } finally {
    await removeTree(dir);
  }
});

Deno.test("prepareTemplate() adds plugins.pkr.hcl and packer init for packer >= 1.7", async () => {
  const dir = await makeTmp("prepare-new-");
  try {
    for (const text of ["1.7.0", "1.11.2"]) {
      const p = await prepareTemplate("fedora", `${dir}/work`, planFor(version(text)), {
        packer: "/opt/packer",
      });
      assert.equal(p.pluginsFile, `${dir}/work/plugins.pkr.hcl`);
      assert.equal(Deno.readTextFileSync(p.pluginsFile!), pluginsHcl());
      assert.deepEqual(p.setup, [["/opt/packer", "init", `${dir}/work`]]);
    }
    // Preparing again for 1.6 replaces the folder: the plugins file is gone.
    const old = await prepareTemplate("fedora", `${dir}/work`, planFor(version("1.6.6")));
    assert.deepEqual([...Deno.readDirSync(old.dir)].map((e) => e.name).sort(), [
      "http",
      "template.pkr.hcl",
      "variables.pkr.hcl",
    ]);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("packer 1.6.6 rejects a folder prepared for packer >= 1.7 (why templates have no block)", async () => {
  const dir = await makeTmp("prepare-wrong-");
  try {
    const p = await prepareTemplate("almalinux", `${dir}/work`, planFor(version("1.11.2")));
    const installed = (await packer(["--version"], dir)).out.trim();
    assert.equal(installed, "1.6.6", "this test needs Debian's packer 1.6.6");
    const r = await packer(["validate", ...templateVars(sampleVars(dir, "almalinux")), p.dir], dir);
    assert.equal(r.ok, false);
    assert.match(r.out, /Blocks of type "required_plugins" are not expected here/);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("validateTemplate() passes every real template through the folder for the installed packer", async () => {
  const dir = await makeTmp("validate-");
  try {
    for (const id of REAL_TEMPLATE_IDS) {
      const r = await validateTemplate(id, templateVars(sampleVars(dir, id)), {
        workDir: `${dir}/work-${id}`,
      });
      assert.equal(r, undefined, `${id}: ${JSON.stringify(r)}`);
      assert.equal(
        Deno.statSync(`${dir}/work-${id}/template.pkr.hcl`).isFile,
        true,
        `${id} was prepared`,
      );
    }
    // The default scratch folder is removed afterwards.
    assert.equal(
      await validateTemplate("ubuntu", templateVars(sampleVars(dir, "ubuntu"))),
      undefined,
    );
  } finally {
    await removeTree(dir);
  }
});

Deno.test("validateTemplate() fails with packer-template-invalid when a variable is off-contract", async () => {
  const dir = await makeTmp("validate-bad-");
  try {
    const vars = templateVars(sampleVars(dir, "rockylinux"));
    const extra = await validateTemplate("rockylinux", [...vars, "-var", "ssh_password=x"], {
      workDir: `${dir}/w1`,
    });
    assert.ok(extra && "reason" in extra);
    assert.equal(extra.reason, "packer-template-invalid");
    assert.match(extra.message, /^Template "rockylinux" is invalid for packer 1\.6\.6: /);
    assert.match(extra.message, /Undefined -var variable: A "ssh_password" variable was passed/);
    assert.doesNotMatch(extra.message, /\n/);
    // Leaving out a variable without a default fails too.
    const missing = await validateTemplate("rockylinux", vars.slice(2), { workDir: `${dir}/w2` });
    assert.ok(missing && "reason" in missing);
    assert.match(missing.message, /Unset variable "iso_url"/);
  } finally {
    await removeTree(dir);
  }
});

Deno.test("packerError() joins packer's wrapped error paragraph into one line", () => {
  const out = 'Error: Undefined -var variable\n\nA "y" variable was passed in the command line\n' +
    "but was not found.\n\n";
  assert.equal(
    packerError(out),
    'Undefined -var variable: A "y" variable was passed in the command line but was not found.',
  );
  const located =
    "Error: Unsupported argument\n\n  on t.pkr.hcl line 19:\n  (source code not available)\n\n" +
    'An argument named "bogus" is not expected here.\n';
  assert.equal(
    packerError(located),
    'Unsupported argument: An argument named "bogus" is not expected here.',
  );
  assert.equal(packerError("one\ntwo\n"), "one two");
  assert.equal(packerError(""), "no output");
});
