import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { randomCodes } from '../testing';
import { createOutputLayer, MixtureOutput, type OutputLayer, type OutputLayerOptions, SparseBigram, topCandidates } from './index';
import { classLse, classOrder, type FactoredSoftmax } from './factored';
import { largest, type LogCandidates, mergeTop, offerTop, offerTopOnce, presentExtras, type SearchMemo, topOfRows } from './top';

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

  test('a round visits no class below the list\'s m-th: those after it are left, the list the same', () => {
    // 9 classes of 2 codes, flat within each; p(class) = 0.3, 0.16 x3, then 0.155, then 4 of 0.01625
    const out = createOutputLayer({ kind: 'factored', k: 18, hidden: HIDDEN, seed: 1, classes: 9 }) as unknown as FactoredSoftmax;
    made.push(out as unknown as OutputLayer);
    const pc = [0.3, 0.16, 0.16, 0.16, 0.155, 0.01625, 0.01625, 0.01625, 0.01625];
    const [wc, bc, wx, bx] = out.variables;
    wc.assign(tf.zeros(wc.shape));
    bc.assign(tf.tensor1d(pc.map(Math.log)));
    wx.assign(tf.zeros(wx.shape));
    bx.assign(tf.zeros(bx.shape));
    const h = tf.zeros([1, HIDDEN]) as tf.Tensor2D;
    const got = out.logCandidates(h, undefined, 1, presentExtras(Int32Array.of(1)), Infinity)!;
    // the first round's 4 classes give a best code of q = 0.15 (code 0: ties go to the lower code); class 4 (0.155)
    // may still hold a better one, so the cell goes on, but the classes after it (0.01625 < 0.15) cannot
    expect(Array.from(got.codes)).toEqual([0]);
    expect(got.logq[0]).toBeCloseTo(Math.log(0.15), 6);
    expect(got.bound[0]).toBeCloseTo(Math.log(0.15), 6);
    expect(got.exact[0]).toBe(1);
    expect(Array.from(got.classesVisited!)).toEqual([5]);
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

  test('long lists (placed by binary search) keep the m best like a full sort: ties, −∞ values, a list at an offset', () => {
    const rng = new Rng(21);
    for (const m of [63, 64, 65, 100, 130]) {
      for (let rep = 0; rep < 6; rep++) {
        const n = m + rng.int(3 * m);
        // few distinct values: many ties; some −∞ (they fill empty slots, after every finite value)
        const vals = Array.from({ length: n }, () => (rng.int(9) === 0 ? -Infinity : rng.int(12)));
        const base = 7;
        const codes = new Int32Array(base + m + 3).fill(-5);
        const v = new Float64Array(base + m + 3).fill(99);
        codes.fill(-1, base, base + m);
        v.fill(-Infinity, base, base + m);
        const order = vals.map((_, i) => i).sort(() => rng.next() - 0.5);
        for (const i of order) offerTop(codes, v, base, m, i, vals[i]);
        const want = vals.map((_, i) => i).sort((a, b) => (vals[b] === vals[a] ? a - b : vals[b] > vals[a] ? 1 : -1)).slice(0, m);
        expect({ m, rep, codes: Array.from(codes.subarray(base, base + m)) }).toEqual({ m, rep, codes: want.concat(Array(Math.max(0, m - want.length)).fill(-1)) });
        want.forEach((c, j) => expect(v[base + j]).toBe(vals[c]));
        // nothing outside the list's slots is touched
        expect(Array.from(codes.subarray(0, base)).concat(Array.from(codes.subarray(base + m)))).toEqual(Array(base + 3).fill(-5));
        expect(Array.from(v.subarray(0, base)).concat(Array.from(v.subarray(base + m)))).toEqual(Array(base + 3).fill(99));
      }
    }
  });

  test('topOfRows leaves the lists of offering every value in order: ties, ±0, ±∞, NaN, clustered rows, every m', () => {
    const rng = new Rng(33);
    /** The plain reference: each row's values offered one by one, in code order. */
    const offered = (z: Float32Array, n: number, k: number, m: number) => {
      const codes = new Int32Array(n * m).fill(-1);
      const vals = new Float64Array(n * m).fill(-Infinity);
      for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) if (z[i * k + c] >= vals[i * m + m - 1]) offerTop(codes, vals, i * m, m, c, z[i * k + c]);
      return { codes: Array.from(codes), vals: Array.from(vals) };
    };
    const kinds = ['normal', 'few values', 'specials', 'ascending', 'descending', 'mostly NaN'] as const;
    for (const k of [1, 7, 64, 100, 1024]) {
      for (const m of new Set([1, 2, 3, Math.max(1, Math.floor(k / 4)), Math.floor(k / 4) + 1, k].filter((x) => x >= 1 && x <= k))) {
        for (const kind of kinds) {
          const n = 5;
          const z = new Float32Array(n * k);
          for (let j = 0; j < z.length; j++) {
            const c = j % k;
            z[j] =
              kind === 'normal' ? rng.normal() : kind === 'few values' ? rng.int(4) - 2 : kind === 'ascending' ? c + rng.int(3) : kind === 'descending' ? -c - rng.int(3)
              : kind === 'mostly NaN' ? (rng.int(5) === 0 ? rng.int(3) : NaN)
              : [0, -0, Infinity, -Infinity, NaN, 1, -1, 2 ** -149][rng.int(8)];
          }
          const codes = new Int32Array(n * m).fill(-1);
          const vals = new Float64Array(n * m).fill(-Infinity);
          topOfRows(z, n, k, m, codes, vals);
          const want = offered(z, n, k, m);
          expect({ k, m, kind, codes: Array.from(codes) }).toEqual({ k, m, kind, codes: want.codes });
          // the same values, −0 as −0
          expect(Array.from(vals).every((v, j) => Object.is(v, want.vals[j]))).toBe(true);
        }
      }
    }
  });

  test('classLse is ln Σ exp of the class (float64 reference) within 3e-7, from the backend\'s softmax; never below its largest logit', () => {
    const rng = new Rng(35);
    for (let rep = 0; rep < 60; rep++) {
      const size = 1 + rng.int(rep < 30 ? 8 : 300);
      const scale = [0.1, 1, 10, 40][rep % 4];
      const offset = rng.int(3) === 0 ? 0 : 3 + rng.int(5);
      // the class sits inside a longer row (at > 0), logits with ties and a spread up to ±120
      const z = new Float32Array(size + offset + 2).map(() => (rng.int(6) === 0 ? 1.5 : rng.normal() * scale));
      const p = tf.tidy(() => tf.softmax(tf.tensor2d(z.subarray(offset, offset + size), [1, size])).dataSync() as Float32Array);
      const pRow = new Float32Array(z.length);
      pRow.set(p, offset);
      const got = classLse(z, pRow, offset, size);
      const zs = Array.from(z.subarray(offset, offset + size));
      const max = Math.max(...zs);
      const want = max + Math.log(zs.reduce((a, v) => a + Math.exp(v - max), 0));
      expect({ rep, err: Math.abs(got - want) <= 3e-7 * Math.max(1, Math.abs(want)) }).toEqual({ rep, err: true });
      expect(got).toBeGreaterThanOrEqual(max);
    }
  });

  test('largest is the m-th largest of a sort (ties, ±∞), for every m', () => {
    const rng = new Rng(34);
    for (let rep = 0; rep < 200; rep++) {
      const len = 1 + rng.int(40);
      const a = Float64Array.from({ length: len }, () => [rng.int(5), -Infinity, Infinity, rng.normal()][rng.int(4)]);
      const sorted = Array.from(a).sort((x, y) => y - x || 0);
      const m = 1 + rng.int(len);
      expect(largest(a.slice(), len, m)).toBe(sorted[m - 1]);
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

  test('topRow is the m largest p(· | a) by a full sort, bit for bit; topRowInto writes it at an offset only', () => {
    const table = SparseBigram.fit([stickyCodes(3)], K);
    for (let a = 0; a < K; a++) {
      const p = Array.from({ length: K }, (_, b) => table.prob(a, b));
      for (const m of [1, 5, K]) {
        const want = p.map((_, b) => b).sort((x, y) => p[y] - p[x] || x - y).slice(0, m);
        const got = table.topRow(a, m);
        expect(Array.from(got.codes)).toEqual(want);
        want.forEach((b, j) => expect(got.values[j]).toBe(p[b]));
        const codes = new Int32Array(m + 4).fill(7);
        const values = new Float64Array(m + 4).fill(0.5);
        table.topRowInto(a, m, codes, values, 2);
        expect(Array.from(codes)).toEqual([7, 7, ...want, 7, 7]);
        expect(Array.from(values)).toEqual([0.5, 0.5, ...got.values, 0.5, 0.5]);
      }
    }
  });

  test('mergeTop leaves the list offerTop builds from the same entries (ties, −∞, a second list out of code order)', () => {
    const rng = new Rng(31);
    for (let rep = 0; rep < 400; rep++) {
      const m = 1 + rng.int(8);
      const codes = rng.shuffle(Array.from({ length: 30 }, (_, i) => i));
      const na = rng.int(8);
      const nb = rng.int(10);
      const value = () => (rng.int(6) === 0 ? -Infinity : rng.int(5));
      // a: already in order; b: values non-increasing, ties in any code order
      const a = codes.slice(0, na).map((c) => ({ c, v: value() })).sort((x, y) => y.v - x.v || x.c - y.c);
      const bv = Array.from({ length: nb }, value).sort((x, y) => y - x);
      const b = codes.slice(na, na + nb).map((c, j) => ({ c, v: bv[j] }));
      const want = { codes: new Int32Array(m).fill(-1), vals: new Float64Array(m).fill(-Infinity) };
      for (const e of [...a, ...b]) offerTop(want.codes, want.vals, 0, m, e.c, e.v);
      const got = { codes: new Int32Array(m + 3).fill(99), vals: new Float64Array(m + 3).fill(9) };
      const bCodes = Int32Array.from(b, (e) => e.c);
      const bVals = Float64Array.from(b, (e) => e.v);
      mergeTop(Int32Array.from(a, (e) => e.c), Float64Array.from(a, (e) => e.v), na, bCodes, bVals, nb, got.codes, got.vals, 1, m);
      expect({ rep, codes: Array.from(got.codes), vals: Array.from(got.vals) }).toEqual({ rep, codes: [99, ...want.codes, 99, 99], vals: [9, ...want.vals, 9, 9] });
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

  test('openRow gives prob(a, ·) bit for bit until closeRow; a second open before closing is E_STATE, and the row after is still right', () => {
    const table = SparseBigram.fit([stickyCodes(3)], K);
    for (const a of [2, -1, 0, K - 1, 2]) {
      const p = table.openRow(a);
      try {
        expect({ a, got: Array.from({ length: K }, (_, b) => p(b)) }).toEqual({ a, got: Array.from({ length: K }, (_, b) => table.prob(a, b)) });
        expect(() => table.openRow(a === 0 ? 1 : 0)).toThrow(expect.objectContaining({ code: 'E_STATE' }));
      } finally {
        table.closeRow();
      }
    }
    // closing twice is harmless, and withRow opens after it
    table.closeRow();
    expect(table.withRow(1, (p) => p(1))).toBe(table.prob(1, 1));
  });
});

describe('the factored search: class order, skipped classes and the memo of a deeper pass', () => {
  const BIG_K = 240;
  const CELLS = 30;
  // frequency classes of unequal sizes
  const BIG_FREQ = Array.from({ length: BIG_K }, (_, i) => 1 + ((i * 37) % 101) * (i % 3 === 0 ? 20 : 1));

  function bigLayer(scale: number, seed: number): FactoredSoftmax {
    const out = createOutputLayer({ kind: 'factored', k: BIG_K, hidden: HIDDEN, seed, classes: 8, frequencies: BIG_FREQ });
    made.push(out);
    const rng = new Rng(seed + 50);
    for (const v of out.variables) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => rng.normal() * scale), v.shape));
    return out as unknown as FactoredSoftmax;
  }

  function bigInputs(seed: number): { h: tf.Tensor2D; present: Int32Array } {
    const rng = new Rng(seed);
    return { h: tf.tensor2d(Float32Array.from({ length: CELLS * HIDDEN }, () => rng.normal()), [CELLS, HIDDEN]), present: Int32Array.from({ length: CELLS }, () => rng.int(BIG_K)) };
  }

  test('classOrder sorts each row by value descending, ties (−0 and 0 too) by lower class first; ±∞ and tiny values', () => {
    const rng = new Rng(31);
    const n = 17;
    const nc = 11;
    const lc = Float32Array.from({ length: n * nc }, () => [-Infinity, Infinity, -0, 0, -2.5, 1e-30, -1e-30, 3][rng.int(8)] * (1 + rng.int(3)));
    const order = classOrder(lc, n, nc);
    for (let i = 0; i < n; i++) {
      const row = Array.from(lc.subarray(i * nc, (i + 1) * nc));
      const want = row.map((_, c) => c).sort((a, b) => (row[a] === row[b] ? a - b : row[b] > row[a] ? 1 : -1));
      expect(Array.from(order.subarray(i * nc, (i + 1) * nc))).toEqual(want);
    }
  });

  test('every list is the sort of the whole distribution (classes whose ceiling is below the list are skipped)', () => {
    for (const scale of [0.3, 1, 2.5]) {
      const out = bigLayer(scale, 3);
      const { h, present } = bigInputs(7);
      const lp = tf.tidy(() => out.logProbsAll(h).dataSync());
      for (const m of [1, 5, 20]) {
        const got = out.logCandidates(h, undefined, m, presentExtras(present), Infinity)!;
        for (let i = 0; i < CELLS; i++) {
          const row = lp.subarray(i * BIG_K, (i + 1) * BIG_K);
          const want = Array.from(row, (_, c) => c).sort((a, b) => row[b] - row[a] || a - b).slice(0, m);
          const codes = Array.from(got.codes.subarray(i * m, (i + 1) * m));
          codes.forEach((c, j) => {
            expect(Math.abs(got.logq[i * m + j] - row[c])).toBeLessThan(1e-5);
            if (c !== want[j]) expect(Math.abs(row[c] - row[want[j]])).toBeLessThan(1e-6);
          });
          expect(Math.abs(got.extraLogq[i] - row[present[i]])).toBeLessThan(1e-5);
        }
      }
      h.dispose();
    }
  });

  test('a deeper pass with the memo gives the bits of a pass without it, scoring fewer classes; new weights start afresh', async () => {
    const out = bigLayer(0.4, 5);
    const { h, present } = bigInputs(9);
    const all = Int32Array.from({ length: CELLS }, (_, i) => i);
    out.logCandidates(h, undefined, 1, presentExtras(present), Infinity); // builds the layer's cached weight parts
    const tensorsBefore = tf.memory().numTensors;
    const memo: SearchMemo = { cells: all };
    out.logCandidates(h, undefined, 4, presentExtras(present), Infinity, undefined, memo);
    const cells = all.filter((i) => i % 3 !== 1);
    const sub = tf.tensor1d(cells, 'int32');
    const hs = tf.gather(h, sub) as tf.Tensor2D;
    const extras = presentExtras(Int32Array.from(cells, (i) => present[i]));
    memo.cells = cells;
    // products run (kernels named *MatMul), counted by tf.profile
    const matMuls = async (fn: () => void): Promise<number> => (await tf.profile(fn)).kernels.filter((k) => k.name.endsWith('MatMul')).length;
    let fresh: LogCandidates | null = null;
    let reused: LogCandidates | null = null;
    const freshProducts = await matMuls(() => void (fresh = out.logCandidates(hs, undefined, 16, extras, Infinity)));
    const reusedProducts = await matMuls(() => void (reused = out.logCandidates(hs, undefined, 16, extras, Infinity, undefined, memo)));
    expect(freshProducts).toBeGreaterThan(1);
    expect(reused).toEqual(fresh);
    expect(reusedProducts).toBeLessThan(freshProducts);
    // new member weights: the memo's logits are stale, and are not used
    const wx = out.variables.find((v) => v.shape[1] === BIG_K && v.shape[0] === HIDDEN)!;
    tf.tidy(() => wx.assign(tf.mul(wx, 1.5)));
    const again = out.logCandidates(hs, undefined, 16, extras, Infinity, undefined, memo);
    expect(again).toEqual(out.logCandidates(hs, undefined, 16, extras, Infinity));
    expect(again).not.toEqual(fresh);
    expect(() => out.logCandidates(hs, undefined, 16, extras, Infinity, undefined, { cells: all })).toThrow(expect.objectContaining({ code: 'E_SHAPE', details: expect.objectContaining({ argument: 'memo.cells' }) }));
    expect(() => out.logCandidates(hs, undefined, 16, extras, Infinity, undefined, { cells: Int32Array.from(cells, (c, j) => (j === 2 ? -1 : c)) })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    // the memo kept the scored logits as tensors; releasing it frees them all
    expect(tf.memory().numTensors).toBeGreaterThan(tensorsBefore + 3);
    memo.release!();
    tf.dispose([h, sub, hs]);
    expect(tf.memory().numTensors).toBe(tensorsBefore - 1);
  });
});
