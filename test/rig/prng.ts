/**
 * A small seeded PRNG (mulberry32) with the few helpers the randomized tests need.
 *
 * @module
 */

/** Deterministic pseudo-random numbers from a 32-bit seed. */
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A uniformly chosen element of a non-empty list. */
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("pick from an empty list");
    return xs[Math.floor(this.next() * xs.length)];
  }

  /** An element chosen with the given weights (`[weight, value]` pairs). */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of choices) {
      if ((r -= w) < 0) return v;
    }
    return choices[choices.length - 1][1];
  }

  /** `k` distinct elements of `xs`, in random order. */
  sample<T>(xs: readonly T[], k: number): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a.slice(0, Math.min(k, a.length));
  }
}

/** The seed from env var `name` (decimal or 0x hex), else a fresh random one. */
export function seedFromEnv(name: string): number {
  const v = Deno.env.get(name);
  if (v !== undefined && v.trim() !== "") {
    const n = Number(v.trim());
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new Error(`${name}=${v}: expected a whole number in [0, 2^32)`);
    }
    return n;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** A positive whole number from env var `name`, else `fallback`. */
export function intFromEnv(name: string, fallback: number): number {
  const v = Deno.env.get(name);
  if (v === undefined || v.trim() === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${v}: expected a whole number >= 1`);
  return n;
}
