import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { randomCodes } from '../testing';
import { createOutputLayer, emGateWeights, MixtureOutput, type OutputLayer, SparseBigram, SpatialPrior, spatialContext, topCandidates } from './index';

const K = 7;
const FREQ = [50, 3, 20, 1, 9, 30, 2];

function randomise(layer: OutputLayer, seed: number, scale = 0.7): void {
  const rng = new Rng(seed);
  for (const v of layer.variables) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => rng.normal() * scale), v.shape));
}

/** Codes with a strong same-code tendency, so the bigram rows differ from each other. */
function stickyCodes(frames: number, seed: number): CodeVolume {
  const rng = new Rng(seed);
  const v = randomCodes(frames, 3, 4, K, seed);
  const n = 12;
  for (let t = 1; t < frames; t++) for (let i = 0; i < n; i++) if (rng.next() < 0.6) v.codes[t * n + i] = v.codes[(t - 1) * n + i];
  return v;
}

const made: OutputLayer[] = [];
function mixture(kind: 'full' | 'factored', copy: boolean, prior: 'bigram' | 'spatial' | 'none', withTable = true): MixtureOutput {
  const layer = createOutputLayer({ kind, k: K, hidden: 3, seed: 5, classes: 3, frequencies: FREQ, copy, prior });
  made.push(layer);
  expect(layer).toBeInstanceOf(MixtureOutput);
  const m = layer as MixtureOutput;
  if (prior === 'bigram' && withTable) m.setPrior(SparseBigram.fit([stickyCodes(9, 3)], K));
  if (prior === 'spatial' && withTable) m.setPrior(SpatialPrior.fit([stickyCodes(9, 3)], K));
  randomise(m, 11);
  return m;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => made.forEach((l) => l.dispose()));

/**
 * Float64 reference: π = softmax(h·Wg + bg), q from the inner layer, p = Σ π_j·component_j; `ctx` the cells'
 * contexts (width m.width, present code first), the prior's probabilities from its own (separately tested) table.
 */
function reference(m: MixtureOutput, h: Float32Array, n: number, ctx: Int32Array): Float64Array {
  const present = Int32Array.from({ length: n }, (_, i) => ctx[i * m.width]);
  const q = tf.tidy(() => m.inner.logProbsAll(tf.tensor2d(h, [n, m.hidden]), m.direct ? tf.tensor1d(present, 'int32') : undefined).dataSync());
  const vars = m.variables;
  const wg = vars[vars.length - 2].dataSync();
  const bg = vars[vars.length - 1].dataSync();
  const c = m.components.length;
  const out = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: c }, (_, j) => {
      let s = bg[j];
      for (let d = 0; d < m.hidden; d++) s += h[i * m.hidden + d] * wg[d * c + j];
      return s;
    });
    const zmax = Math.max(...z);
    const e = z.map((v) => Math.exp(v - zmax));
    const pi = e.map((v) => v / e.reduce((a, b) => a + b, 0));
    for (let x = 0; x < K; x++) {
      let p = 0;
      m.components.forEach((comp, j) => {
        if (comp === 'net') p += pi[j] * Math.exp(q[i * K + x]);
        else if (comp === 'copy') p += x === present[i] ? pi[j] : 0;
        else p += pi[j] * (m.prior ? m.priorProbAt(ctx, i * m.width, x) : 1 / K);
      });
      out[i * K + x] = Math.log(p);
    }
  }
  return out;
}

