/**
 * The sink of a download: appends the body to the partial file and hashes every byte it appends,
 * so the SHA-256 is known when the last byte lands. This module holds the contract
 * ({@link Sink}), the append-and-hash core both threads use ({@link SinkCore}) and the
 * main-thread sink ({@link InlineSink}); the worker sink lives in `fetch_sink_worker.ts`. Kept
 * apart from `fetch.ts` because it is the disk side of a download, independent of HTTP.
 *
 * @module
 */

type NodeCrypto = typeof import("node:crypto");
type Hash = ReturnType<NodeCrypto["createHash"]>;

/** Bytes per batch: what the worker hashes and writes at once, and a rehash reads at once. */
export const BATCH = 8 * 1024 * 1024;
/** The landing buffer a body is read into (see `fetch_body.ts`); the inline sink's is 4 of them. */
export const LANDING = 1024 * 1024;

/** Appends to a file and hashes every byte of it. Used on the main thread or in the worker. */
export class SinkCore {
  size = 0;
  #hash: Hash;
  constructor(private crypto: NodeCrypto, private file: Deno.FsFile) {
    this.#hash = crypto.createHash("sha256");
  }

  /** Opens `path`, keeps at most its first `keep` bytes and hashes them. */
  static open(crypto: NodeCrypto, path: string, keep: number): SinkCore {
    const file = Deno.openSync(path, { read: true, write: true, create: true });
    const core = new SinkCore(crypto, file);
    if (file.statSync().size > keep) file.truncateSync(keep);
    if (keep > 0) {
      const buf = new Uint8Array(BATCH);
      for (;;) {
        const n = file.readSync(buf);
        if (n === null || n === 0) break;
        core.#hash.update(buf.subarray(0, n));
        core.size += n;
      }
    }
    file.seekSync(core.size, Deno.SeekMode.Start);
    return core;
  }

  append(view: Uint8Array): void {
    this.hash(view);
    let off = 0;
    while (off < view.length) off += this.file.writeSync(view.subarray(off));
    this.size += view.length;
  }

  /** Hashes `view`, to be written by {@link writeAsync} next. */
  hash(view: Uint8Array): void {
    this.#hash.update(view);
  }

  /** Writes on Deno's blocking-I/O thread, so the caller can hash the next batch meanwhile. */
  async writeAsync(view: Uint8Array): Promise<void> {
    let off = 0;
    while (off < view.length) off += await this.file.write(view.subarray(off));
    this.size += view.length;
  }

  reset(): void {
    this.file.truncateSync(0);
    this.file.seekSync(0, Deno.SeekMode.Start);
    this.#hash = this.crypto.createHash("sha256");
    this.size = 0;
  }

  finish(durable: boolean): { digest: string; size: number } {
    if (durable) this.file.syncDataSync();
    this.close();
    return { digest: this.#hash.digest("hex"), size: this.size };
  }

  close(): void {
    try {
      this.file.close();
    } catch { /* already closed */ }
  }
}

/** A write to the partial file failed (disk full, I/O error): not the mirror's fault. */
export class SinkError extends Error {}

/** Where the body goes; {@link InlineSink} or `WorkerSink` (`fetch_sink_worker.ts`). */
export interface Sink {
  /** Bytes appended and hashed, once {@link settle} resolves. */
  readonly size: number;
  /** A buffer to fill; it belongs to the caller until {@link push}. */
  take(): Promise<Uint8Array>;
  /** Appends `len` bytes of `buf`, which goes back to the sink. */
  push(buf: Uint8Array, len: number): void;
  /** Waits for pushed data; rejects with a {@link SinkError} if a write failed. */
  settle(): Promise<void>;
  reset(): Promise<void>;
  finish(durable: boolean): Promise<{ digest: string; size: number }>;
  close(): Promise<void>;
}

/** The first line of an error's message: what a log line or a failure quotes. */
export function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

/** Hashes and writes on the main thread: for small bodies, or where no worker can start. */
export class InlineSink implements Sink {
  #buf: Uint8Array | null = new Uint8Array(LANDING * 4);
  #error: SinkError | null = null;
  constructor(private core: SinkCore) {}
  get size(): number {
    return this.core.size;
  }
  take(): Promise<Uint8Array> {
    const b = this.#buf;
    if (!b) throw new Error("InlineSink.take() called twice without push()");
    this.#buf = null;
    return Promise.resolve(b);
  }
  push(buf: Uint8Array, len: number): void {
    this.#buf = buf;
    if (this.#error || len === 0) return;
    try {
      this.core.append(buf.subarray(0, len));
    } catch (e) {
      this.#error = new SinkError(message(e));
    }
  }
  settle(): Promise<void> {
    return this.#error ? Promise.reject(this.#error) : Promise.resolve();
  }
  reset(): Promise<void> {
    this.core.reset();
    return Promise.resolve();
  }
  finish(durable: boolean): Promise<{ digest: string; size: number }> {
    return Promise.resolve(this.core.finish(durable));
  }
  close(): Promise<void> {
    this.core.close();
    return Promise.resolve();
  }
}
