import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { randomCodes } from '../testing';
import { createOutputLayer, MixtureOutput, type OutputLayer, type OutputLayerOptions, SparseBigram, topCandidates } from './index';
import type { FactoredSoftmax } from './factored';
import { offerTop, offerTopOnce, presentExtras } from './top';

const K = 23;
const HIDDEN = 5;
const N = 9;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const made: OutputLayer[] = [];
afterAll(() => made.forEach((l) => l.dispose()));

/** A layer with random weights of `scale` (larger: more peaked distributions). */
function layer(opts: Partial<OutputLayerOptions>, scale: number, seed = 3): OutputLayer {
  const out = createOutputLayer({ kind: 'full', k: K, hidden: HIDDEN, seed, ...opts });
  made.push(out);
  const rng = new Rng(seed + 100);
  for (const v of out.variables) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => rng.normal() * scale), v.shape));
  return out;
}

function inputs(seed: number): { h: tf.Tensor2D; present: Int32Array } {
  const rng = new Rng(seed);
  return { h: tf.tensor2d(Float32Array.from({ length: N * HIDDEN }, () => rng.normal()), [N, HIDDEN]), present: Int32Array.from({ length: N }, () => rng.int(K)) };
}

/** The slow reference: every probability from logProbsAll, each row fully sorted (ties: lower code first). */
function reference(out: OutputLayer, h: tf.Tensor2D, present: Int32Array, m: number): { codes: number[][]; probs: Float64Array } {
  const lp = tf.tidy(() => out.logProbsAll(h, out.direct || out instanceof MixtureOutput ? tf.tensor1d(present, 'int32') : undefined).dataSync());
  const probs = Float64Array.from(lp, Math.exp);
  const codes = Array.from({ length: N }, (_, i) => {
    const p = probs.subarray(i * K, (i + 1) * K);
    return Array.from(p, (_, c) => c).sort((x, y) => p[y] - p[x] || x - y).slice(0, m);
  });
  return { codes, probs };
}

function stickyCodes(seed: number): CodeVolume {
  const rng = new Rng(seed);
  const v = randomCodes(8, 3, 3, K, seed);
  for (let t = 1; t < 8; t++) for (let i = 0; i < 9; i++) if (rng.next() < 0.6) v.codes[t * 9 + i] = v.codes[(t - 1) * 9 + i];
  return v;
}

const FREQ = Array.from({ length: K }, (_, i) => (i * 7) % 11);
const CASES: Array<[string, Partial<OutputLayerOptions>]> = [
  ['full', {}],
  ['full, direct', { direct: true }],
  ['factored, equal classes', { kind: 'factored', classes: 5 }],
  ['factored, frequency classes', { kind: 'factored', classes: 4, frequencies: FREQ }],
  ['full, copy', { copy: true }],
  ['full, copy + bigram', { copy: true, prior: 'bigram' }],
  ['factored, copy + bigram', { kind: 'factored', classes: 5, copy: true, prior: 'bigram' }],
  ['factored, bigram without a table (uniform)', { kind: 'factored', classes: 5, prior: 'bigram' }],
  ['full, direct, copy', { direct: true, copy: true }],
];