describe.each([
  ['full', true, 'bigram'],
  ['factored', true, 'bigram'],
  ['full', true, 'none'],
  ['factored', false, 'bigram'],
  ['full', true, 'spatial'],
  ['factored', true, 'spatial'],
] as const)('%s softmax, copy %s, prior %s', (kind, copy, prior) => {
  const n = 6;
  const h = Float32Array.from({ length: n * 3 }, (_, i) => Math.sin(i * 1.7) * 1.3);
  // six cells of a 2 x 3 frame; a spatial prior reads each one's neighbours too (K outside the frame)
  const present = Int32Array.from([0, 2, 2, 5, 6, 1]);
  const ctx = prior === 'spatial' ? spatialContext(present, 2, 3, K) : present;
  const presentTensor = () => (prior === 'spatial' ? tf.tensor2d(ctx, [n, 5], 'int32') : tf.tensor1d(present, 'int32'));

  it('logProbsAll equals the float64 definition, rows sum to 1, and logProb picks its entries', () => {
    const m = mixture(kind, copy, prior);
    const ref = reference(m, h, n, ctx);
    const all = tf.tidy(() => m.logProbsAll(tf.tensor2d(h, [n, 3]), presentTensor()).dataSync());
    for (let i = 0; i < all.length; i++) expect(Math.abs(all[i] - ref[i])).toBeLessThan(2e-5);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let x = 0; x < K; x++) s += Math.exp(all[i * K + x]);
      expect(Math.abs(s - 1)).toBeLessThan(1e-5);
    }
    const targets = Int32Array.from([0, 2, 3, 5, 1, 4]); // two rows copy, four change
    const lp = tf.tidy(() => m.logProb(tf.tensor2d(h, [n, 3]), tf.tensor1d(targets, 'int32'), presentTensor()).dataSync());
    for (let i = 0; i < n; i++) expect(Math.abs(lp[i] - ref[i * K + targets[i]])).toBeLessThan(2e-5);
    // the exact top lists are the best entries of the whole distribution
    const tensors = tf.memory().numTensors;
    const top = tf.tidy(() => topCandidates(m, tf.tensor2d(h, [n, 3]), present, presentTensor(), 3));
    expect(tf.memory().numTensors).toBe(tensors);
    for (let i = 0; i < n; i++) {
      const order = Array.from({ length: K }, (_, x) => x).sort((a, b) => ref[i * K + b] - ref[i * K + a]);
      for (let j = 0; j < 3; j++) expect(Math.abs(Math.log(top!.probs[i * 3 + j]) - ref[i * K + order[j]])).toBeLessThan(2e-5);
      expect(Math.abs(Math.log(top!.presentProbs[i]) - ref[i * K + present[i]])).toBeLessThan(2e-5);
    }
  });

  it('gradients of logProb w.r.t. h and every variable match central finite differences', () => {
    const m = mixture(kind, copy, prior);
    const hv = tf.tensor2d(h, [n, 3]);
    const targets = tf.tensor1d([0, 2, 3, 5, 1, 4], 'int32');
    const pres = presentTensor();
    const r = tf.tensor1d([0.3, -1.1, 0.8, 0.5, -0.4, 0.9]);
    const loss = (x: tf.Tensor2D) => tf.sum(tf.mul(m.logProb(x, targets, pres, true), r)) as tf.Scalar;
    const analytic = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => loss(hv), m.variables);
      return [tf.grad(loss)(hv), ...m.variables.map((v) => grads[v.name])];
    });
    const eps = 1e-2;
    const sets: Array<{ values: Float32Array; set: (x: Float32Array) => void }> = [
      { values: hv.dataSync() as Float32Array, set: () => undefined },
      ...m.variables.map((v) => ({ values: v.dataSync() as Float32Array, set: (x: Float32Array) => v.assign(tf.tensor(x, v.shape)) })),
    ];
    sets.forEach((target, ti) => {
      const base = Float32Array.from(target.values);
      const g = analytic[ti].dataSync();
      const at = (i: number, d: number) => {
        const x = Float32Array.from(base);
        x[i] += d;
        target.set(x);
        return tf.tidy(() => loss(ti === 0 ? tf.tensor2d(x, [n, 3]) : hv).dataSync()[0]);
      };
      for (let i = 0; i < base.length; i++) {
        const fd = (at(i, eps) - at(i, -eps)) / (2 * eps);
        expect(Math.abs(g[i] - fd)).toBeLessThanOrEqual(2e-3 + 1e-2 * Math.abs(fd));
      }
      target.set(base);
    });
    // the gate weights (last two variables) get a real gradient of their own
    expect(tf.tidy(() => tf.max(tf.abs(analytic[analytic.length - 2])).dataSync()[0])).toBeGreaterThan(0.01);
    tf.dispose([hv, targets, pres, r, ...analytic]);
  });
});

