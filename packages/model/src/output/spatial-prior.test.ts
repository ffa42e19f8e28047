import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { randomCodes } from '../testing';
import { createOutputLayer, MixtureOutput, SparseBigram, SpatialPrior, spatialContext } from './index';

const K = 5;

/** Codes that mostly stay, with a place-bound flicker (cell 4 alternates 1, 3), so contexts recur. */
function flickerCodes(frames: number, seed: number, rows = 3, cols = 4): CodeVolume {
  const rng = new Rng(seed);
  const v = randomCodes(frames, rows, cols, K, seed);
  const n = rows * cols;
  for (let t = 1; t < frames; t++) {
    for (let i = 0; i < n; i++) if (rng.next() < 0.7) v.codes[t * n + i] = v.codes[(t - 1) * n + i];
    v.codes[t * n + 4] = t % 2 === 0 ? 1 : 3;
  }
  return v;
}

/** Every (context, next code) of `vols` as plain strings and numbers: the obviously-correct counting. */
function events(vols: CodeVolume[]): Array<{ ctx: number[]; b: number }> {
  const out: Array<{ ctx: number[]; b: number }> = [];
  for (const v of vols) {
    const at = (t: number, r: number, c: number) => (r < 0 || r >= v.rows || c < 0 || c >= v.cols ? K : v.codes[(t * v.rows + r) * v.cols + c]);
    for (let t = 1; t < v.frames; t++) {
      for (let r = 0; r < v.rows; r++) {
        for (let c = 0; c < v.cols; c++) out.push({ ctx: [at(t - 1, r, c), at(t - 1, r - 1, c), at(t - 1, r + 1, c), at(t - 1, r, c - 1), at(t - 1, r, c + 1)], b: at(t, r, c) });
      }
    }
  }
  return out;
}

/**
 * Slow reference: Witten-Bell back-off full context → own code → add-½ unigram (over every code of the volumes),
 * recounted from the list of events, with one occurrence of `drop` left out when given.
 */
function naiveProb(vols: CodeVolume[], s: [number, number], ctx: number[], b: number, drop?: { ctx: number[]; b: number }): number {
  const all = vols.flatMap((v) => Array.from(v.codes));
  const u = (all.filter((x) => x === b).length + 0.5) / (all.length + 0.5 * K);
  let ev = events(vols);
  if (drop) {
    const j = ev.findIndex((e) => e.b === drop.b && e.ctx.join() === drop.ctx.join());
    if (j >= 0) ev = ev.filter((_, i) => i !== j);
  }
  const level = (match: (e: { ctx: number[] }) => boolean, lower: number, strength: number) => {
    const seen = ev.filter(match);
    if (seen.length === 0) return lower;
    const types = new Set(seen.map((e) => e.b)).size;
    const c = seen.filter((e) => e.b === b).length;
    return (c + strength * types * lower) / (seen.length + strength * types);
  };
  const p1 = level((e) => e.ctx[0] === ctx[0], u, s[0]);
  return level((e) => e.ctx.join() === ctx.join(), p1, s[1]);
}

describe('spatialContext', () => {
  it('lists each cell, then up, down, left, right, with K outside the grid, frame by frame', () => {
    const frames = Int32Array.from([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]); // two 2 x 3 frames
    const ctx = spatialContext(frames, 2, 3, K);
    expect(Array.from(ctx.subarray(0, 5))).toEqual([0, K, 3, K, 1]);
    expect(Array.from(ctx.subarray(4 * 5, 5 * 5))).toEqual([4, 1, K, 3, 0]);
    expect(Array.from(ctx.subarray(6 * 5, 7 * 5))).toEqual([1, K, 4, K, 2]); // frame 2, cell (0, 0)
  });
});

