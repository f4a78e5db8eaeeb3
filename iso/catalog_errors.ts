/**
 * Wording and locating catalog errors: turns a zod issue into one `key.path: what is wrong; how
 * to fix it` message, and finds the line it belongs to in the YAML source. Kept apart from
 * `catalog.ts` because a message people can act on takes more code than loading the file does.
 *
 * @module
 */

import type { z } from "zod";
import { describe, unknownKeyMessage, valueAt } from "../engine/yaml_hints.ts";
export { locate, SYNTAX_FIX } from "../engine/yaml_spec.ts";
import { catalogSchema, entrySchema, signatureSchema } from "./catalog_schema.ts";

/** A key path into the catalog, e.g. `["distros", "fedora", "iso", "urls", 0]`. */
export type Path = (string | number)[];

/** The keys allowed in the map at `path` (for "unknown key" hints). */
function knownKeys(path: Path, raw: unknown): string[] {
  if (path.length === 0) return Object.keys(catalogSchema.shape);
  if (path.length === 2) return Object.keys(entrySchema.innerType().shape);
  const field = path[2];
  if (field === "signature") {
    const kind = valueAt(raw, [...path, "kind"]);
    const option = signatureSchema.optionsMap.get(kind as "none");
    return option ? Object.keys(option.shape) : ["kind"];
  }
  const shape = entrySchema.innerType().shape[field as "iso"];
  return shape && "shape" in shape ? Object.keys(shape.shape) : [];
}

/** What to suggest for a missing key. */
const EXAMPLES: Record<string, string> = {
  format: "gnu, bsd or auto",
  encoding: "armored or binary",
  kind: "detached, clearsign or none",
  clearsigned: "true or false",
  arch: "x86_64",
  urls: "[https://...]",
  fingerprints: '["<40 hex digits>"]',
  packer: "packer/<id>",
};

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : describe(v);
}

/** The problem of one zod issue: where it is and what to say. */
export function problem(
  issue: z.ZodIssue,
  raw: unknown,
  source: (p: Path) => string | null,
): { path: Path; message: string; typo?: boolean; missing?: boolean } {
  const path = issue.path;
  // zod reports a bad distro id at the id's path: what was written is the key itself.
  const got = issue.code === "invalid_string" && path.length === 2 ? path[1] : valueAt(raw, path);
  const key = String(path[path.length - 1]);
  switch (issue.code) {
    case "unrecognized_keys": {
      const at = [...path, issue.keys[0]];
      return {
        path: at,
        message: unknownKeyMessage(issue.keys[0], knownKeys(path, raw)),
        typo: true,
      };
    }
    case "invalid_type": {
      if (got === undefined) {
        const values = EXAMPLES[key] ? ` ${EXAMPLES[key]}` : "";
        return {
          path: path.slice(0, -1),
          message: `missing ${key}; add ${key}:${values}`,
          missing: true,
        };
      }
      const what: Record<string, string> = {
        string: "a string",
        boolean: "true or false",
        array: "a list",
        object: "a map",
      };
      const written = source(path) ?? String(got);
      const fix = path.length === 0
        ? "start the file with distros:"
        : issue.expected === "string" && typeof got !== "object"
        ? `quote it: "${written}"`
        : issue.expected === "array" && typeof got === "string"
        ? `write it as a list: [${written}]`
        : `write ${what[issue.expected] ?? issue.expected} here`;
      return {
        path,
        message: `expected ${what[issue.expected] ?? issue.expected}, got ${
          typeof got === "number" ? `the number ${written}` : describe(got)
        }; ${fix}`,
      };
    }
    case "invalid_enum_value":
      return {
        path,
        message: `expected one of ${issue.options.join(", ")}, got ${show(got)}; write one of them`,
      };
    case "invalid_union_discriminator":
      return {
        path,
        message: `expected one of ${issue.options.join(", ")}, got ${show(got)}; write one of them`,
      };
    case "invalid_string": {
      const [expected, fix] = issue.message.split("|");
      return { path, message: `${expected}, got ${show(got)}${fix ? `; ${fix}` : ""}` };
    }
    default:
      return { path, message: issue.message };
  }
}
