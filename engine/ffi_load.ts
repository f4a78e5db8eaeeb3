/**
 * Opening a system library through FFI by the first of its names that loads: the one step every
 * FFI loader in kiln (`libc.ts`, `libcrypto.ts`, `liblzma.ts`, `libz.ts`) shares. Loaders cache
 * what this gives; `null` (no such library, another OS, no `--allow-ffi`) sends callers to their
 * fallback.
 *
 * @module
 */

/**
 * The symbols of the first of `names` that opens on Linux, or `null`.
 *
 * @example
 * ```ts
 * const z = openLibrary(["libz.so.1", "libz.so"], {
 *   zlibVersion: { parameters: [], result: "pointer" },
 * });
 * ```
 */
export function openLibrary<S extends Deno.ForeignLibraryInterface>(
  names: readonly string[],
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | null {
  if (Deno.build.os !== "linux") return null;
  for (const name of names) {
    try {
      return Deno.dlopen(name, symbols).symbols;
    } catch {
      // no FFI permission, or not installed under this name: try the next
    }
  }
  return null;
}
