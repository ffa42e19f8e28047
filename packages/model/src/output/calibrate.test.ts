import * as tf from '@tensorflow/tfjs-core';
import { sliceCodes } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { Rng } from '@vqvid/core';
import { initBackend, RCNN, RNN } from '../index';
import { partsOf } from '../internals';
import { calibrateGates } from '../train';
import { motionCodes, randomCodes } from '../testing';
import { fitGateOffsets, gateOffsetObjective, gateOffsetObjectiveLoop, MAX_GATE_OFFSET } from './calibrate';
import { MixtureOutput } from './mixture';

beforeAll(async () => {
  await initBackend(['wasm']);
});

/** Random gate logits and component log-likelihoods of n cells, m components; some cells give a component probability 0. */
function problem(n: number, m: number, seed: number): { logits: Float64Array; comps: Float64Array } {
  const rng = new Rng(seed);
  const logits = Float64Array.from({ length: n * m }, () => 2 * rng.normal());
  const comps = Float64Array.from({ length: n * m }, (_, i) => (i % m === 1 && rng.next() < 0.4 ? -1e30 : Math.log(0.02 + rng.next())));
  return { logits, comps };
}

/** The slow reference: −mean ln Σ_j softmax(a_i + δ)_j e^(l_ij), one cell at a time, straight from the definition. */
function naiveNll(logits: ArrayLike<number>, comps: ArrayLike<number>, m: number, delta: ArrayLike<number>): number {
  const n = logits.length / m;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const w = Array.from({ length: m }, (_, j) => Math.exp(logits[i * m + j] + delta[j]));
    const z = w.reduce((a, b) => a + b, 0);
    s -= Math.log(w.reduce((a, wj, j) => a + (wj / z) * Math.exp(comps[i * m + j]), 0));
  }
  return s / n;
}

test('the objective matches the naive nll, and its gradient and Hessian match finite differences', () => {
  for (const m of [2, 3]) {
    const { logits, comps } = problem(40, m, 7 + m);
    const delta = Float64Array.from({ length: m }, (_, j) => (j === 0 ? 0 : 0.3 * j - 0.5));
    const { nll, grad, hess } = gateOffsetObjective(logits, comps, m, delta);
    expect(nll).toBeCloseTo(naiveNll(logits, comps, m, delta), 10);
    const e = 1e-5;
    for (let j = 0; j < m; j++) {
      const up = Float64Array.from(delta);
      const down = Float64Array.from(delta);
      up[j] += e;
      down[j] -= e;
      const a = gateOffsetObjective(logits, comps, m, up);
      const b = gateOffsetObjective(logits, comps, m, down);
      expect(grad[j]).toBeCloseTo((a.nll - b.nll) / (2 * e), 6);
      for (let k = 0; k < m; k++) expect(hess[j * m + k]).toBeCloseTo((a.grad[k] - b.grad[k]) / (2 * e), 5);
    }
  }
});

test('the unrolled three-component objective is bit for bit the general loop, on float32 and float64 terms', () => {
  for (const seed of [1, 2, 3]) {
    const { logits, comps } = problem(500, 3, seed);
    // a component that gives some cells probability 0 (−∞), and ties in the gate logits
    comps[3 * 7 + 2] = -Infinity;
    logits[3 * 9 + 1] = logits[3 * 9];
    for (const [l, c] of [[logits, comps], [Float32Array.from(logits), Float32Array.from(comps)]] as const) {
      for (const delta of [[0, 0, 0], [0, -1.25, 3.5], [0, 8, -8], [-0, 0.1, -0.2]]) {
        const fast = gateOffsetObjective(l, c, 3, delta);
        const ref = gateOffsetObjectiveLoop(l, c, 3, delta);
        expect(Object.is(fast.nll, ref.nll)).toBe(true);
        expect(Array.from(fast.grad)).toEqual(Array.from(ref.grad));
        expect(Array.from(fast.hess)).toEqual(Array.from(ref.hess));
      }
    }
  }
});