describe('SparseBigram', () => {
  it('gives the same probabilities pair by pair (prob) and row by row (row), each row a distribution', () => {
    // correctness against a slow Witten-Bell reference: direct.test.ts (bigramLogTable is laid out from rows)
    const vols = [stickyCodes(9, 3), stickyCodes(5, 4)];
    const sparse = SparseBigram.fit(vols, K + 1); // code K never occurs: its row is the unigram
    const row = new Float32Array(K + 1);
    for (let a = 0; a <= K; a++) {
      sparse.row(a, row, 0);
      let sum = 0;
      for (let b = 0; b <= K; b++) {
        expect(Math.abs(row[b] - sparse.prob(a, b))).toBeLessThan(1e-6);
        sum += row[b];
      }
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
    }
  });

  it('stores each code’s row of next codes ascending with their counts, as counted by hand', () => {
    const vols = [stickyCodes(9, 3), stickyCodes(1, 5), stickyCodes(5, 4)];
    const arrays = SparseBigram.fit(vols, K).toArrays('p:');
    const want = Array.from({ length: K }, () => new Map<number, number>());
    for (const v of vols) {
      const n = v.rows * v.cols;
      for (let t = 1; t < v.frames; t++) for (let i = 0; i < n; i++) {
        const row = want[v.codes[(t - 1) * n + i]];
        row.set(v.codes[t * n + i], (row.get(v.codes[t * n + i]) ?? 0) + 1);
      }
    }
    const start = arrays['p:rowStart'] as Int32Array;
    const next = arrays['p:next'] as Int32Array;
    const count = arrays['p:count'] as Float32Array;
    expect(start.length).toBe(K + 1);
    want.forEach((row, a) => {
      const got = Array.from({ length: start[a + 1] - start[a] }, (_, j) => [next[start[a] + j], count[start[a] + j]]);
      expect(got).toEqual([...row.entries()].sort((x, y) => x[0] - y[0]));
    });
    // one frame: nothing counted, every row empty
    expect(Array.from(SparseBigram.fit([stickyCodes(1, 6)], K).toArrays('p:')['p:rowStart'] as Int32Array)).toEqual(new Array(K + 1).fill(0));
  });

  it('leave-one-out scores a pair with one count of it removed (unigram kept)', () => {
    const v = stickyCodes(9, 3);
    const sparse = SparseBigram.fit([v], K);
    // counts by hand
    const pairs = new Map<string, number>();
    const n = v.rows * v.cols;
    for (let t = 1; t < v.frames; t++) for (let i = 0; i < n; i++) {
      const key = `${v.codes[(t - 1) * n + i]},${v.codes[t * n + i]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    const uni = new Float64Array(K);
    for (const c of v.codes) uni[c]++;
    const u = (b: number) => (uni[b] + 0.5) / (v.codes.length + 0.5 * K);
    for (let a = 0; a < K; a++) for (let b = 0; b < K; b++) {
      let total = 0;
      let types = 0;
      for (let x = 0; x < K; x++) {
        const c = pairs.get(`${a},${x}`) ?? 0;
        const cc = x === b && c > 0 ? c - 1 : c;
        total += cc;
        if (cc > 0) types++;
      }
      const c = Math.max(0, (pairs.get(`${a},${b}`) ?? 0) - 1);
      const want = total > 0 ? (c + types * u(b)) / (total + types) : u(b);
      expect(Math.abs(sparse.prob(a, b, true) - want)).toBeLessThan(1e-6);
    }
  });

  it('round-trips through its arrays and refuses broken ones with E_FORMAT', () => {
    const sparse = SparseBigram.fit([stickyCodes(9, 3)], K);
    const arrays = sparse.toArrays('p:');
    const again = SparseBigram.fromArrays(arrays, K, 'p:', 'test');
    for (let a = 0; a < K; a++) for (let b = 0; b < K; b++) expect(again.prob(a, b)).toBe(sparse.prob(a, b));
    const broken = { ...arrays, 'p:next': Int32Array.from(arrays['p:next'] as Int32Array, (x, j) => (j === 0 ? K + 3 : x)) };
    expect(() => SparseBigram.fromArrays(broken, K, 'p:', 'test')).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    expect(() => SparseBigram.fromArrays(arrays, K + 1, 'p:', 'test')).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
  });
});

describe('emGateWeights', () => {
  it('finds the maximum-likelihood mixture weights (checked against a grid search)', () => {
    const v = stickyCodes(12, 7);
    const prior = SparseBigram.fit([v], K);
    const n = v.rows * v.cols;
    const pairs: number[] = [];
    for (let j = n; j < v.codes.length; j++) pairs.push(v.codes[j - n], v.codes[j]);
    const comps = ['net', 'copy', 'prior'] as const;
    const w = emGateWeights([...comps], Int32Array.from(pairs), K, (a, b) => prior.prob(a, b, true), 500);
    const ll = (wt: number[]) => {
      let s = 0;
      for (let i = 0; i < pairs.length; i += 2) {
        const [a, b] = [pairs[i], pairs[i + 1]];
        s += Math.log(wt[0] / K + wt[1] * (a === b ? 1 : 0) + wt[2] * prior.prob(a, b, true));
      }
      return s;
    };
    let best = -Infinity;
    for (let x = 0.005; x < 1; x += 0.01) for (let y = 0.005; x + y < 1; y += 0.01) best = Math.max(best, ll([x, y, 1 - x - y]));
    expect(ll(Array.from(w))).toBeGreaterThanOrEqual(best - 1e-6);
    expect(Math.abs(w.reduce((s, x) => s + x, 0) - 1)).toBeLessThan(1e-12);
  });
});
