import { Rng, VqvidError } from '@vqvid/core';
import { RangeDecoder, RangeEncoder } from './rangecoder';
import { findSymbol, quantizeRow } from './quantize';
import { AdaptiveFrequencies } from './fenwick';

/** Random integer frequencies (each ≥ 1) and their cumulative table. */
function randomTable(rng: Rng, k: number, skew: number): { cum: Float64Array; freq: Float64Array } {
  const freq = new Float64Array(k);
  for (let i = 0; i < k; i++) freq[i] = 1 + Math.floor(rng.next() ** skew * 1000);
  const cum = new Float64Array(k + 1);
  for (let i = 0; i < k; i++) cum[i + 1] = cum[i] + freq[i];
  return { cum, freq };
}

/** Draws symbols from the table, codes them, decodes them; returns the sizes. */
function roundTrip(rng: Rng, cum: Float64Array, n: number): { bytes: number; idealBits: number } {
  const k = cum.length - 1;
  const total = cum[k];
  const syms = new Int32Array(n);
  for (let i = 0; i < n; i++) syms[i] = findSymbol(cum, k, Math.floor(rng.next() * total));
  const enc = new RangeEncoder();
  for (const s of syms) enc.encode(cum[s], cum[s + 1] - cum[s], total);
  const bytes = enc.finish();
  const dec = new RangeDecoder(bytes);
  const back = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = findSymbol(cum, k, dec.target(total));
    back[i] = s;
    dec.consume(cum[s], cum[s + 1] - cum[s]);
  }
  expect(back).toEqual(syms);
  expect(dec.position).toBe(bytes.length);
  // the slow, obvious ideal: −Σ log2 p, one symbol at a time
  let idealBits = 0;
  for (const s of syms) idealBits -= Math.log2((cum[s + 1] - cum[s]) / total);
  return { bytes: bytes.length, idealBits };
}

describe('range coder', () => {
  it('round-trips random symbols under random tables, within 0.1% + 8 bytes of the ideal size', () => {
    const rng = new Rng(7);
    for (const [k, skew] of [[2, 1], [16, 3], [300, 8], [10000, 2]]) {
      const { cum } = randomTable(rng, k, skew);
      const { bytes, idealBits } = roundTrip(rng, cum, 100_000);
      expect(bytes).toBeLessThanOrEqual((idealBits / 8) * 1.001 + 8);
      expect(bytes).toBeGreaterThanOrEqual(Math.floor(idealBits / 8));
    }
  });

  it('round-trips extreme tables: K = 1, one symbol with almost all of 2^28, a tail of frequency 1', () => {
    const rng = new Rng(3);
    const one = roundTrip(rng, new Float64Array([0, 2 ** 24]), 5000);
    expect(one.bytes).toBeLessThanOrEqual(8);
    const k = 1000;
    const cum = new Float64Array(k + 1);
    for (let i = 0; i < k; i++) cum[i + 1] = cum[i] + (i === 0 ? 2 ** 28 - (k - 1) : 1);
    // draw mostly the big symbol, but force rare ones in too
    const syms = Array.from({ length: 20000 }, (_, i) => (i % 97 === 0 ? 1 + (i % (k - 1)) : 0));
    const enc = new RangeEncoder();
    for (const s of syms) enc.encode(cum[s], cum[s + 1] - cum[s], cum[k]);
    const bytes = enc.finish();
    const dec = new RangeDecoder(bytes);
    const back = syms.map(() => {
      const got = findSymbol(cum, k, dec.target(cum[k]));
      dec.consume(cum[got], cum[got + 1] - cum[got]);
      return got;
    });
    expect(back).toEqual(syms);
  });

  it('reports a cut stream as E_FORMAT, and refuses intervals outside the total', () => {
    const enc = new RangeEncoder();
    for (let i = 0; i < 1000; i++) enc.encode(i % 7, 1, 7);
    const bytes = enc.finish();
    const dec = new RangeDecoder(bytes.subarray(0, bytes.length - 20));
    const run = () => {
      for (let i = 0; i < 1000; i++) dec.consume(dec.target(7), 1);
    };
    expect(run).toThrow(VqvidError);
    expect(() => new RangeEncoder().encode(5, 3, 7)).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  });
});

describe('quantizeRow', () => {
  /** Slow reference: the documented rule written plainly. */
  function reference(p: number[], total: number): number[] {
    const k = p.length;
    const q = p.map((x) => (x > 0 ? x : 0));
    const s = q.reduce((a, b) => a + b, 0);
    const f = q.map((x) => 1 + (s > 0 ? Math.floor((x / s) * (total - k)) : 0));
    const best = s > 0 ? q.indexOf(Math.max(...q)) : 0;
    f[best] += total - f.reduce((a, b) => a + b, 0);
    return f;
  }

  it('matches the documented rule, every symbol ≥ 1 and the sum exactly the total', () => {
    const rng = new Rng(11);
    for (const k of [1, 2, 5, 64]) {
      for (let trial = 0; trial < 20; trial++) {
        const p = new Float32Array(k).map(() => (rng.next() < 0.3 ? 0 : rng.next() ** 4));
        const cum = quantizeRow(p, 0, k, 2 ** 16, new Float64Array(k + 1));
        const f = Array.from({ length: k }, (_, i) => cum[i + 1] - cum[i]);
        const want = reference(Array.from(p), 2 ** 16);
        // (x / s)·(T − k) and x·((T − k) / s) may differ in the last bit: allow the floor to move by one
        f.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(i === want.indexOf(Math.max(...want)) ? k : 1));
        expect(cum[k]).toBe(2 ** 16);
        expect(Math.min(...f)).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('makes a row of zeros or NaN uniform, with the remainder on symbol 0', () => {
    const cum = quantizeRow(new Float32Array([NaN, 0, 0]), 0, 3, 256, new Float64Array(4));
    expect(Array.from(cum)).toEqual([0, 254, 255, 256]);
  });
});

describe('AdaptiveFrequencies', () => {
  it('finds symbols and cumulative counts like a plain array, across halvings', () => {
    const rng = new Rng(5);
    const k = 37;
    const f = new AdaptiveFrequencies(k, 1, 500);
    const plain = new Float64Array(k).fill(1);
    for (let step = 0; step < 2000; step++) {
      const s = rng.int(k);
      f.add(s, 5);
      plain[s] += 5;
      if (plain.reduce((a, b) => a + b, 0) > 500) for (let i = 0; i < k; i++) plain[i] = Math.ceil(plain[i] / 2);
      const total = plain.reduce((a, b) => a + b, 0);
      expect(f.total).toBe(total);
      const t = rng.int(total);
      let acc = 0;
      let want = 0;
      while (acc + plain[want] <= t) acc += plain[want++];
      expect(f.find(t)).toBe(want);
      expect(f.cum(want)).toBe(acc);
    }
  });
});
