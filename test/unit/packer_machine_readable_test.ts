import assert from "node:assert/strict";
import {
  MachineReadableParser,
  type PackerEvent,
  parseMachineLine,
  unescapeField,
} from "../../packer/machine_readable.ts";

// Captured from `packer build -machine-readable` 1.6.6 on this machine building
// packer/demo/template.pkr.hcl (paths shortened). String.raw: packer writes "\n" as two characters.
const SUCCESS = String.raw`1795248467,,ui,say,==> qemu.demo: Retrieving ISO
1795248467,,ui,say,==> qemu.demo: Trying /w/demo.iso
1795248468,,ui,message,    qemu.demo: No communicator is set; skipping port forwarding setup.
1795248468,,ui,say,==> qemu.demo: Starting VM%!(PACKER_COMMA) booting from CD-ROM
1795248468,,ui,message,    qemu.demo: The VM will be run headless%!(PACKER_COMMA) without a GUI. If you want to\n    qemu.demo: view the screen of the VM%!(PACKER_COMMA) connect via VNC without a password to\n    qemu.demo: vnc://127.0.0.1:73
1795248468,,ui,say,==> qemu.demo: Overriding default Qemu arguments with qemuargs template option...
1795248471,,ui,say,==> qemu.demo: Waiting for shutdown...
1795248482,,ui,say,==> qemu.demo: Converting hard drive...
1795248482,,ui,say,Build 'qemu.demo' finished after 14 seconds 914 milliseconds.
1795248482,,ui,say,\n==> Wait completed after 14 seconds 914 milliseconds
1795248482,,ui,say,\n==> Builds finished. The artifacts of successful builds are:
1795248482,qemu.demo,artifact-count,1
1795248482,qemu.demo,artifact,0,builder-id,transcend.qemu
1795248482,qemu.demo,artifact,0,id,VM
1795248482,qemu.demo,artifact,0,string,VM files in directory: /w/out
1795248482,qemu.demo,artifact,0,files-count,1
1795248482,qemu.demo,artifact,0,file,0,/w/out/demo.qcow2
1795248482,qemu.demo,artifact,0,end
1795248482,,ui,say,--> qemu.demo: VM files in directory: /w/out
`;

const BAD_CHECKSUM = String.raw`1795248485,,ui,say,==> qemu.demo: Retrieving ISO
1795248485,,ui,say,==> qemu.demo: Trying /w/demo.iso
1795248485,,ui,say,==> qemu.demo: Checksum did not match%!(PACKER_COMMA) removing /w/packer_cache/8b30.iso
1795248485,,ui,error,==> qemu.demo: Failed to remove cache file. Please remove manually: /w/packer_cache/8b30.iso
1795248485,,ui,error,==> qemu.demo: error downloading ISO: [Checksums did not match for /w/demo.iso.\n==> qemu.demo: Expected: 0000\n==> qemu.demo: Got: d18a\n==> qemu.demo: *sha256.digest]
1795248485,,ui,error,Build 'qemu.demo' errored after 34 milliseconds 736 microseconds: error downloading ISO: [Checksums did not match for /w/demo.iso.\nExpected: 0000\nGot: d18a\n*sha256.digest]
1795248485,,ui,say,\n==> Wait completed after 34 milliseconds 897 microseconds
1795248485,,error-count,1
1795248485,,ui,error,\n==> Some builds didn't complete successfully and had errors:
1795248485,qemu.demo,error,error downloading ISO: [Checksums did not match for /w/demo.iso.\nExpected: 0000\nGot: d18a\n*sha256.digest]
1795248485,,ui,error,--> qemu.demo: error downloading ISO: [Checksums did not match for /w/demo.iso.\nExpected: 0000\nGot: d18a\n*sha256.digest]
1795248485,,ui,say,\n==> Builds finished but no artifacts were created.
`;

Deno.test("unescapeField() restores commas and newlines", () => {
  assert.equal(unescapeField(String.raw`a%!(PACKER_COMMA) b\nc`), "a, b\nc");
});

Deno.test("parseMachineLine() splits fields and unescapes each when the line is machine-readable", () => {
  assert.deepEqual(parseMachineLine("1795248482,qemu.demo,artifact,0,file,0,/w/out/demo.qcow2"), {
    time: 1795248482,
    target: "qemu.demo",
    type: "artifact",
    data: ["0", "file", "0", "/w/out/demo.qcow2"],
  });
  assert.deepEqual(parseMachineLine("1795248486,,version-prelease,"), {
    time: 1795248486,
    target: "",
    type: "version-prelease",
    data: [""],
  });
  assert.equal(parseMachineLine("panic: runtime error"), null);
  assert.equal(parseMachineLine("==> qemu.demo: not machine readable"), null);
});

