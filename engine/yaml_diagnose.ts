/**
 * Why a YAML task file is invalid, as one line naming the file, the line and the key path. Only
 * loaded when the fast parse fails: the `yaml` package, whose document model knows where every
 * node sits, costs about 50 ms to load, more than parsing a valid file.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type YAMLError,
} from "yaml";
import { z } from "zod";
import { ConfigError } from "./failure.ts";
import {
  describe,
  expectation,
  formatPath,
  kindOf,
  unknownKeyMessage,
  valueAt,
} from "./yaml_hints.ts";
import {
  fileSchema,
  type Path,
  type Problem,
  referenceProblem,
  TASK_KEYS,
  toDecls,
  TOP_KEYS,
  type YamlTasks,
} from "./yaml_schema.ts";

/** Source offset of the deepest node along `path` that exists (a key, else a list item). */
function locateIn(doc: Document, path: Path): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents?.range?.[0]) ?? 0;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
      const item = node.items[seg] as { range?: [number, number, number] };
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}

/** YAML-level problems zod cannot see: duplicate keys, complex keys, unresolved aliases. */
function structuralProblem(doc: Document): Problem | null {
  const walk = (node: unknown, path: Path): Problem | null => {
    if (isAlias(node)) {
      if (node.resolve(doc) === undefined) {
        return {
          offset: node.range?.[0] ?? 0,
          path,
          message: `unknown alias *${node.source}; define &${node.source} before using it`,
        };
      }
      return null;
    }
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const keyNode = pair.key as { range?: [number, number, number] } | null;
        const offset = keyNode?.range?.[0] ?? node.range?.[0] ?? 0;
        if (
          !isScalar(pair.key) || (pair.key.value !== null && typeof pair.key.value === "object")
        ) {
          return { offset, path, message: "keys must be plain names; write name: value" };
        }
        const key = String(pair.key.value);
        if (seen.has(key)) {
          return {
            offset,
            path: [...path, key],
            message: `duplicate key ${JSON.stringify(key)}; remove or rename one of them`,
          };
        }
        seen.add(key);
        const bad = walk(pair.value, [...path, key]);
        if (bad) return bad;
      }
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) {
        const bad = walk(item, [...path, i]);
        if (bad) return bad;
      }
    }
    return null;
  };
  return walk(doc.contents, []);
}

function syntaxMessage(e: YAMLError, lc: LineCounter): string {
  const col = lc.linePos(e.pos[0]).col;
  const what = e.message.replace(/\s+/g, " ").replace(/[.;]\s.*$|\.$/, "").trim();
  const hint: Partial<Record<YAMLError["code"], string>> = {
    TAB_AS_INDENT: "indent with spaces, not tabs",
    MULTIPLE_DOCS: "keep one document per file and remove the --- line",
    BAD_INDENT: "check the indentation and closing brackets",
    MISSING_CHAR: "add the missing character",
    MULTILINE_IMPLICIT_KEY: "put each key and its colon on one line",
    BAD_DQ_ESCAPE: `use single quotes or escape the backslash as \\\\`,
  };
  const message = e.code === "MULTIPLE_DOCS" ? "more than one YAML document" : what;
  return `invalid YAML at column ${col}: ${message.charAt(0).toLowerCase()}${message.slice(1)}; ${
    hint[e.code] ?? "fix the syntax here"
  }`;
}

/** The problem zod reported that comes first in the file. */
function schemaProblem(doc: Document, raw: unknown, issues: z.ZodIssue[]): Problem {
  const problems = issues.map((issue): Problem => {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      const key = issue.keys[0];
      const path = [...issue.path, key];
      const known = issue.path.length === 0
        ? TOP_KEYS
        : issue.path.length === 2
        ? TASK_KEYS
        : ["name", "args"];
      return {
        offset: locateIn(doc, path),
        path,
        message: unknownKeyMessage(key, known),
        typo: true,
      };
    }
    const got = valueAt(raw, issue.path);
    const key = issue.path[issue.path.length - 1];
    if (got === undefined && issue.path.length > 0) {
      const parent = issue.path.slice(0, -1);
      const fix = key === "cmd"
        ? "add the command to run, e.g. cmd: make"
        : key === "tasks"
        ? "add a tasks: map with one entry per task"
        : key === "name"
        ? "add the tool's name, e.g. name: gcc"
        : `add ${String(key)}:`;
      return {
        offset: locateIn(doc, parent),
        path: parent,
        message: `missing ${String(key)}; ${fix}`,
        missing: true,
      };
    }
    const { expected, fix } = expectation(issue.path, got);
    const listField = issue.path.length === 3 && typeof got !== "object" &&
      expected.startsWith("a list");
    return {
      offset: locateIn(doc, issue.path),
      path: issue.path,
      message: `expected ${expected}, got ${listField ? kindOf(got) : describe(got)}; ${fix}`,
    };
  });
  const typoIn = new Set(
    problems.filter((p) => p.typo).map((p) => JSON.stringify(p.path.slice(0, -1))),
  );
  const useful = problems.filter((p) => !(p.missing && typoIn.has(JSON.stringify(p.path))));
  return useful.reduce((a, b) => (b.offset < a.offset ? b : a));
}

/**
 * Parses `source` with the `yaml` document model and throws the {@link ConfigError} for its first
 * problem (syntax, structure, schema or references, whichever comes first in the file). Returns
 * the tasks if it finds none, which happens only when the fast parser rejected what `yaml` accepts.
 */
export function diagnoseYaml(source: string, file: string): YamlTasks {
  const lc = new LineCounter();
  const fail = (p: Problem): never => {
    const where = p.path.length ? `${formatPath(p.path)}: ` : "";
    throw new ConfigError(`${file}:${lc.linePos(p.offset).line}: ${where}${p.message}`);
  };
  const doc = parseDocument(source, {
    lineCounter: lc,
    prettyErrors: false,
    uniqueKeys: false, // reported below, with the key path
  });
  const syntax = doc.errors[0];
  if (syntax) {
    throw new ConfigError(
      `${file}:${lc.linePos(syntax.pos[0]).line}: ${syntaxMessage(syntax, lc)}`,
    );
  }
  if (doc.contents === null) {
    fail({ offset: 0, path: [], message: "the file declares no tasks; add a tasks: map" });
  }
  const structural = structuralProblem(doc);
  if (structural) fail(structural);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    fail({
      offset: 0,
      path: [],
      message: `cannot read the YAML (${
        e instanceof Error ? e.message : String(e)
      }); remove aliases that expand too much`,
    });
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) fail(schemaProblem(doc, raw, result.error.issues));
  const parsed = result.data!;
  const ref = referenceProblem(parsed, (path) => locateIn(doc, path));
  if (ref) fail(ref);
  return toDecls(parsed);
}
