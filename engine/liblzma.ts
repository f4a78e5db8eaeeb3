/**
 * liblzma (the library the `xz` tool is built on), loaded through FFI: its block encoder, used
 * for the xz chunks of APT indexes (`apt/xz_ffi.ts`), and its stream decoder, used for the
 * `control.tar.xz` members of `.deb` files (`deb/xz_decode.ts`). Both run on Deno's blocking
 * thread pool (`nonblocking`), so this thread goes on meanwhile. `null` where liblzma cannot be
 * loaded (another OS, no `--allow-ffi`): callers then run the `xz` tool.
 *
 * Layouts are liblzma 5's stable ABI on 64-bit Linux.
 *
 * @module
 */

import { openLibrary } from "./ffi_load.ts";

const SYMBOLS = {
  lzma_lzma_preset: { parameters: ["buffer", "u32"], result: "u8" },
  lzma_block_buffer_bound: { parameters: ["usize"], result: "usize" },
  lzma_block_buffer_encode: {
    parameters: ["buffer", "pointer", "buffer", "usize", "buffer", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  lzma_stream_buffer_decode: {
    parameters: [
      "buffer",
      "u32",
      "pointer",
      "buffer",
      "buffer",
      "usize",
      "buffer",
      "buffer",
      "usize",
    ],
    result: "i32",
    nonblocking: true,
  },
} as const;

/** The liblzma functions kiln calls. */
export type Liblzma = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Liblzma | null | undefined;

/** liblzma, loaded on first use; `null` where it cannot be (run the `xz` tool then). */
export function loadLiblzma(): Liblzma | null {
  if (lib !== undefined) return lib;
  const arch = Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64"; // the layouts known
  lib = arch ? openLibrary(["liblzma.so.5", "liblzma.so"], SYMBOLS) : null;
  return lib;
}
