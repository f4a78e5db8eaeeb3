/**
 * Tells whether a folder lives on a copy-on-write filesystem, where `Deno.copyFile` is a reflink
 * (Linux `copy_file_range` clones on btrfs, XFS and bcachefs; macOS clones on APFS) and so
 * restoring a large file costs no more than linking it, without sharing its bytes.
 *
 * @module
 */

const COW_TYPES = new Set(["btrfs", "xfs", "bcachefs", "zfs", "ocfs2"]);

function unescapeMount(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** The filesystem type of the mount holding `dir` (Linux: from `/proc/self/mountinfo`). */
export function filesystemType(dir: string): string | null {
  if (Deno.build.os === "darwin") return "apfs";
  let info: string;
  try {
    info = Deno.readTextFileSync("/proc/self/mountinfo");
  } catch {
    return null;
  }
  let real = dir;
  try {
    real = Deno.realPathSync(dir);
  } catch { /* not created yet: use as given */ }
  let best = "", type: string | null = null;
  for (const line of info.split("\n")) {
    const parts = line.split(" ");
    const sep = parts.indexOf("-");
    if (sep < 0) continue;
    const mount = unescapeMount(parts[4]);
    const inside = real === mount || real.startsWith(mount === "/" ? "/" : mount + "/");
    if (inside && mount.length >= best.length) {
      best = mount;
      type = parts[sep + 1];
    }
  }
  return type;
}

/** True when copies inside `dir` are reflinks. */
export function copyOnWriteFilesystem(dir: string): boolean {
  const t = filesystemType(dir);
  return t === "apfs" || (t !== null && COW_TYPES.has(t));
}
