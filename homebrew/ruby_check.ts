/**
 * `ruby -c` on a formula before it reaches a tap: the install and test lines of a spec are Ruby
 * written by hand, and a syntax error would otherwise surface only when someone runs
 * `brew install`, after the tap was pushed.
 *
 * @module
 */

import { type Failure, failure } from "../engine/failure.ts";

/**
 * Checks `text` with `ruby -c` (syntax only: nothing in it runs). Returns null when it parses,
 * `formula-syntax-invalid` naming `file` and Ruby's first complaint when not, or `tool-missing`.
 *
 * @example
 * ```ts
 * const bad = await checkRubySyntax(formulaText, "Formula/kiln.rb");
 * if (bad) return bad;
 * ```
 */
export async function checkRubySyntax(text: string, file: string): Promise<Failure | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("ruby", {
      args: ["-c", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C.UTF-8" },
    }).spawn();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return failure(
      "tool-missing",
      "Ruby is not installed, so the formula cannot be checked; install it (apt-get install ruby)" +
        " or turn the check off with rubyCheck: false",
    );
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (out.success) return null;
  const first = new TextDecoder().decode(out.stderr).split("\n").find((l) => l.trim() !== "") ??
    `ruby exited with ${out.code}`;
  // `-:12: syntax error, ...` names stdin: name the formula instead.
  const where = first.replace(/^-:(\d+):\s*/, `line $1: `);
  return failure(
    "formula-syntax-invalid",
    `Formula ${JSON.stringify(file)} is not valid Ruby: ${where.trim()}; fix the install or test` +
      " lines of the spec",
  );
}