describe('topCandidates agrees with the whole distribution', () => {
  test.each(CASES)('%s', (name, opts) => {
    for (const scale of [0.3, 1, 3]) {
      for (const seed of [1, 2, 3]) {
        const out = layer(opts, scale, seed);
        if (out instanceof MixtureOutput && out.components.includes('prior') && !name.includes('without')) out.setPrior(SparseBigram.fit([stickyCodes(seed)], K));
        const { h, present } = inputs(seed + 10);
        for (const m of [1, 4, K]) {
          const want = reference(out, h, present, m);
          const pt = tf.tensor1d(present, 'int32');
          const got = topCandidates(out, h, present, pt, m)!;
          pt.dispose();
          expect(got).not.toBeNull();
          for (let i = 0; i < N; i++) {
            const p = want.probs.subarray(i * K, (i + 1) * K);
            const codes = Array.from(got.codes.subarray(i * m, (i + 1) * m));
            // every probability is the distribution's, within float32 rounding
            codes.forEach((c, j) => expect(Math.abs(got.probs[i * m + j] - p[c])).toBeLessThan(2e-6));
            expect(Math.abs(got.presentProbs[i] - p[present[i]])).toBeLessThan(2e-6);
            if (got.exact[i] === 1) {
              // the same codes as the sort, except where two probabilities are equal within rounding
              codes.forEach((c, j) => {
                if (c !== want.codes[i][j]) expect(Math.abs(p[c] - p[want.codes[i][j]])).toBeLessThan(2e-6);
              });
            }
          }
          // without a class beam every list is proven (mixtures search deeper where their bound is loose)
          expect(Array.from(got.exact).every((e) => e === 1)).toBe(true);
        }
        h.dispose();
      }
    }
  });

  test('a class beam visits at most that many classes; its probabilities stay exact', () => {
    const out = layer({ kind: 'factored', classes: 6 }, 0.5, 4);
    const { h, present } = inputs(5);
    const want = reference(out, h, present, 4);
    const got = topCandidates(out, h, present, undefined, 4, 1)!;
    const classOf = (out.toJSON().classOf as number[]);
    for (let i = 0; i < N; i++) {
      const codes = Array.from(got.codes.subarray(i * 4, (i + 1) * 4));
      codes.forEach((c, j) => expect(Math.abs(got.probs[i * 4 + j] - want.probs[i * K + c])).toBeLessThan(2e-6));
      // one class from the beam plus the present code's class
      expect(new Set(codes.map((c) => classOf[c])).size).toBeLessThanOrEqual(2);
    }
    // flat class probabilities: some cell needs more than one class, so some list is marked not exact
    expect(Array.from(got.exact).some((e) => e === 0)).toBe(true);
    expect(() => topCandidates(out, h, present, undefined, 4, 0)).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    expect(() => topCandidates(out, h, present, undefined, K + 1)).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    h.dispose();
  });

  test('a floor stops the class search early; the bound still covers every code outside the list', () => {
    const out = layer({ kind: 'factored', classes: 12 }, 0.5, 7) as unknown as FactoredSoftmax;
    const { h, present } = inputs(8);
    const want = reference(out as unknown as OutputLayer, h, present, K);
    const extras = presentExtras(present);
    const m = 3;
    const free = out.logCandidates(h, undefined, m, extras, Infinity)!;
    let saved = 0;
    for (const level of [0.3, 0.05, 0.001]) {
      const floor = new Float64Array(N).fill(Math.log(level));
      const got = out.logCandidates(h, undefined, m, extras, Infinity, floor)!;
      for (let i = 0; i < N; i++) {
        const p = want.probs.subarray(i * K, (i + 1) * K);
        const list = Array.from(got.codes.subarray(i * m, (i + 1) * m));
        // listed values are exact; no code outside the list is above the bound
        list.forEach((c, j) => c >= 0 && expect(Math.abs(Math.exp(got.logq[i * m + j]) - p[c])).toBeLessThan(2e-6));
        for (let c = 0; c < K; c++) if (!list.includes(c)) expect(Math.log(p[c])).toBeLessThanOrEqual(got.bound[i] + 1e-6);
        // and the search stopped only where that bound is the list's m-th value or at most the floor
        expect(got.bound[i]).toBeLessThanOrEqual(Math.max(got.logq[i * m + m - 1], floor[i]));
        // every code above the floor is listed in its true order
        const above = want.codes[i].filter((c) => Math.log(p[c]) > Math.log(level) + 1e-6).slice(0, m);
        expect(list.slice(0, above.length)).toEqual(above);
        expect(got.extraLogq[i]).toBeCloseTo(Math.log(p[present[i]]), 5);
        expect(got.classesVisited![i]).toBeLessThanOrEqual(free.classesVisited![i]);
        saved += free.classesVisited![i] - got.classesVisited![i];
      }
    }
    // some cell that searched on without a floor stops early with one
    expect(saved).toBeGreaterThan(0);
    expect(() => out.logCandidates(h, undefined, m, extras, Infinity, new Float64Array(N - 1))).toThrow(expect.objectContaining({ code: 'E_SHAPE', details: expect.objectContaining({ argument: 'floor' }) }));
    h.dispose();
  });

  test('direct factored layers fall back (null); no tensor is left behind', () => {
    const direct = layer({ kind: 'factored', classes: 5, direct: true }, 1);
    const { h, present } = inputs(6);
    const pt = tf.tensor1d(present, 'int32');
    expect(topCandidates(direct, h, present, pt, 3)).toBeNull();
    const mixed = layer({ kind: 'factored', classes: 5, copy: true, prior: 'bigram' }, 1);
    (mixed as MixtureOutput).setPrior(SparseBigram.fit([stickyCodes(2)], K));
    topCandidates(mixed, h, present, undefined, 3);
    const before = tf.memory().numTensors;
    for (let r = 0; r < 3; r++) topCandidates(mixed, h, present, undefined, 3);
    expect(tf.memory().numTensors).toBe(before);
    pt.dispose();
    h.dispose();
  });
});

