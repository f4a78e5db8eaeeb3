/**
 * GnuPG for tests, always in a private home folder (never `~/.gnupg`), with stdin when given.
 *
 * @module
 */

/** What a gpg run printed, and its exit code. */
export interface GpgRun {
  readonly code: number;
  readonly stdout: Uint8Array;
  readonly out: string;
  readonly err: string;
}

/** Runs `gpg --batch --homedir <home> <args>`, creating `home` (0700) when needed. */
export async function runGpg(home: string, args: string[], stdin?: Uint8Array): Promise<GpgRun> {
  await Deno.mkdir(home, { recursive: true, mode: 0o700 });
  const child = new Deno.Command("gpg", {
    args: ["--homedir", home, "--batch", ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: r.stdout, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Stops the gpg-agent GnuPG may have started for the home folder `home` (before removing it). */
export async function stopGpgAgent(home: string): Promise<void> {
  await new Deno.Command("gpgconf", {
    args: ["--kill", "gpg-agent"],
    env: { GNUPGHOME: home },
    stdout: "null",
    stderr: "null",
  }).output();
}
