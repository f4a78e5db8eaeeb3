/**
 * The off-thread sink: bodies of `FetchOptions.offThreadBytes` or more are hashed and written by
 * a worker, so that the main thread only reads the socket (see `fetch.ts` for the measurements).
 * This module is both sides of it: {@link WorkerSink} on the main thread, and the worker itself,
 * which is this module loaded again under the name `kiln-fetch-sink`; and {@link openSink}, which
 * picks it or the inline sink. Kept apart from `fetch.ts` so that the worker loads only the sink,
 * not the HTTP side of a download.
 *
 * @module
 */

import { abortableSleep } from "../engine/retry.ts";
import { BATCH, InlineSink, message, type Sink, SinkCore, SinkError } from "./fetch_sink.ts";

const WORKER_BUFFERS = 4;
const SINK_WORKER_NAME = "kiln-fetch-sink";

interface SinkReply {
  t: "ok" | "error";
  size: number;
  digest?: string;
  message?: string;
  buf?: ArrayBuffer;
}

/** Hashes and writes in a worker; the main thread transfers 8 MiB buffers to it and back. */
class WorkerSink implements Sink {
  size = 0;
  #worker: Worker;
  #pending: { resolve: (r: SinkReply) => void; reject: (e: Error) => void }[] = [];
  #free: ArrayBuffer[] = [];
  #allocated = 0;
  #waiting: { resolve: (b: ArrayBuffer) => void; reject: (e: Error) => void }[] = [];
  #last: Promise<unknown> = Promise.resolve();
  #error: SinkError | null = null;
  #closed = false;

  private constructor() {
    this.#worker = new Worker(import.meta.url, { type: "module", name: SINK_WORKER_NAME });
    this.#worker.onmessage = (e: MessageEvent<SinkReply>) => {
      const r = e.data;
      if (r.buf) this.#giveBack(r.buf);
      const p = this.#pending.shift();
      if (r.t === "error") {
        this.#error ??= new SinkError(r.message ?? "write failed");
        p?.reject(this.#error);
      } else {
        this.size = r.size;
        p?.resolve(r);
      }
    };
    this.#worker.onerror = (e) => {
      // the worker died: nothing in flight will come back
      e.preventDefault();
      this.#error ??= new SinkError(e.message);
      for (const p of [...this.#pending.splice(0), ...this.#waiting.splice(0)]) {
        p.reject(this.#error);
      }
    };
  }

  static async open(path: string, keep: number): Promise<WorkerSink> {
    const s = new WorkerSink();
    try {
      await s.#call({ t: "open", path, keep });
    } catch (e) {
      s.#worker.terminate();
      throw e;
    }
    return s;
  }

  #call(msg: Record<string, unknown>, transfer: Transferable[] = []): Promise<SinkReply> {
    if (this.#error) return Promise.reject(this.#error);
    const p = new Promise<SinkReply>((resolve, reject) => this.#pending.push({ resolve, reject }));
    this.#worker.postMessage(msg, transfer);
    this.#last = p.catch(() => {});
    return p;
  }

  #giveBack(b: ArrayBuffer): void {
    const w = this.#waiting.shift();
    if (w) w.resolve(b);
    else this.#free.push(b);
  }

  take(): Promise<Uint8Array> {
    if (this.#error) return Promise.reject(this.#error);
    const b = this.#free.pop();
    if (b) return Promise.resolve(new Uint8Array(b));
    if (this.#allocated < WORKER_BUFFERS) {
      this.#allocated++;
      return Promise.resolve(new Uint8Array(BATCH));
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve: (buf) => resolve(new Uint8Array(buf)), reject });
    });
  }

  push(buf: Uint8Array, len: number): void {
    if (this.#error || len === 0) return this.#giveBack(buf.buffer as ArrayBuffer);
    this.#call({ t: "data", buf: buf.buffer, len }, [buf.buffer as ArrayBuffer]).catch(() => {});
  }

  async settle(): Promise<void> {
    await this.#last;
    if (this.#error) throw this.#error;
  }

  async reset(): Promise<void> {
    await this.#call({ t: "reset" });
  }

  async finish(durable: boolean): Promise<{ digest: string; size: number }> {
    try {
      const r = await this.#call({ t: "finish", durable });
      return { digest: r.digest!, size: r.size };
    } finally {
      this.#closed = true;
      this.#worker.terminate();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#last;
    await Promise.race([this.#call({ t: "close" }).catch(() => {}), abortableSleep(5000)]);
    this.#worker.terminate();
  }
}

/**
 * The worker's side: this module, loaded with `name: SINK_WORKER_NAME`. A batch is hashed as it
 * arrives and written on Deno's blocking-I/O thread, so hashing the next batch overlaps writing
 * this one (when the page cache is slow to take writes, as in this VM, doing both in turn made
 * the worker the bottleneck). Replies go out in message order, a batch's once it is written. The
 * main thread sends a control message (open, reset, finish, close) only when no batch is in
 * flight, and a batch only after "open" replied, so hashing on arrival never races them.
 */
function runSinkWorker(): void {
  const scope = globalThis as unknown as {
    onmessage: (e: MessageEvent) => void;
    postMessage(msg: unknown, transfer?: Transferable[]): void;
  };
  let core: SinkCore | null = null;
  let failed: string | null = null;
  const cryptoReady = import("node:crypto");
  let chain: Promise<void> = Promise.resolve(); // writes and control operations, in order
  scope.onmessage = (e: MessageEvent) => {
    const m = e.data;
    const buf: ArrayBuffer | undefined = m.buf;
    const reply = () =>
      scope.postMessage(
        failed
          ? { t: "error", size: core?.size ?? 0, message: failed, buf }
          : { t: "ok", size: core?.size ?? 0, buf },
        buf ? [buf] : [],
      );
    const attempt = async (op: () => unknown) => {
      try {
        if (!failed) await op();
      } catch (err) {
        failed ??= message(err);
      }
    };
    if (m.t === "data") {
      const view = new Uint8Array(buf!, 0, m.len);
      attempt(() => core!.hash(view));
      chain = chain.then(() => attempt(() => core!.writeAsync(view))).then(reply);
      return;
    }
    chain = chain.then(async () => {
      if (m.t === "finish") {
        const finish = () => scope.postMessage({ t: "ok", ...core!.finish(m.durable) });
        await attempt(finish);
        if (failed) reply();
        return;
      }
      if (m.t === "open") {
        await attempt(async () => core = SinkCore.open(await cryptoReady, m.path, m.keep));
      } else if (m.t === "reset") await attempt(() => core!.reset());
      else if (m.t === "close") core?.close();
      reply();
    });
  };
}

if ((globalThis as { name?: unknown }).name === SINK_WORKER_NAME) runSinkWorker();

/** Opens a sink on `path` keeping its first `keep` bytes; a worker when `big`. */
export async function openSink(path: string, keep: number, big: boolean): Promise<Sink> {
  if (big) {
    try {
      return await WorkerSink.open(path, keep);
    } catch (e) {
      if (e instanceof SinkError) throw e;
      // no worker (e.g. a restricted runtime): hash inline, slower but correct
    }
  }
  const crypto = await import("node:crypto");
  try {
    return new InlineSink(SinkCore.open(crypto, path, keep));
  } catch (e) {
    throw new SinkError(message(e));
  }
}
