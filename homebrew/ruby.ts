/**
 * The two bits of Ruby a formula needs to get exactly right: the class name Homebrew expects for a
 * formula name, and string literals that say what the spec says (a description holding `"`, `\`
 * or `#{...}` must neither break the file nor run code when Homebrew loads it).
 *
 * @module
 */

/**
 * The class name Homebrew derives from a formula name (`Formulary.class_s`): capitalised, a
 * letter or digit after `-`, `_`, `.` or a space upper-cased and the separator dropped, `+` as
 * `x`, and `@` before a digit as `AT`.
 *
 * @example
 * ```ts
 * formulaClassName("kiln-tool"); // "KilnTool"
 * formulaClassName("foo@1.2"); // "FooAT12"
 * ```
 */
export function formulaClassName(name: string): string {
  let s = name.charAt(0).toUpperCase() + name.slice(1).toLowerCase();
  s = s.replace(/[-_.\s]([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
  s = s.replaceAll("+", "x");
  return s.replace(/(.)@(\d)/, "$1AT$2");
}

const ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\t": "\\t",
  "\r": "\\r",
  "\x1b": "\\e",
};

/**
 * `s` as a double-quoted Ruby string literal with the same characters: backslashes and quotes
 * escaped, `#` escaped where Ruby would interpolate (`#{`, `#$`, `#@`), control characters as
 * escapes. Other characters (UTF-8 included) are written as they are.
 *
 * @example
 * ```ts
 * rubyString('say "#{hi}"'); // "say \"\#{hi}\""
 * ```
 */
export function rubyString(s: string): string {
  // deno-lint-ignore no-control-regex -- control characters are exactly what must be escaped
  const body = s.replace(/[\\"\x00-\x1f\x7f]|#(?=[{$@])/g, (c) => {
    if (c === "#") return "\\#";
    return ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
  return `"${body}"`;
}
