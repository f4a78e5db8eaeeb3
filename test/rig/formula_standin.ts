/**
 * Runs `formula_standin.rb` (a stand-in for Homebrew's Formula DSL) on a formula file with the
 * real `ruby`, and `ruby -c`, for tests that check generated formulas without Homebrew.
 *
 * @module
 */

const STANDIN = new URL("./formula_standin.rb", import.meta.url).pathname;

/** The url and sha256 a formula chose on one platform. */
export interface StandInDownload {
  readonly url: string;
  readonly sha256: string;
  /** False when the formula `depends_on` the other OS. */
  readonly supported: boolean;
}

/** What the stand-in saw when it loaded the formula on each platform. */
export interface StandInReport {
  readonly class: string;
  readonly desc: string;
  readonly homepage: string;
  readonly version: string;
  readonly license: string | Record<string, string[]>;
  readonly depends_on: string[];
  /** Keyed `macos-arm64`, `macos-x86_64`, `linux-arm64`, `linux-x86_64`. */
  readonly platforms: Record<string, StandInDownload | null>;
  /** Calls `def install` made, e.g. `["bin.install", "kiln"]`. */
  readonly install: string[][];
  /** Calls the `test do` block made, e.g. `["system", "/standin/prefix/bin/kiln", "--version"]`. */
  readonly test: (string | number)[][];
}

/** Loads the formula at `path` (its file name decides the class name) with the stand-in. */
export async function loadWithStandIn(path: string): Promise<StandInReport | { error: string }> {
  const out = await new Deno.Command("ruby", {
    args: [STANDIN, path],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  if (!out.success) return { error: dec.decode(out.stderr).trim() };
  return JSON.parse(dec.decode(out.stdout));
}

/** `ruby -c` on the file: null when it parses, else Ruby's message. */
export async function rubyCheck(path: string): Promise<string | null> {
  const out = await new Deno.Command("ruby", {
    args: ["-c", path],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return out.success && dec.decode(out.stdout).trim() === "Syntax OK"
    ? null
    : dec.decode(out.stderr).trim();
}
