/**
 * A signer for {@link publishAptRepository} that works on another thread: the key is read,
 * unlocked and checked for apt (see `key_check.ts`) in a worker from the moment the signer is
 * made, while the publisher reads and indexes packages. Most keys are read by kiln's own OpenPGP
 * code in a few milliseconds, and `release:apt` reads its key on its own thread; the worker pays
 * off for a key whose passphrase S2K takes tens of milliseconds, or one openpgp.js must read (about
 * 100 ms to load in a cold process).
 *
 * @module
 */

import type { Failure } from "../engine/failure.ts";

/** What a signed `Release` becomes. */
export interface ReleaseSignatures {
  /** The clearsigned `Release` (LF line ends). */
  readonly inRelease: string;
  /** `Release.gpg`: the armored detached signature. */
  readonly detached: string;
}

/** Anything that signs `Release` texts; a failure when the key is unusable. */
export interface AptReleaseSigner {
  sign(release: string): Promise<ReleaseSignatures | Failure>;
}

/** Where the worker gets its key: the armored private key, never logged. */
export interface WorkerKeySource {
  readonly armored: string;
  /** Where the key came from, for messages. */
  readonly name: string;
  readonly passphrase?: string;
}

/**
 * Signs in a worker. Make it as early as possible (before loading the publisher, say); `close()`
 * it when done, or the worker keeps the process alive.
 *
 * @example
 * ```ts
 * const signer = new AptWorkerSigner({ armored: Deno.readTextFileSync("key.asc"), name: "key.asc" });
 * try {
 *   await publishAptRepository(config, signer, { add });
 * } finally {
 *   signer.close();
 * }
 * ```
 */
export class AptWorkerSigner implements AptReleaseSigner {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, (r: ReleaseSignatures | Failure | Error) => void>();
  #next = 0;

  constructor(source: WorkerKeySource) {
    this.#worker = new Worker(new URL("./sign_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (e: MessageEvent) => {
      const m = e.data;
      const done = this.#waiting.get(m.id);
      if (!done) return;
      this.#waiting.delete(m.id);
      done(
        m.failure ?? (m.error !== undefined ? new Error(`Signing worker failed: ${m.error}`) : m),
      );
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      for (const done of this.#waiting.values()) done(new Error(`Signing worker: ${e.message}`));
      this.#waiting.clear();
    };
    this.#worker.postMessage({ type: "key", ...source });
  }

  sign(release: string): Promise<ReleaseSignatures | Failure> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, (r) => {
        if (r instanceof Error) reject(r);
        else if ("reason" in r) resolve({ reason: r.reason, message: r.message });
        else resolve({ inRelease: r.inRelease, detached: r.detached });
      });
      this.#worker.postMessage({ type: "sign", id, release });
    });
  }

  /** Stops the worker (pending signatures are abandoned). */
  close(): void {
    this.#worker.terminate();
  }
}