test('fitGateOffsets finds the optimum a fine grid search finds, never raises the nll, and keeps the network offset at 0', () => {
  const m = 3;
  /** The slow reference: the best point of a grid over both free offsets, step `h` within ±lim. */
  const grid = (logits: Float64Array, comps: Float64Array, lim: number, h = 0.05) => {
    let best = Infinity;
    let at = [0, 0];
    for (let a = -lim; a <= lim + 1e-9; a += h) {
      for (let b = -lim; b <= lim + 1e-9; b += h) {
        const v = naiveNll(logits, comps, m, [0, a, b]);
        if (v < best) [best, at] = [v, [a, b]];
      }
    }
    return { best, at };
  };
  // an interior optimum: every component explains some cells best, none gives probability 0
  const rng = new Rng(5);
  const n = 60;
  const logits = Float64Array.from({ length: n * m }, () => 0.5 * rng.normal());
  const comps = Float64Array.from({ length: n * m }, () => Math.log(0.05 + rng.next()));
  const got = fitGateOffsets(logits, comps, m);
  expect(got.offsets[0]).toBe(0);
  expect(got.nllBefore).toBeCloseTo(naiveNll(logits, comps, m, [0, 0, 0]), 10);
  expect(got.nllAfter).toBeCloseTo(naiveNll(logits, comps, m, got.offsets), 10);
  expect(got.nllAfter).toBeLessThan(got.nllBefore);
  const ref = grid(logits, comps, 4);
  expect(Math.max(...ref.at.map(Math.abs))).toBeLessThan(3.9); // interior: the grid brackets it
  expect(got.nllAfter).toBeLessThanOrEqual(ref.best + 1e-9);
  expect(Math.abs(got.offsets[1] - ref.at[0])).toBeLessThan(0.06);
  expect(Math.abs(got.offsets[2] - ref.at[1])).toBeLessThan(0.06);
  // zeros and a far-off, non-convex optimum: still at least as good as the grid within the bounds
  const hard = problem(60, m, 3);
  const far = fitGateOffsets(hard.logits, hard.comps, m);
  expect(far.nllAfter).toBeLessThanOrEqual(grid(hard.logits, hard.comps, MAX_GATE_OFFSET, 0.25).best + 1e-7);
  expect(Math.max(...Array.from(far.offsets, Math.abs))).toBeLessThanOrEqual(MAX_GATE_OFFSET);
});

test('with a uniform gate and components that each explain some cells alone, the offsets are the held-out frequencies', () => {
  // 2 components; 30 cells only the network explains, 10 only the copy: the best weights are 3/4, 1/4
  const n = 40;
  const logits = new Float64Array(2 * n);
  const comps = Float64Array.from({ length: 2 * n }, (_, i) => ((i >> 1) < 30 ? (i % 2 === 0 ? 0 : -1e30) : i % 2 === 1 ? 0 : -1e30));
  const got = fitGateOffsets(logits, comps, 2);
  expect(got.offsets[1]).toBeCloseTo(Math.log(1 / 3), 6);
  // a component no held-out cell needs is turned down to the bound, not to -Infinity
  const none = fitGateOffsets(logits, Float64Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? 0 : -1e30)), 2);
  expect(none.offsets[1]).toBe(-MAX_GATE_OFFSET);
  expect(Number.isFinite(none.nllAfter)).toBe(true);
});

