/**
 * What a stock bazel-remote makes of an action entry, without bazel-remote (this machine has
 * no Go toolchain nor its module proxy): `reapi_action_result.py` parses the JSON strictly as a
 * REAPI ActionResult with the real protobuf library, applies bazel-remote's checks, and answers
 * it re-encoded as bazel-remote's `GET /ac/` with `Accept: application/json` would.
 *
 * Needs Debian's `python3-protobuf` (for /usr/bin/python3).
 *
 * @module
 */

const SCRIPT = new URL("./reapi_action_result.py", import.meta.url).pathname;

/** The re-encoded answer, or the parse/validation error a bazel-remote would answer 400 with. */
export async function bazelRemoteRoundTrip(
  json: string,
): Promise<{ ok: true; json: string } | { ok: false; error: string }> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: [SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(json));
  await w.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success || !text.trim()) {
    throw new Error(
      `reapi_action_result.py failed (install python3-protobuf): ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return JSON.parse(text);
}
