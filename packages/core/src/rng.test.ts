import { Rng } from './rng';
import { VqvidError } from './errors';

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new Rng(7), b = new Rng(7), c = new Rng(8);
    const xa = Array.from({ length: 20 }, () => a.nextUint32());
    const xb = Array.from({ length: 20 }, () => b.nextUint32());
    const xc = Array.from({ length: 20 }, () => c.nextUint32());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
  });

  it('matches a reference xoshiro128** stream computed with BigInt arithmetic', () => {
    // independent reference: same algorithm with BigInt masks, seeded with the words the class derives
    const r = new Rng(123) as unknown as { s0: number; s1: number; s2: number; s3: number } & Rng;
    let s = [r.s0, r.s1, r.s2, r.s3].map((x) => BigInt(x >>> 0));
    const M = 0xffffffffn;
    const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
    const ref: number[] = [];
    for (let i = 0; i < 50; i++) {
      const res = (rotl((s[1] * 5n) & M, 7n) * 9n) & M;
      const t = (s[1] << 9n) & M;
      s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11n);
      ref.push(Number(res));
      s = s.map((x) => x & M);
    }
    const got = Array.from({ length: 50 }, () => r.nextUint32());
    expect(got).toEqual(ref);
  });

  it('int(n) is uniform (chi-square) and in range', () => {
    const r = new Rng(1);
    const counts = new Array(10).fill(0);
    const N = 20000;
    for (let i = 0; i < N; i++) counts[r.int(10)]++;
    const chi2 = counts.reduce((s, c) => s + (c - N / 10) ** 2 / (N / 10), 0);
    expect(chi2).toBeLessThan(27.9); // p = 0.001 for 9 dof
  });

  it('normal() has mean ~0 and variance ~1', () => {
    const r = new Rng(3);
    let s = 0, s2 = 0;
    const N = 20000;
    for (let i = 0; i < N; i++) { const x = r.normal(); s += x; s2 += x * x; }
    expect(Math.abs(s / N)).toBeLessThan(0.03);
    expect(Math.abs(s2 / N - 1)).toBeLessThan(0.05);
  });

  it('weighted() follows the weights and never picks zero weight', () => {
    const r = new Rng(5);
    const w = [0, 1, 3, 0];
    const c = [0, 0, 0, 0];
    for (let i = 0; i < 8000; i++) c[r.weighted(w)]++;
    expect(c[0]).toBe(0);
    expect(c[3]).toBe(0);
    expect(c[2] / c[1]).toBeGreaterThan(2.6);
    expect(c[2] / c[1]).toBeLessThan(3.4);
  });

  it('shuffle is a permutation', () => {
    const a = Int32Array.from({ length: 100 }, (_, i) => i);
    new Rng(9).shuffle(a);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('rejects a non-integer seed with a VqvidError', () => {
    expect(() => new Rng(1.5)).toThrow(VqvidError);
  });
});