describe('SpatialPrior', () => {
  const vols = [flickerCodes(10, 3), flickerCodes(6, 4)];
  const strength: [number, number] = [0.7, 2.5];
  const prior = SpatialPrior.fit(vols, K, strength);
  const seen = events(vols);
  const probes = [...seen.slice(0, 40), { ctx: [2, K, 0, K, 4], b: 1 }, { ctx: [4, 4, 4, 4, 4], b: 0 }];

  it('stores every (context, next code) counted: distinct contexts ascending, each row its next codes ascending', () => {
    const sets = [vols, [randomCodes(7, 5, 3, K, 8), flickerCodes(1, 9), randomCodes(4, 2, 6, K, 10)], [flickerCodes(1, 11)]];
    for (const set of sets) {
      const arrays = SpatialPrior.fit(set, K, strength).toArrays('p.');
      const byContext = new Map<string, Map<number, number>>();
      const byCode = Array.from({ length: K }, () => new Map<number, number>());
      for (const e of events(set)) {
        const row = byContext.get(e.ctx.join()) ?? new Map<number, number>();
        row.set(e.b, (row.get(e.b) ?? 0) + 1);
        byContext.set(e.ctx.join(), row);
        byCode[e.ctx[0]].set(e.b, (byCode[e.ctx[0]].get(e.b) ?? 0) + 1);
      }
      const contexts = [...byContext.keys()].map((key) => key.split(',').map(Number));
      const j = (a: number[], b: number[]) => a.findIndex((x, i) => x !== b[i]);
      contexts.sort((a, b) => (j(a, b) < 0 ? 0 : a[j(a, b)] - b[j(a, b)]));
      expect(Array.from(arrays['p.contexts'] as Int32Array)).toEqual(contexts.flat());
      // each stored row, as (next, count) pairs, against the counted map (its keys ascending)
      const rowsOf = (name: string, keys: Array<Map<number, number>>) => {
        const start = arrays[`p.${name}Start`] as Int32Array;
        const next = arrays[`p.${name}Next`] as Int32Array;
        const count = arrays[`p.${name}Count`] as Float32Array;
        expect(start.length).toBe(keys.length + 1);
        keys.forEach((want, a) => {
          const got = Array.from({ length: start[a + 1] - start[a] }, (_, j) => [next[start[a] + j], count[start[a] + j]]);
          expect(got).toEqual([...want.entries()].sort((x, y) => x[0] - y[0]));
        });
      };
      rowsOf('spatial', contexts.map((c) => byContext.get(c.join())!));
      rowsOf('bigram', byCode);
    }
  });

  it('prob, with and without leave-one-out, equals the counting reference, seen and unseen contexts alike', () => {
    for (const { ctx, b } of probes) {
      for (let x = 0; x < K; x++) {
        expect(Math.abs(prior.prob(ctx, 0, x) - naiveProb(vols, strength, ctx, x))).toBeLessThan(1e-6);
      }
    }
    // leave-one-out is for the counted cells (the training pairs a mixture is trained on)
    for (const e of seen.slice(0, 60)) expect(Math.abs(prior.prob(e.ctx, 0, e.b, true) - naiveProb(vols, strength, e.ctx, e.b, e))).toBeLessThan(1e-6);
  });

  it('finds each counted context at its row, and no other (a hash index, probed past collisions)', () => {
    const big = SpatialPrior.fit([randomCodes(12, 8, 8, 40, 5), randomCodes(6, 8, 8, 40, 6)], 40, strength);
    const contexts = big.toArrays('')['contexts'] as Int32Array;
    const rows = contexts.length / 5;
    expect(rows).toBeGreaterThan(500);
    const idOf = (ctx: ArrayLike<number>, at: number) => (big as unknown as { contextId(c: ArrayLike<number>, a: number): number }).contextId(ctx, at);
    // the slow reference: a scan of the stored contexts
    const scan = (ctx: number[]) => {
      for (let r = 0; r < rows; r++) if (ctx.every((c, x) => contexts[r * 5 + x] === c)) return r;
      return -1;
    };
    for (let r = 0; r < rows; r++) expect(idOf(contexts, r * 5)).toBe(r);
    const rng = new Rng(8);
    let unseen = 0;
    for (let j = 0; j < 2000; j++) {
      const ctx = Array.from({ length: 5 }, () => rng.int(41));
      // a context read at an offset of a longer array, as the mixture reads a frame's contexts
      const at = rng.int(3);
      const padded = [...Array(at).fill(0), ...ctx, 7];
      const want = scan(ctx);
      if (want < 0) unseen++;
      expect(idOf(padded, at)).toBe(want);
    }
    expect(unseen).toBeGreaterThan(1000);
  });

  it('row is prob over every code (a distribution), and topRow its best codes in order', () => {
    const row = new Float32Array(K + 2);
    for (const { ctx } of probes) {
      prior.row(Int32Array.from([9, ...ctx]), 1, row, 2);
      let sum = 0;
      for (let x = 0; x < K; x++) {
        expect(Math.abs(row[2 + x] - prior.prob(ctx, 0, x))).toBeLessThan(1e-6);
        sum += row[2 + x];
      }
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      const order = Array.from({ length: K }, (_, x) => x).sort((a, b) => row[2 + b] - row[2 + a] || a - b);
      // twice each: topRow's scratch counts must be cleared between calls
      for (const m of [3, K, 3]) {
        const top = prior.topRow(ctx, 0, m);
        expect(Array.from(top.codes)).toEqual(order.slice(0, m));
        for (let j = 0; j < m; j++) expect(top.values[j]).toBe(prior.prob(ctx, 0, top.codes[j]));
      }
    }
    // contexts a grid never has (every neighbour outside) or that were not counted: still prob() in order
    for (const ctx of [[0, K, K, K, K], [K - 1, 0, 0, 0, 0]]) {
      const top = prior.topRow(ctx, 0, K);
      for (let j = 0; j < K; j++) expect(top.values[j]).toBe(prior.prob(ctx, 0, top.codes[j]));
      for (let j = 1; j < K; j++) expect(top.values[j]).toBeLessThanOrEqual(top.values[j - 1]);
    }
  });

  it('openRow gives prob(ctx, ·) bit for bit until closeRow, whose clearing leaves the next row right; a second open is E_STATE', () => {
    for (const rep of [0, 1]) {
      for (const { ctx } of [...probes, { ctx: [0, K, K, K, K] }]) {
        const p = prior.openRow(Int32Array.from([5, 5, ...ctx]), 2);
        try {
          expect({ rep, ctx, got: Array.from({ length: K }, (_, b) => p(b)) }).toEqual({ rep, ctx, got: Array.from({ length: K }, (_, b) => prior.prob(ctx, 0, b)) });
          expect(() => prior.openRow(ctx, 0)).toThrow(expect.objectContaining({ code: 'E_STATE' }));
        } finally {
          prior.closeRow();
        }
      }
    }
  });

  it('chooses its strengths by leave-one-out likelihood: no nearby pair of strengths does better', () => {
    const tuned = SpatialPrior.fit(vols, K);
    const s: [number, number] = [tuned.strength[0], tuned.strength[1]];
    const nll = (st: [number, number]) => seen.reduce((sum, e) => sum - Math.log(naiveProb(vols, st, e.ctx, e.b, e)), 0);
    const best = nll(s);
    for (const f of [0.8, 1.25]) {
      expect(best).toBeLessThanOrEqual(nll([s[0] * f, s[1]]) + 1e-6);
      expect(best).toBeLessThanOrEqual(nll([s[0], s[1] * f]) + 1e-6);
    }
    // the tuned prior's leave-one-out probabilities are the reference's at those strengths
    for (const e of seen.slice(0, 10)) expect(Math.abs(tuned.prob(e.ctx, 0, e.b, true) - naiveProb(vols, s, e.ctx, e.b, e))).toBeLessThan(1e-6);
  });

  it('with held-out codes, chooses its strengths by their likelihood (as counted, nothing left out)', () => {
    // held-out codes that change more often than the counted ones: they want more back-off than leave-one-out chose
    const held = randomCodes(5, 3, 4, K, 11);
    for (let t = 1; t < held.frames; t++) for (let i = 0; i < 12; i++) if (i % 3 === 0) held.codes[t * 12 + i] = held.codes[(t - 1) * 12 + i];
    const tuned = SpatialPrior.fit(vols, K, undefined, [held]);
    const s: [number, number] = [tuned.strength[0], tuned.strength[1]];
    const heldEvents = events([held]);
    const nll = (st: [number, number]) => heldEvents.reduce((sum, e) => sum - Math.log(naiveProb(vols, st, e.ctx, e.b)), 0);
    const best = nll(s);
    const inRange = (x: number) => x >= 1 / 32 && x <= 1024; // the search range
    for (const f of [0.8, 1.25]) {
      if (inRange(s[0] * f)) expect(best).toBeLessThanOrEqual(nll([s[0] * f, s[1]]) + 1e-6);
      if (inRange(s[1] * f)) expect(best).toBeLessThanOrEqual(nll([s[0], s[1] * f]) + 1e-6);
    }
    // and differs from the leave-one-out choice (the held-out frames are a different judge)
    const loo = SpatialPrior.fit(vols, K);
    expect(Math.abs(Math.log(loo.strength[0] / s[0])) + Math.abs(Math.log(loo.strength[1] / s[1]))).toBeGreaterThan(0.1);
    expect(best).toBeLessThan(nll([loo.strength[0], loo.strength[1]]));
    // the counts are the counted volumes' either way
    for (const e of heldEvents.slice(0, 10)) expect(Math.abs(tuned.prob(e.ctx, 0, e.b) - naiveProb(vols, s, e.ctx, e.b))).toBeLessThan(1e-6);
  });

  it('round-trips through its arrays and refuses broken ones with E_FORMAT', () => {
    const arrays = prior.toArrays('p:');
    const again = SpatialPrior.fromArrays(arrays, K, 'p:', 'test');
    for (const { ctx } of probes) for (let x = 0; x < K; x++) expect(again.prob(ctx, 0, x)).toBe(prior.prob(ctx, 0, x));
    const bad = (name: string, value: unknown) => () => SpatialPrior.fromArrays({ ...arrays, [`p:${name}`]: value } as never, K, 'p:', 'test');
    expect(bad('contexts', Int32Array.from(arrays['p:contexts'] as Int32Array, (x, j) => (j === 0 ? K : x)))).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    expect(bad('strength', Float32Array.of(1, 0))).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    // contexts are binary-searched: two rows swapped (or repeated) are refused
    const ctxs = arrays['p:contexts'] as Int32Array;
    const swapped = Int32Array.from(ctxs);
    swapped.set(ctxs.subarray(5, 10), 0);
    swapped.set(ctxs.subarray(0, 5), 5);
    expect(bad('contexts', swapped)).toThrow(/not strictly increasing at row 1/);
    const repeated = Int32Array.from(ctxs);
    repeated.set(ctxs.subarray(0, 5), 5);
    expect(bad('contexts', repeated)).toThrow(/not strictly increasing at row 1/);
    expect(bad('spatialStart', (arrays['p:spatialStart'] as Int32Array).slice(1))).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    expect(() => SpatialPrior.fromArrays(arrays, K + 1, 'p:', 'test')).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
  });

  it('a mixture refuses a prior of the other kind and a present tensor that is not [n, 5] contexts', async () => {
    await tf.setBackend('cpu');
    const m = createOutputLayer({ kind: 'full', k: K, hidden: 2, seed: 1, copy: true, prior: 'spatial' }) as MixtureOutput;
    expect(m).toBeInstanceOf(MixtureOutput);
    expect(m.width).toBe(5);
    expect(() => m.setPrior(SparseBigram.fit(vols, K))).toThrow(expect.objectContaining({ code: 'E_STATE' }));
    m.setPrior(prior);
    const h = tf.zeros([2, 2]) as tf.Tensor2D;
    const t = tf.tensor1d([0, 1], 'int32');
    expect(() => m.logProb(h, t, tf.tensor1d([0, 1], 'int32'))).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    expect(() => m.logProb(h, t, tf.tensor2d([0, 1, 2, 3, K + 1, 1, K, K, K, K], [2, 5], 'int32'))).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    expect(() => m.logProbsAll(h, tf.tensor2d([K, 1, 2, 3, 4, 1, K, K, K, K], [2, 5], 'int32'))).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    m.dispose();
  });
});
