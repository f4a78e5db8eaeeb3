/**
 * The two documents every Debian package must ship in `/usr/share/doc/<name>/` (lintian reports
 * their absence as errors): a `copyright` file in the machine-readable format (DEP-5) and a
 * gzipped changelog in Debian's format, `changelog.Debian.gz` for a version with a revision,
 * `changelog.gz` for a native one. Written from the spec unless it names files to ship instead.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";
import type { DebSpecFields } from "./spec_schema.ts";

/** License names whose text Debian ships in `/usr/share/common-licenses`, and that file's name. */
const COMMON_LICENSES: Record<string, string> = {
  "Apache-2.0": "Apache-2.0",
  "Artistic": "Artistic",
  "BSD": "BSD",
  "CC0-1.0": "CC0-1.0",
  "GFDL-1.2": "GFDL-1.2",
  "GFDL-1.2+": "GFDL-1.2",
  "GFDL-1.3": "GFDL-1.3",
  "GFDL-1.3+": "GFDL-1.3",
  "GPL-1": "GPL-1",
  "GPL-1+": "GPL-1",
  "GPL-2": "GPL-2",
  "GPL-2+": "GPL-2",
  "GPL-3": "GPL-3",
  "GPL-3+": "GPL-3",
  "LGPL-2": "LGPL-2",
  "LGPL-2+": "LGPL-2",
  "LGPL-2.1": "LGPL-2.1",
  "LGPL-2.1+": "LGPL-2.1",
  "LGPL-3": "LGPL-3",
  "LGPL-3+": "LGPL-3",
  "MPL-1.1": "MPL-1.1",
  "MPL-2.0": "MPL-2.0",
};

/** The MIT (Expat) license text, which Debian does not ship in common-licenses. */
const EXPAT = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`;

/** Text as a control-file continuation: each line indented by one space, blank lines ` .`. */
function indentBlock(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").split("\n").map((l) => l.trimEnd());
  while (lines.length > 0 && lines[0] === "") lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l === "" ? " ." : ` ${l}`)).join("\n");
}

/**
 * The DEP-5 `copyright` file for `spec.copyright` (which has `holder` and `license` when it has
 * no `file`). `licenseText` is the content of `license_file`, when the spec names one; the years
 * default to the year of `epoch` (lintian wants a year in the notice). Returns a
 * `deb-spec-invalid` {@link Failure} (message after `where`) when the license has no known text.
 *
 * @example
 * ```ts
 * copyrightText(spec, null, "Package spec \"kiln.deb.yaml\" line 30", 1700000000);
 * ```
 */
export function copyrightText(
  spec: DebSpecFields,
  licenseText: string | null,
  where: string,
  epoch: number,
): string | Failure {
  const c = spec.copyright;
  const license = c.license ?? "";
  const common = COMMON_LICENSES[license];
  const body = licenseText !== null ? indentBlock(licenseText) : common
    ? indentBlock(
      `On Debian systems, the complete text of the ${license} license can be found in\n` +
        `"/usr/share/common-licenses/${common}".`,
    )
    : license === "MIT" || license === "Expat"
    ? indentBlock(EXPAT)
    : null;
  if (body === null) {
    return failure(
      "deb-spec-invalid",
      `${where}: key "copyright.license_file" is missing: license ${
        JSON.stringify(license)
      } is not in /usr/share/common-licenses; name the license text with license_file: and rerun`,
    );
  }
  const header = [
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    `Upstream-Name: ${spec.name}`,
    ...(spec.homepage ? [`Source: ${spec.homepage}`] : []),
  ];
  const files = [
    "Files: *",
    `Copyright: ${c.years ?? new Date(epoch * 1000).getUTCFullYear()} ${c.holder}`,
    `License: ${license}`,
    body,
  ];
  return `${header.join("\n")}\n\n${files.join("\n")}\n`;
}

/** Whether `version` has a Debian revision (`1.2-1`) rather than being native (`1.2`). */
export function hasRevision(version: string): boolean {
  return version.replace(/^\d+:/, "").includes("-");
}

/** Where the changelog goes: `changelog.Debian.gz` with a revision, else `changelog.gz`. */
export function changelogPath(spec: Pick<DebSpecFields, "name" | "version">): string {
  const file = hasRevision(spec.version) ? "changelog.Debian.gz" : "changelog.gz";
  return `usr/share/doc/${spec.name}/${file}`;
}

/** `epoch` (seconds) as an RFC 2822 date in UTC, the form Debian changelogs use. */
export function rfc2822(epoch: number): string {
  const d = new Date(epoch * 1000);
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ];
  const p = (n: number) => String(n).padStart(2, "0");
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${
    months[d.getUTCMonth()]
  } ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${
    p(d.getUTCSeconds())
  } +0000`;
}

/**
 * A one-entry Debian changelog for a package built without one, dated `epoch`.
 *
 * @example
 * ```ts
 * changelogText({ name: "kiln", version: "1.2.3-1", maintainer: "A <a@b.org>" }, 1700000000);
 * ```
 */
export function changelogText(
  spec: Pick<DebSpecFields, "name" | "version" | "maintainer">,
  epoch: number,
): string {
  return `${spec.name} (${spec.version}) unstable; urgency=medium\n\n` +
    `  * Release ${spec.version}.\n\n` +
    ` -- ${spec.maintainer}  ${rfc2822(epoch)}\n`;
}
