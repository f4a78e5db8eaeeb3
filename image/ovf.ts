/**
 * The OVF 1.0 descriptor and manifest of an OVA: pure text, so every byte can be checked without
 * building one.
 *
 * An OVA is a tar of an OVF package (DMTF DSP0243 1.0): the `.ovf` descriptor first, then the
 * files in the order of its References (here one `.vmdk`), then the `.mf` manifest. The
 * descriptor declares one VirtualSystem with its CPUs, memory, an IDE controller holding the disk
 * and one NAT-style network card; IDE and E1000 are what every hypervisor that imports OVAs
 * (VirtualBox, VMware, Proxmox, oVirt) emulates and every Linux kernel drives. The manifest uses
 * SHA256 lines (`SHA256(file)= hex`): OVF 1.0 names only SHA1, but VirtualBox and VMware's
 * ovftool accept SHA256, and SHA1 no longer proves anything.
 *
 * @module
 */

/** What the descriptor says about the machine and its disk. */
export interface OvfSpec {
  /** Name of the virtual system (the VM name shown on import), e.g. `ubuntu-22.04`. */
  readonly name: string;
  readonly cpus: number;
  readonly memoryMiB: number;
  /** CIM operating system type ({@link CIM_OS_TYPES}); default 101, "Linux 2.6.x 64-Bit". */
  readonly osType?: number;
  readonly disk: {
    /** File name of the disk inside the OVA, e.g. `ubuntu-22.04.vmdk`. */
    readonly file: string;
    /** Bytes of that file. */
    readonly fileSize: number;
    /** Virtual size of the disk, bytes. */
    readonly capacity: number;
    /** Bytes of the disk that hold data (allocated, not zero). */
    readonly populatedSize: number;
  };
}

/**
 * CIM_OperatingSystem.OsType values (DMTF CIM schema) for kiln's distributions: importers pick a
 * guest profile from them. Fedora and the demo have no value of their own: 101 is "Linux 2.6.x
 * 64-Bit".
 */
export const CIM_OS_TYPES: Readonly<Record<string, number>> = {
  ubuntu: 94,
  almalinux: 80,
  rockylinux: 80,
  "centos-stream": 107,
  fedora: 101,
  demo: 101,
};

/** The streamOptimized VMDK format URI that OVF importers expect for a compressed disk. */
export const VMDK_STREAM_FORMAT =
  "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized";

/** Escapes text for an XML attribute or element (`&`, `<`, `>`, `"`, `'`). */
export function xmlEscape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

function positiveInteger(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`OVF ${name} ${n} is not a byte count`);
}

