import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng, sliceCodes } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { initBackend, RCNN } from './index';
import { DEFAULT_GATE_ADAPTATION, OnlineGateOffsets, partsOf } from './internals';
import { gateOffsetObjective, newtonOffsets } from './output/calibrate';
import { ADAPT_FROM } from './parts';
import { randomCodes } from './testing';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-adapt-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** Plain loops: Σ_f decay^age Σ_i −ln(Σ_j softmax(a_i + δ)_j e^(l_ij)) + strength/2·|δ|². */
function naiveObjective(frames: Array<{ logits: Float32Array; comps: Float32Array }>, m: number, decay: number, strength: number, delta: number[]): number {
  let total = 0;
  frames.forEach((f, idx) => {
    const w = decay ** (frames.length - 1 - idx);
    for (let i = 0; i < f.logits.length / m; i++) {
      const z = Array.from({ length: m }, (_, j) => Math.exp(f.logits[i * m + j] + delta[j]));
      const sum = z.reduce((a, b) => a + b, 0);
      const p = z.reduce((s, v, j) => s + (v / sum) * Math.exp(f.comps[i * m + j]), 0);
      total -= w * Math.log(p);
    }
  });
  return total + (strength / 2) * delta.slice(1).reduce((s, v) => s + v * v, 0);
}

/** Random gate terms of one frame: the copy component right on a share `copyRight` of the cells, else prob 0. */
function frameTerms(rng: Rng, cells: number, copyRight: number): { logits: Float32Array; comps: Float32Array } {
  const logits = new Float32Array(cells * 3);
  const comps = new Float32Array(cells * 3);
  for (let i = 0; i < cells; i++) {
    logits.set([rng.next() - 0.5, 1 + rng.next(), rng.next() - 1], i * 3);
    comps.set([Math.log(0.05 + 0.5 * rng.next()), rng.next() < copyRight ? 0 : -1e30, Math.log(0.02 + 0.3 * rng.next())], i * 3);
  }
  return { logits, comps };
}

