import { assertInt } from './validate';

/** Mixes a 32-bit state (splitmix32); used to expand one seed into the generator's four words. */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

/**
 * Seeded pseudo-random generator (xoshiro128**): fast, 32-bit integer arithmetic only, so the same seed
 * gives the same stream on every platform and JS engine.
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const u = rng.next();       // [0, 1)
 * const i = rng.int(10);      // 0..9
 * const g = rng.normal();     // N(0, 1)
 * ```
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /**
   * Creates a generator whose whole stream is fixed by `seed`.
   * @param seed any integer (taken modulo 2^32).
   */
  constructor(seed: number) {
    assertInt(seed, 'seed');
    let st = seed >>> 0;
    let w: number;
    [st, w] = splitmix32(st); this.s0 = w;
    [st, w] = splitmix32(st); this.s1 = w;
    [st, w] = splitmix32(st); this.s2 = w;
    [, w] = splitmix32(st); this.s3 = w;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    assertInt(n, 'n', 1, 4294967296);
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextUint32(); while (x >= limit);
    return x % n;
  }

  /** Standard normal sample (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `a` in place (Fisher–Yates) and returns it. */
  shuffle<T extends {
    /** Number of elements to shuffle. */
    length: number;
    [i: number]: unknown;
  }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** Index sampled with probability proportional to `weights[i]` (non-negative, not all zero). */
  weighted(weights: ArrayLike<number>, total?: number): number {
    let sum = total ?? 0;
    if (total === undefined) for (let i = 0; i < weights.length; i++) sum += weights[i];
    let r = this.next() * sum;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    return weights.length - 1;
  }

  /** A new independent generator derived from this one's stream (for sub-tasks). */
  fork(): Rng {
    return new Rng(this.nextUint32() | 0);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