test('fitGateOffsets names its bad inputs', () => {
  expect(() => fitGateOffsets(new Float64Array(3), new Float64Array(3), 2)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  expect(() => fitGateOffsets(new Float64Array(4), new Float64Array(2), 2)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  expect(() => fitGateOffsets(new Float64Array(0), new Float64Array(0), 2)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  expect(() => fitGateOffsets(new Float64Array(4), new Float64Array(4), 1)).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
});

// adapt: false: these compare the gate as trained and calibrated with logProb/evaluate (adapt.test.ts tests adaptation)
const small = { k: 4, embedDim: 6, hidden: 8, seed: 4, adapt: false };

/** Validation codes that change far more often than the training codes: every other frame is random. */
function restless(frames: number): CodeVolume {
  const calm = motionCodes(frames, 2);
  const noise = randomCodes(frames, calm.rows, calm.cols, calm.k, 9);
  const n = calm.rows * calm.cols;
  const codes = Int32Array.from(calm.codes, (c, i) => (Math.floor(i / n) % 2 === 1 ? noise.codes[i] : c));
  return { ...calm, codes };
}

test('gateTerms agree with the output layer: logsumexp(logits + comps) − logsumexp(logits) is each cell’s log-probability', async () => {
  for (const Model of [RCNN, RNN]) {
    const m = new Model(small);
    await m.fit(motionCodes(10), { epochs: 1, stepsPerEpoch: 2, batch: 2, bptt: 3, lr: 0.01, workers: 1 });
    const val = restless(6);
    const parts = partsOf(m);
    const mm = (parts.output as MixtureOutput).components.length;
    const before = tf.memory().numTensors;
    const terms = parts.gateTerms(val)!;
    expect(tf.memory().numTensors).toBe(before);
    const lp = m.logProb(val);
    expect(terms.logits.length).toBe(lp.length * mm);
    for (let i = 0; i < lp.length; i++) {
      const lse = (f: (j: number) => number) => {
        const xs = Array.from({ length: mm }, (_, j) => f(j));
        const top = Math.max(...xs);
        return top + Math.log(xs.reduce((s, x) => s + Math.exp(x - top), 0));
      };
      const got = lse((j) => terms.logits[i * mm + j] + terms.comps[i * mm + j]) - lse((j) => terms.logits[i * mm + j]);
      expect(got).toBeCloseTo(lp[i], 4);
    }
    m.dispose();
  }
});

test('fit calibrates the gate on validation codes that change more than the training codes: less copying, fewer validation bits', async () => {
  const train = motionCodes(16);
  const val = restless(8);
  const opts = { epochs: 2, stepsPerEpoch: 4, batch: 2, bptt: 3, lr: 0.01, workers: 1, validation: val };
  const plain = new RCNN(small);
  const r0 = await plain.fit(train, { ...opts, calibrate: false });
  expect(r0.calibration).toBeUndefined();
  const m = new RCNN(small);
  const r = await m.fit(train, opts);
  // the same training, then the gate refit: before = the uncalibrated model's validation bits
  expect(r.epochs.map((e) => e.valBits)).toEqual(r0.epochs.map((e) => e.valBits));
  const cal = r.calibration!;
  expect(cal.components).toEqual(['net', 'copy', 'prior']);
  expect(cal.valBitsBefore).toBeCloseTo(plain.evaluate(val).bitsPerCode, 4);
  expect(cal.valBitsAfter).toBeCloseTo(m.evaluate(val).bitsPerCode, 4);
  expect(cal.valBitsAfter).toBeLessThan(cal.valBitsBefore - 0.05);
  expect(cal.offsets[0]).toBe(0);
  expect(cal.offsets[1]).toBeLessThan(0); // the copy component turned down
  // deterministic: a rerun gives the same offsets
  const again = new RCNN(small);
  expect((await again.fit(train, opts)).calibration!.offsets).toEqual(cal.offsets);
  // a plain output has nothing to calibrate
  const bare = new RCNN({ ...small, copy: false, prior: 'none' });
  expect((await bare.fit(train, opts)).calibration).toBeUndefined();
  expect(calibrateGates(partsOf(bare), [val])).toBeNull();
  await expect(fitOpt(m, train, val)).rejects.toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  for (const x of [plain, m, again, bare]) x.dispose();
});

function fitOpt(m: RCNN, train: CodeVolume, val: CodeVolume): Promise<unknown> {
  return m.fit(sliceCodes(train, 0, 8), { epochs: 1, stepsPerEpoch: 1, batch: 2, bptt: 3, validation: val, calibrate: 'yes' as unknown as boolean });
}