describe('OnlineGateOffsets', () => {
  it('after each frame, its offsets minimise the decayed, regularised objective of the frames so far (naive reference)', () => {
    const rng = new Rng(3);
    const a = { decay: 0.7, strength: 2 };
    const online = new OnlineGateOffsets(3, a);
    expect(Array.from(online.offsets)).toEqual([0, 0, 0]);
    const seen: Array<{ logits: Float32Array; comps: Float32Array }> = [];
    for (const share of [0.9, 0.8, 0.3, 0.2]) {
      const f = frameTerms(rng, 40, share);
      seen.push(f);
      online.observe(f.logits, f.comps);
      const d = Array.from(online.offsets);
      expect(d[0]).toBe(0);
      const best = naiveObjective(seen, 3, a.decay, a.strength, d);
      expect(Math.abs(online.objective(d).nll - best)).toBeLessThan(1e-6 * Math.max(1, best));
      // no nearby point and no point of a coarse grid does better
      for (const j of [1, 2]) {
        for (const e of [-0.01, 0.01]) {
          const near = [...d];
          near[j] += e;
          expect(best).toBeLessThanOrEqual(naiveObjective(seen, 3, a.decay, a.strength, near) + 1e-9);
        }
      }
      for (let x = -4; x <= 4; x += 0.5) for (let y = -4; y <= 4; y += 0.5) expect(best).toBeLessThanOrEqual(naiveObjective(seen, 3, a.decay, a.strength, [0, x, y]) + 1e-9);
    }
    // the copy component was right less and less often: it was turned down
    expect(online.offsets[1]).toBeLessThan(0);
  });

  it('forgets frames whose weight fell below 1e-3, and strength pulls the offsets toward 0', () => {
    const rng = new Rng(5);
    const frames = Array.from({ length: 12 }, (_, i) => frameTerms(rng, 30, i < 6 ? 0.95 : 0.1));
    const long = new OnlineGateOffsets(3, { decay: 0.5, strength: 0 });
    for (const f of frames) long.observe(f.logits, f.comps);
    expect(long.held).toBe(Math.ceil(Math.log(1e-3) / Math.log(0.5))); // 10
    const recent = new OnlineGateOffsets(3, { decay: 0.5, strength: 0 });
    for (const f of frames.slice(2)) recent.observe(f.logits, f.comps);
    for (let j = 0; j < 3; j++) expect(Math.abs(long.offsets[j] - recent.offsets[j])).toBeLessThan(1e-5);
    const pulled = new OnlineGateOffsets(3, { decay: 0.5, strength: 1e4 });
    for (const f of frames) pulled.observe(f.logits, f.comps);
    expect(Math.hypot(pulled.offsets[1], pulled.offsets[2])).toBeLessThan(0.2 * Math.hypot(long.offsets[1], long.offsets[2]));
  });

  it('gives bit for bit the offsets of scoring every held frame afresh at every Newton point (its reuse changes nothing)', () => {
    const rng = new Rng(11);
    const a = { decay: 0.6, strength: 0.5 };
    const online = new OnlineGateOffsets(3, a);
    const keep = Math.ceil(Math.log(1e-3) / Math.log(a.decay));
    // the reference: the same objective and Newton steps, no frame's terms kept between points
    const held: Array<{ logits: Float32Array; comps: Float32Array }> = [];
    const ref = new Float64Array(3);
    const fresh = (delta: Float64Array) => {
      let nll = 0;
      const grad = new Float64Array(3);
      const hess = new Float64Array(9);
      held.forEach((f, i) => {
        const w = a.decay ** (held.length - 1 - i) * (f.logits.length / 3);
        const o = gateOffsetObjective(f.logits, f.comps, 3, delta);
        nll += w * o.nll;
        for (let j = 0; j < 3; j++) grad[j] += w * o.grad[j];
        for (let j = 0; j < 9; j++) hess[j] += w * o.hess[j];
      });
      for (let j = 1; j < 3; j++) {
        nll += 0.5 * a.strength * delta[j] * delta[j];
        grad[j] += a.strength * delta[j];
        hess[j * 3 + j] += a.strength;
      }
      return { nll, grad, hess };
    };
    for (let t = 0; t < keep + 6; t++) {
      const f = frameTerms(rng, 60, t % 5 < 2 ? 0.9 : 0.2);
      held.push(f);
      if (held.length > keep) held.shift();
      newtonOffsets(ref, 3, fresh, 30);
      online.observe(f.logits, f.comps);
      expect(Array.from(online.offsets)).toEqual(Array.from(ref));
      expect(Object.is(online.objective(ref).nll, fresh(ref).nll)).toBe(true);
    }
    expect(online.held).toBe(keep);
  });

  it('names bad input', () => {
    expect(() => new OnlineGateOffsets(3, { decay: 1, strength: 1 })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    expect(() => new OnlineGateOffsets(3, { decay: 0.5, strength: -1 })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    expect(() => new OnlineGateOffsets(1, DEFAULT_GATE_ADAPTATION)).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    const o = new OnlineGateOffsets(3, DEFAULT_GATE_ADAPTATION);
    expect(() => o.observe(new Float32Array(4), new Float32Array(4))).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    expect(() => o.observe(new Float32Array(6), new Float32Array(3))).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });
});

/** Codes that mostly keep their code from frame to frame (each cell changes with probability `change`). */
function sticky(frames: number, change: number, seed: number, rows = 6, cols = 6, k = 6): CodeVolume {
  const rng = new Rng(seed);
  const v = randomCodes(frames, rows, cols, k, seed);
  const n = rows * cols;
  for (let t = 1; t < frames; t++) for (let i = 0; i < n; i++) if (rng.next() >= change) v.codes[t * n + i] = v.codes[(t - 1) * n + i];
  return v;
}

/** Each predicted cell's ln p with the gate as trained (no offsets), from the raw gate terms. */
function unadapted(m: RCNN, codes: CodeVolume): Float64Array {
  const g = partsOf(m).gateTerms(codes)!;
  const mm = g.logits.length / ((codes.frames - 1) * codes.rows * codes.cols);
  const out = new Float64Array(g.logits.length / mm);
  for (let i = 0; i < out.length; i++) {
    const a = Array.from(g.logits.subarray(i * mm, (i + 1) * mm));
    const l = Array.from(g.comps.subarray(i * mm, (i + 1) * mm));
    const z = a.reduce((s, v) => s + Math.exp(v), 0);
    out[i] = Math.log(a.reduce((s, v, j) => s + Math.exp(v + l[j]), 0) / z);
  }
  return out;
}

describe('online gate adaptation in a model (adapt, on by default)', () => {
  const small = { k: 6, embedDim: 4, hidden: 6, seed: 2 };
  const quick = { epochs: 2, stepsPerEpoch: 6, batch: 2, bptt: 4, crop: 6, lr: 0.02, workers: 1 };

  it('is on by default with DEFAULT_GATE_ADAPTATION (as with true), recorded in the config, saved and loaded; off without a mixture; bad options are named', async () => {
    const adaptOf = (opts: object) => {
      const made = new RCNN({ ...small, ...opts });
      made.dispose();
      return made.config.adapt;
    };
    expect(adaptOf({ adapt: undefined })).toEqual(DEFAULT_GATE_ADAPTATION);
    expect(adaptOf({})).toEqual(DEFAULT_GATE_ADAPTATION);
    expect(adaptOf({ adapt: true })).toEqual(DEFAULT_GATE_ADAPTATION);
    expect(adaptOf({ adapt: { decay: 0.5 } })).toEqual({ decay: 0.5, strength: DEFAULT_GATE_ADAPTATION.strength });
    expect(adaptOf({ adapt: false })).toBeUndefined();
    expect(adaptOf({ copy: false, prior: 'none' })).toBeUndefined();
    for (const bad of [{ decay: 1 }, { decay: 0.5, strength: -2 }, { decay: 0.5, other: 1 }, 'yes', 0]) {
      expect(() => new RCNN({ ...small, adapt: bad as never })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    }
    const m = new RCNN({ ...small, adapt: { decay: 0.6, strength: 3 } });
    await m.fit(sticky(8, 0.1, 1), quick);
    const dir = path.join(tmp, 'saved');
    await m.save(dir);
    const back = await RCNN.load(dir);
    expect(back.config.adapt).toEqual({ decay: 0.6, strength: 3 });
    const probe = sticky(6, 0.5, 2);
    expect(Array.from(back.logProb(probe))).toEqual(Array.from(m.logProb(probe)));
    m.dispose();
    back.dispose();
  });

  it('logProb is prequential: frame t scored with offsets fitted on frames ADAPT_FROM..t−1; predictDistribution and the stepper agree', async () => {
    const m = new RCNN(small);
    await m.fit(sticky(10, 0.1, 3), quick);
    // new frames that change far more often than the training frames: the gate as trained trusts copying too much
    const test = sticky(9, 0.7, 4);
    const n = test.rows * test.cols;
    const lp = m.logProb(test);
    const raw = unadapted(m, test);
    const g = partsOf(m).gateTerms(test)!;
    const ref = new OnlineGateOffsets(3, DEFAULT_GATE_ADAPTATION);
    for (let t = 1; t < test.frames; t++) {
      // reference: the raw gate terms of frame t with the offsets of a reference adapter fed frames before t
      for (let i = 0; i < n; i++) {
        const c = (t - 1) * n + i;
        const a = Array.from(g.logits.subarray(c * 3, c * 3 + 3), (v, j) => v + ref.offsets[j]);
        const z = a.reduce((s, v) => s + Math.exp(v), 0);
        const want = Math.log(a.reduce((s, v, j) => s + Math.exp(v + g.comps[c * 3 + j]), 0) / z);
        expect(Math.abs(lp[c] - want)).toBeLessThan(1e-9);
        if (t <= ADAPT_FROM) expect(Math.abs(lp[c] - raw[c])).toBeLessThan(1e-5);
      }
      if (t >= ADAPT_FROM) ref.observe(g.logits.slice((t - 1) * n * 3, t * n * 3), g.comps.slice((t - 1) * n * 3, t * n * 3));
    }
    // the same numbers from the prediction paths
    const stepper = m.stepper(test.rows, test.cols);
    for (let t = 1; t < test.frames; t++) {
      const probs = m.predictDistribution(sliceCodes(test, 0, t)).probs!;
      const stepped = stepper.next(test.codes.subarray((t - 1) * n, t * n));
      for (let i = 0; i < n; i++) {
        const p = probs[i * 6 + test.codes[t * n + i]];
        expect(Math.abs(Math.log(p) - lp[(t - 1) * n + i])).toBeLessThan(2e-4);
        expect(Math.abs(stepped[i * 6 + test.codes[t * n + i]] - p)).toBeLessThan(1e-6);
      }
    }
    stepper.dispose();
    // and it paid: the adapted bits are below the trained gate's on these faster-changing frames
    const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
    expect(sum(lp)).toBeGreaterThan(sum(raw) + 1);
    m.dispose();
  });

  it('keeps tf.memory().numTensors flat across adapted likelihood, prediction, stepping and filling', async () => {
    const m = new RCNN(small);
    await m.fit(sticky(8, 0.2, 5), quick);
    const codes = sticky(6, 0.4, 6);
    const run = () => {
      m.logProb(codes);
      m.predictDistribution(codes);
      m.generate(codes, 2);
      m.fill(sliceCodes(codes, 0, 3), sliceCodes(codes, 4, 5));
      const s = m.stepper(codes.rows, codes.cols);
      for (let t = 0; t < 3; t++) s.next(codes.codes.subarray(t * 36, (t + 1) * 36));
      s.dispose();
    };
    run();
    const before = tf.memory().numTensors;
    for (let r = 0; r < 3; r++) run();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});