/** A `<Item>` of the hardware section; rasd elements must come in the schema's (alphabetical) order. */
function item(fields: [string, string | number][]): string {
  const sorted = [...fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const body = sorted.map(([k, v]) => `        <rasd:${k}>${xmlEscape(String(v))}</rasd:${k}>`);
  return ["      <Item>", ...body, "      </Item>"].join("\n");
}

/**
 * The OVF 1.0 descriptor for `spec`.
 *
 * @example
 * ```ts
 * const xml = ovfDescriptor({
 *   name: "demo", cpus: 2, memoryMiB: 1024,
 *   disk: { file: "demo.vmdk", fileSize: 123, capacity: 1 << 30, populatedSize: 4096 },
 * });
 * ```
 */
export function ovfDescriptor(spec: OvfSpec): string {
  const { disk } = spec;
  for (const [k, v] of Object.entries(disk)) if (k !== "file") positiveInteger(k, v as number);
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1) throw new Error(`OVF cpus ${spec.cpus}`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 1) {
    throw new Error(`OVF memory ${spec.memoryMiB}`);
  }
  const name = xmlEscape(spec.name);
  const os = spec.osType ?? 101;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<Envelope ovf:version="1.0" xml:lang="en-US"` +
    ` xmlns="http://schemas.dmtf.org/ovf/envelope/1"` +
    ` xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"` +
    ` xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"` +
    ` xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"` +
    ` xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`,
    `  <References>`,
    `    <File ovf:id="file1" ovf:href="${xmlEscape(disk.file)}" ovf:size="${disk.fileSize}"/>`,
    `  </References>`,
    `  <DiskSection>`,
    `    <Info>Virtual disk information</Info>`,
    `    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="${disk.capacity}"` +
    ` ovf:capacityAllocationUnits="byte" ovf:populatedSize="${disk.populatedSize}"` +
    ` ovf:format="${VMDK_STREAM_FORMAT}"/>`,
    `  </DiskSection>`,
    `  <NetworkSection>`,
    `    <Info>The list of logical networks</Info>`,
    `    <Network ovf:name="NAT">`,
    `      <Description>The NAT network</Description>`,
    `    </Network>`,
    `  </NetworkSection>`,
    `  <VirtualSystem ovf:id="${name}">`,
    `    <Info>A virtual machine</Info>`,
    `    <Name>${name}</Name>`,
    `    <OperatingSystemSection ovf:id="${os}">`,
    `      <Info>The kind of installed guest operating system</Info>`,
    `    </OperatingSystemSection>`,
    `    <VirtualHardwareSection>`,
    `      <Info>Virtual hardware requirements</Info>`,
    `      <System>`,
    `        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>`,
    `        <vssd:InstanceID>0</vssd:InstanceID>`,
    `        <vssd:VirtualSystemIdentifier>${name}</vssd:VirtualSystemIdentifier>`,
    `        <vssd:VirtualSystemType>vmx-10</vssd:VirtualSystemType>`,
    `      </System>`,
    item([
      ["AllocationUnits", "hertz * 10^6"],
      ["Description", "Number of virtual CPUs"],
      ["ElementName", `${spec.cpus} virtual CPU(s)`],
      ["InstanceID", 1],
      ["ResourceType", 3],
      ["VirtualQuantity", spec.cpus],
    ]),
    item([
      ["AllocationUnits", "byte * 2^20"],
      ["Description", "Memory size"],
      ["ElementName", `${spec.memoryMiB} MB of memory`],
      ["InstanceID", 2],
      ["ResourceType", 4],
      ["VirtualQuantity", spec.memoryMiB],
    ]),
    item([
      ["Address", 0],
      ["Description", "IDE controller"],
      ["ElementName", "ideController0"],
      ["InstanceID", 3],
      ["ResourceSubType", "PIIX4"],
      ["ResourceType", 5],
    ]),
    item([
      ["AddressOnParent", 0],
      ["ElementName", "disk0"],
      ["HostResource", "ovf:/disk/vmdisk1"],
      ["InstanceID", 4],
      ["Parent", 3],
      ["ResourceType", 17],
    ]),
    item([
      ["AutomaticAllocation", "true"],
      ["Connection", "NAT"],
      ["ElementName", "ethernet0"],
      ["InstanceID", 5],
      ["ResourceSubType", "E1000"],
      ["ResourceType", 10],
    ]),
    `    </VirtualHardwareSection>`,
    `  </VirtualSystem>`,
    `</Envelope>`,
    ``,
  ].join("\n");
}

/** One manifest line's input: a file of the package and its SHA-256 (hex). */
export interface ManifestEntry {
  readonly name: string;
  readonly sha256: string;
}

/**
 * The `.mf` manifest: `SHA256(<name>)= <hex>` per file, in the given (package) order.
 *
 * @example
 * ```ts
 * ovfManifest([{ name: "demo.ovf", sha256: "ab…" }]); // "SHA256(demo.ovf)= ab…\n"
 * ```
 */
export function ovfManifest(entries: readonly ManifestEntry[]): string {
  return entries.map((e) => {
    if (!/^[0-9a-f]{64}$/.test(e.sha256)) throw new Error(`bad SHA-256 for ${e.name}: ${e.sha256}`);
    if (/[\n()]/.test(e.name)) throw new Error(`file name ${JSON.stringify(e.name)} in manifest`);
    return `SHA256(${e.name})= ${e.sha256}\n`;
  }).join("");
}