Deno.test("MachineReadableParser.push() reports steps, messages and the artifact of a build", () => {
  const p = new MachineReadableParser();
  const events = p.push(SUCCESS);
  const steps = events.filter((e) => e.kind === "step").map((e) => e.text);
  assert.deepEqual(steps, [
    "Retrieving ISO",
    "Trying /w/demo.iso",
    "Starting VM, booting from CD-ROM",
    "Overriding default Qemu arguments with qemuargs template option...",
    "Waiting for shutdown...",
    "Converting hard drive...",
  ]);
  assert.equal(p.step, "Converting hard drive...");
  const headless = events.find((e) => e.kind === "message" && e.text.includes("headless"));
  assert.equal(
    headless?.kind === "message" && headless.text.split("\n")[1],
    "    qemu.demo: view the screen of the VM, connect via VNC without a password to",
  );
  assert.ok(events.some((e) => e.kind === "message" && e.text.startsWith("==> Wait completed")));
  assert.deepEqual(p.artifacts, [{
    target: "qemu.demo",
    index: 0,
    builderId: "transcend.qemu",
    id: "VM",
    files: ["/w/out/demo.qcow2"],
  }]);
  assert.equal(events.filter((e) => e.kind === "artifact").length, 1);
  assert.deepEqual(p.errors, []);
  assert.equal(p.lastError(), null);
});

Deno.test("MachineReadableParser.push() gives the same events whatever the chunk boundaries", () => {
  const whole = new MachineReadableParser().push(BAD_CHECKSUM);
  const p = new MachineReadableParser();
  const chunked: PackerEvent[] = [];
  for (let i = 0; i < BAD_CHECKSUM.length; i += 7) {
    chunked.push(...p.push(BAD_CHECKSUM.slice(i, i + 7)));
  }
  chunked.push(...p.end());
  assert.deepEqual(chunked, whole);
  assert.ok(whole.length > 10);
});

Deno.test("MachineReadableParser.lastError() gives the build's own error on one line when it fails", () => {
  const p = new MachineReadableParser();
  const events = p.push(BAD_CHECKSUM);
  assert.deepEqual(p.artifacts, []);
  assert.equal(events.filter((e) => e.kind === "error" && e.final).length, 1);
  assert.equal(p.errors.length, 6);
  assert.equal(
    p.lastError(),
    "error downloading ISO: [Checksums did not match for /w/demo.iso. Expected: 0000 Got: d18a " +
      "*sha256.digest]",
  );
});

Deno.test("MachineReadableParser.lastError() falls back to ui errors, then raw lines, when no build ran", () => {
  const p = new MachineReadableParser();
  p.push(
    String
      .raw`1795248486,,ui,error,Error: Unset variable "vm_name"\n\nA used variable must be set or have a default value` +
      "\n",
  );
  assert.equal(
    p.lastError(),
    'Error: Unset variable "vm_name" A used variable must be set or have a default value',
  );
  const raw = new MachineReadableParser();
  const ev = raw.push("some stderr text\npanic: boom");
  assert.deepEqual(ev, [{ kind: "raw", text: "some stderr text" }]);
  assert.deepEqual(raw.end(), [{ kind: "raw", text: "panic: boom" }]);
  assert.equal(raw.lastError(), "panic: boom");
});

Deno.test("MachineReadableParser collects several files and artifacts by target and index", () => {
  const p = new MachineReadableParser();
  p.push(
    [
      "1,qemu.a,artifact,0,files-count,2",
      "1,qemu.a,artifact,0,file,0,/o/a%!(PACKER_COMMA)1.qcow2",
      "1,qemu.b,artifact,0,file,0,/o/b.qcow2",
      "1,qemu.a,artifact,0,file,1,/o/a.json",
      "1,qemu.a,artifact,0,end",
      "1,qemu.b,artifact,0,end",
      "",
    ].join("\n"),
  );
  assert.deepEqual(p.artifacts.map((a) => [a.target, a.files]), [
    ["qemu.a", ["/o/a,1.qcow2", "/o/a.json"]],
    ["qemu.b", ["/o/b.qcow2"]],
  ]);
});