describe('offerTop and SparseBigram.topRow', () => {
  test('offerTop keeps the m best, ties to the lower code, like a full sort', () => {
    const rng = new Rng(8);
    for (let rep = 0; rep < 20; rep++) {
      const vals = Array.from({ length: 30 }, () => rng.int(6));
      const m = 1 + rng.int(8);
      const codes = new Int32Array(m).fill(-1);
      const v = new Float64Array(m).fill(-Infinity);
      const order = vals.map((_, i) => i).sort(() => rng.next() - 0.5); // offered in any order
      for (const i of order) offerTop(codes, v, 0, m, i, vals[i]);
      const want = vals.map((_, i) => i).sort((a, b) => vals[b] - vals[a] || a - b).slice(0, m);
      expect(Array.from(codes)).toEqual(want);
    }
  });

  test('offerTopOnce leaves the list that looking for the code, then offerTop, leaves (repeats and ties)', () => {
    const rng = new Rng(12);
    for (let rep = 0; rep < 300; rep++) {
      const m = 1 + rng.int(6);
      const got = { codes: new Int32Array(m).fill(-1), vals: new Float64Array(m).fill(-Infinity) };
      const want = { codes: got.codes.slice(), vals: got.vals.slice() };
      const value = new Map<number, number>(); // a code keeps its value, as a prior's p(code) does
      for (let j = 0; j < 25; j++) {
        const code = rng.int(12);
        if (!value.has(code)) value.set(code, rng.int(4) === 0 ? -Infinity : rng.int(5));
        const v = value.get(code)!;
        offerTopOnce(got.codes, got.vals, 0, m, code, v);
        if (!Array.from(want.codes).includes(code)) offerTop(want.codes, want.vals, 0, m, code, v);
        expect({ rep, j, codes: Array.from(got.codes), vals: Array.from(got.vals) }).toEqual({ rep, j, codes: Array.from(want.codes), vals: Array.from(want.vals) });
      }
    }
  });

  test('topRow is the m largest p(· | a) by a full sort', () => {
    const table = SparseBigram.fit([stickyCodes(3)], K);
    for (let a = 0; a < K; a++) {
      const p = Array.from({ length: K }, (_, b) => table.prob(a, b));
      const want = p.map((_, b) => b).sort((x, y) => p[y] - p[x] || x - y).slice(0, 5);
      const got = table.topRow(a, 5);
      expect(Array.from(got.codes)).toEqual(want);
      want.forEach((b, j) => expect(got.values[j]).toBeCloseTo(p[b], 12));
    }
  });

  test('withRow gives prob(a, ·) bit for bit, for every row, no row (a = −1), and again after (scratch cleared)', () => {
    const table = SparseBigram.fit([stickyCodes(3)], K);
    for (const rep of [0, 1]) {
      for (let a = -1; a < K; a++) {
        const got = table.withRow(a, (p) => Array.from({ length: K }, (_, b) => p(b)));
        expect({ rep, a, got }).toEqual({ rep, a, got: Array.from({ length: K }, (_, b) => table.prob(a, b)) });
      }
    }
  });
});
