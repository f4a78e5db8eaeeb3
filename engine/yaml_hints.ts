/**
 * The words of YAML task-file errors: key paths, what a value is, what was expected there and how
 * to fix it, and "did you mean" for unknown keys. Pure functions, used by `yaml_diagnose.ts`.
 *
 * @module
 */

import type { Path } from "./yaml_schema.ts";

/** `tasks.t1.deps[0]`; keys that are not plain words are quoted: `tasks["iso/build"]`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A short description of what the user wrote, for `expected X, got Y`. */
export function describe(v: unknown): string {
  if (v === undefined || v === null) return "nothing";
  if (typeof v === "string") {
    if (v === "") return "an empty string";
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
  }
  if (typeof v === "number") return Number.isFinite(v) ? `the number ${v}` : `${v}`;
  if (typeof v === "boolean") return `${v}`;
  if (Array.isArray(v)) return "a list";
  if (v instanceof Uint8Array) return "binary data";
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) return "a map";
  return `a ${typeof v}`;
}

/** Short form for list hints: `got a string` reads better than the whole command. */
export function kindOf(v: unknown): string {
  if (typeof v === "string") return "a string";
  if (typeof v === "number") return "a number";
  return describe(v);
}

export function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** Renders a scalar the way the user would write it in YAML flow style. */
export function yamlish(v: unknown): string {
  if (typeof v === "string") return /^[A-Za-z0-9_./*-]+$/.test(v) ? v : JSON.stringify(v);
  return String(v);
}

/** The expectation and the fix for the value at `path`, derived from where it sits. */
export function expectation(path: Path, got: unknown): { expected: string; fix: string } {
  const key = path[path.length - 1];
  const [top, , field, , sub] = path;
  const asList = (what: string, example: string) => ({
    expected: `a list of ${what}`,
    fix: typeof got === "string" || typeof got === "number"
      ? `write ${key}: [${yamlish(got)}]`
      : `write ${key}: [${example}]`,
  });
  const quote = (what: string, example: string) => ({
    expected: what,
    fix: typeof got === "number" || typeof got === "boolean"
      ? `quote it: "${got}"`
      : `write ${example}`,
  });
  if (path.length === 0) return { expected: "a map with a tasks: key", fix: "start with tasks:" };
  if (top === "pools") {
    if (path.length === 1) {
      return { expected: "a map of pool names to sizes", fix: "write pools: { vm: 1 }" };
    }
    return {
      expected: "a positive whole number",
      fix: `write ${key}: 1 or more (how many of its tasks may run at once)`,
    };
  }
  if (path.length === 1) {
    return { expected: "a map of task ids to tasks", fix: "indent each task id under tasks:" };
  }
  if (path.length === 2) {
    return {
      expected: "a task (a map with at least cmd)",
      fix: typeof got === "string"
        ? `write ${key}: { cmd: ${yamlish(got)} }`
        : "indent cmd: under the task id",
    };
  }
  if (path.length === 3) {
    switch (field) {
      case "cmd":
        return { expected: "a shell command", fix: "write the command to run, e.g. cmd: make" };
      case "deps":
        return asList("task ids", "t0");
      case "inputs":
        return asList("files or globs", "src/*.c");
      case "outputs":
        return asList("files or folders", "out/app");
      case "env":
        return asList("env var names", "LANG");
      case "pool":
        return quote("a pool name", "pool: vm");
      case "description":
        return quote("a description", `description: "Builds the app"`);
      case "params":
        return { expected: "a map of parameters", fix: "write params: { version: 1 }" };
      case "tools":
        return asList("tools", "gcc");
      case "platform":
        return { expected: "true or false", fix: "write platform: true" };
    }
  }
  if (field === "params") {
    return {
      expected: "a JSON value",
      fix: typeof got === "number"
        ? `quote it: "${got}"`
        : "use a string, number, true, false, null, list or map",
    };
  }
  if (field === "tools") {
    if (path.length === 4) {
      return { expected: "a tool name or a {name, args} map", fix: "write e.g. gcc" };
    }
    if (sub === "name") return quote("a tool name", "name: gcc");
    if (path.length === 5) return asList("arguments", "--version");
    return quote("an argument", `"--version"`);
  }
  switch (field) {
    case "deps":
      return quote("a task id", "the id of another task");
    case "inputs":
      return quote("a file or glob", "a workspace-relative path");
    case "outputs":
      return quote("a file or folder", "a workspace-relative path");
    case "env":
      return {
        expected: "an env var name",
        fix: typeof got === "string"
          ? "use letters, digits and _ (no $), e.g. LANG"
          : "write a name like LANG",
      };
  }
  return { expected: "a different value", fix: "see the task file format in the docs" };
}

/** Edit distance counting a swap of neighbours as one edit, to suggest `cmd` for `cdm`. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

export function unknownKeyMessage(key: string, known: string[]): string {
  const best = known
    .map((k) => ({ k, d: distance(key.toLowerCase(), k) }))
    .sort((a, b) => a.d - b.d)[0];
  const fix = best.d <= Math.max(1, Math.floor(best.k.length / 3))
    ? `rename it to ${best.k}`
    : `use one of ${known.join(", ")}`;
  return `unknown key ${JSON.stringify(key)}; ${fix}`;
}
