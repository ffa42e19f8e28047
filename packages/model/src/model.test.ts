import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { sliceCodes, VqvidError } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { initBackend, RCNN, RNN, MODEL_FORMAT_VERSION } from './index';
import { motionCodes, randomCodes } from './testing';
import { partsOf } from './internals';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-model-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const small = { k: 4, embedDim: 4, hidden: 6, seed: 4 };
const K = small.k;
const quick = { epochs: 1, stepsPerEpoch: 3, batch: 2, bptt: 3, lr: 0.01 };

function expectVqvid(f: () => unknown, code: string, arg: string): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(VqvidError);
    expect((e as VqvidError).code).toBe(code);
    expect((e as VqvidError).message).toContain(arg);
    return;
  }
  throw new Error('expected a VqvidError');
}

async function expectVqvidAsync(p: Promise<unknown>, code: string, arg?: string): Promise<void> {
  const e = await p.then(() => null, (err) => err);
  expect(e).toBeInstanceOf(VqvidError);
  expect((e as VqvidError).code).toBe(code);
  if (arg) expect((e as VqvidError).message).toContain(arg);
}

describe('RCNN inference', () => {
  it('logProb and evaluate agree, cover frames 1..T-1 and are normalised', () => {
    const m = new RCNN(small);
    const codes = motionCodes(4);
    const lp = m.logProb(codes);
    expect(lp.length).toBe(3 * 64);
    const r = m.evaluate(codes);
    expect(r.count).toBe(3 * 64);
    const mean = -lp.reduce((a, b) => a + b, 0) / lp.length;
    expect(r.nll).toBeCloseTo(mean, 10);
    expect(r.bitsPerCode).toBeCloseTo(mean / Math.LN2, 10);
    expect(r.perplexity).toBeCloseTo(Math.exp(mean), 8);
    // the distribution after frames 0..2 sums to 1 per cell and gives the same ln p of frame 3
    const d = m.predictDistribution(sliceCodes(codes, 0, 3));
    for (let i = 0; i < 64; i++) {
      const row = d.probs!.subarray(i * K, (i + 1) * K);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(Math.log(row[codes.codes[3 * 64 + i]])).toBeCloseTo(lp[2 * 64 + i], 4);
      const h = -row.reduce((a, p) => a + p * Math.log2(p), 0);
      expect(d.entropy[i]).toBeCloseTo(h, 4);
    }
    m.dispose();
  });

  it('predictNext argmax picks the most probable code; sampling is seeded', () => {
    const m = new RCNN(small);
    const ctx = motionCodes(3);
    const d = m.predictDistribution(ctx);
    const next = m.predictNext(ctx);
    expect(next.frames).toBe(1);
    for (let i = 0; i < 64; i++) {
      const row = Array.from(d.probs!.subarray(i * K, (i + 1) * K));
      expect(next.codes[i]).toBe(row.indexOf(Math.max(...row)));
    }
    const a = m.predictNext(ctx, { mode: 'sample', seed: 9, temperature: 2 });
    const b = m.predictNext(ctx, { mode: 'sample', seed: 9, temperature: 2 });
    expect(Array.from(a.codes)).toEqual(Array.from(b.codes));
    const top1 = m.predictNext(ctx, { mode: 'sample', seed: 9, topK: 1 });
    expect(Array.from(top1.codes)).toEqual(Array.from(next.codes));
    const gen = m.generate(ctx, 3);
    expect(gen.frames).toBe(3);
    expect(Array.from(gen.codes.subarray(0, 64))).toEqual(Array.from(next.codes));
    m.dispose();
  });

  it('fill returns the argmax when sweeps = 0 and never lowers the fill objective', () => {
    // adapt: false: the objective below is logProb's, which would adapt the gate to the filled frame before scoring the next
    const m = new RCNN({ k: 4, embedDim: 4, hidden: 6, seed: 8, adapt: false });
    const codes = randomCodes(5, 5, 6, 4, 3);
    const before = sliceCodes(codes, 0, 3);
    const after = sliceCodes(codes, 4, 5);
    const objective = (frame: CodeVolume) => {
      const vol = { ...codes, frames: 5, codes: Int32Array.from(codes.codes) };
      vol.codes.set(frame.codes, 3 * 30);
      const lp = m.logProb(sliceCodes(vol, 0, 5));
      return lp.subarray(2 * 30, 4 * 30).reduce((a, b) => a + b, 0);
    };
    const f0 = m.fill(before, after, { sweeps: 0 });
    expect(Array.from(f0.codes)).toEqual(Array.from(m.predictNext(before).codes));
    const f3 = m.fill(before, after, { sweeps: 50, candidates: 4 });
    expect(objective(f3)).toBeGreaterThanOrEqual(objective(f0) - 1e-4);
    // with all K candidates, coordinate ascent ends at a point no single-cell change improves
    const best = objective(f3);
    for (let i = 0; i < 30; i += 7) {
      for (let c = 0; c < 4; c++) {
        const alt = { ...f3, codes: Int32Array.from(f3.codes) };
        alt.codes[i] = c;
        expect(objective(alt)).toBeLessThanOrEqual(best + 1e-3);
      }
    }
    m.dispose();
  });

  it('fill with missing: n returns n frames, each a single-cell optimum of its own and the next frame\'s terms', () => {
    const m = new RCNN({ k: 4, embedDim: 4, hidden: 6, seed: 9, adapt: false }); // as above
    const codes = randomCodes(7, 5, 6, 4, 5);
    const n = 3;
    const before = sliceCodes(codes, 0, 2);
    const after = sliceCodes(codes, 2 + n, 3 + n);
    const cells = 30;
    // the whole sequence before | gap | after, scored by the model (slow reference: full log-likelihoods)
    const frameTerms = (gap: Int32Array): Float64Array[] => {
      const vol = { ...codes, frames: 3 + n, codes: new Int32Array((3 + n) * cells) };
      vol.codes.set(before.codes, 0);
      vol.codes.set(gap, 2 * cells);
      vol.codes.set(after.codes.subarray(0, cells), (2 + n) * cells);
      const lp = m.logProb(vol);
      return Array.from({ length: 2 + n }, (_, t) => lp.subarray(t * cells, (t + 1) * cells));
    };
    const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);
    // frame j of the gap (target index j + 1 of the log-probs) is scored by its own and the next frame's terms
    const score = (gap: Int32Array, j: number) => {
      const terms = frameTerms(gap);
      return sum(terms[j + 1]) + sum(terms[j + 2]);
    };
    const rollout = m.generate(before, n);
    expect(Array.from(m.fill(before, after, { missing: n, sweeps: 0 }).codes)).toEqual(Array.from(rollout.codes));
    const tensors = tf.memory().numTensors;
    const filled = m.fill(before, after, { missing: n, sweeps: 50, candidates: 4 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(filled.frames).toBe(n);
    const gap = Int32Array.from(filled.codes);
    for (let j = 0; j < n; j++) {
      const best = score(gap, j);
      for (let i = 0; i < cells; i += 4) {
        for (let c = 0; c < 4; c++) {
          const alt = Int32Array.from(gap);
          alt[j * cells + i] = c;
          expect(score(alt, j)).toBeLessThanOrEqual(best + 1e-3);
        }
      }
    }
    // one posterior per missing frame, whose argmax is the filled code
    const dists = m.fillDistributions(before, after, { missing: n, sweeps: 50, candidates: 4 });
    expect(dists).toHaveLength(n);
    dists.forEach((d, j) => {
      for (let i = 0; i < cells; i++) {
        const row = Array.from(d.probs!.subarray(i * 4, (i + 1) * 4));
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(row.indexOf(Math.max(...row))).toBe(gap[j * cells + i]);
      }
    });
    // missing: 1 is the one-frame fill
    expect(Array.from(m.fill(before, sliceCodes(codes, 3, 4), { missing: 1, candidates: 3 }).codes)).toEqual(Array.from(m.fill(before, sliceCodes(codes, 3, 4), { candidates: 3 }).codes));
    expectVqvid(() => m.fill(before, after, { missing: 0 }), 'E_RANGE', 'missing');
    expectVqvid(() => m.fillDistribution(before, after, { missing: 2 }), 'E_RANGE', 'opts.missing');
    m.dispose();
  });
});

describe('bad input', () => {
  it('names the argument', async () => {
    expectVqvid(() => new RCNN({ k: 3, kernel: 2 }), 'E_RANGE', 'kernel');
    expectVqvid(() => new RCNN({ k: 1 }), 'E_RANGE', 'k');
    expectVqvid(() => new RCNN({ k: 3, layers: 0 }), 'E_RANGE', 'layers');
    expectVqvid(() => new RCNN({ k: 3, softmax: 'big' as 'full' }), 'E_RANGE', 'softmax');
    expectVqvid(() => new RNN({ k: 3, kernel: 3 }), 'E_RANGE', 'kernel');
    const m = new RCNN(small);
    expectVqvid(() => m.evaluate({ ...motionCodes(3), k: 5 }), 'E_SHAPE', 'codes.k');
    expectVqvid(() => m.evaluate(motionCodes(1)), 'E_SHAPE', 'codes.frames');
    expectVqvid(() => m.predictNext({ ...motionCodes(2), codes: new Int32Array(3) }), 'E_SHAPE', 'context.codes.length');
    expectVqvid(() => m.generate(motionCodes(2), 0), 'E_RANGE', 'steps');
    expectVqvid(() => m.predictNext(motionCodes(2), { mode: 'best' as 'argmax' }), 'E_RANGE', 'mode');
    expectVqvid(() => m.fill(motionCodes(2), motionCodes(1, 0, 6, 8)), 'E_SHAPE', 'after');
    await expectVqvidAsync(m.fit(motionCodes(1), quick), 'E_SHAPE', 'codes.frames');
    await expectVqvidAsync(m.fit(motionCodes(4), { ...quick, bptt: 0 }), 'E_RANGE', 'bptt');
    await expectVqvidAsync(m.fit(motionCodes(4), { ...quick, lr: -1 }), 'E_RANGE', 'lr');
    await expectVqvidAsync(m.fit(motionCodes(4), { ...quick, resume: true }), 'E_RANGE', 'resume');
    await expectVqvidAsync(m.fit(motionCodes(4), { ...quick, validation: { ...motionCodes(3), k: 5 } }), 'E_SHAPE', 'validation[0].k');
    m.dispose();
  });
});

describe('save / load', () => {
  it('round-trips predictions exactly, for RCNN and RNN', async () => {
    for (const M of [RCNN, RNN]) {
      const m = new M({ ...small, cell: 'gru', softmax: 'factored', classes: 2 });
      await m.fit(motionCodes(6), quick);
      const dir = path.join(tmp, `rt-${M.name}`);
      await m.save(dir);
      const back = await RCNN.load(dir);
      expect(back).toBeInstanceOf(M);
      expect(back.config).toEqual(m.config);
      const codes = motionCodes(5, 1);
      expect(Array.from(back.logProb(codes))).toEqual(Array.from(m.logProb(codes)));
      expect(Array.from(back.predictNext(codes).codes)).toEqual(Array.from(m.predictNext(codes).codes));
      m.dispose();
      back.dispose();
    }
  });

  it('refuses corrupt, version-mismatched and missing files with a VqvidError', async () => {
    const m = new RCNN(small);
    const dir = path.join(tmp, 'bad');
    await m.save(dir);
    const file = path.join(dir, 'model.vqm');
    const bytes = new Uint8Array(await fsp.readFile(file));
    bytes[bytes.length - 10] ^= 0xff;
    await fsp.writeFile(file, bytes);
    await expectVqvidAsync(RCNN.load(dir), 'E_FORMAT');
    // a well-formed container of another model format version
    const { packContainer } = await import('@vqvid/core');
    await fsp.writeFile(file, packContainer('vqvid-model', { formatVersion: MODEL_FORMAT_VERSION + 1, className: 'RCNN' }, {}));
    await expectVqvidAsync(RCNN.load(dir), 'E_VERSION');
    await expectVqvidAsync(RCNN.load(path.join(tmp, 'nowhere')), 'E_NOT_FOUND');
    m.dispose();
  });
});

describe('training', () => {
  it('initBackend falls back with a reason and keeps wasm active', async () => {
    const choice = await initBackend(['no-such-backend', 'wasm']);
    expect(choice.backend).toBe('wasm');
    expect(choice.fallbackReason).toContain('no-such-backend');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('trains on several volumes of different grids (crop shrinks to the smallest), with warm-up frames', async () => {
    const m = new RCNN(small);
    const vols = [motionCodes(6), motionCodes(7, 1, 6, 10)];
    const r = await m.fit(vols, { ...quick, crop: 16, epochs: 2, warmup: 1 });
    expect(r.epochs).toHaveLength(2);
    expect(r.steps).toBe(6);
    for (const e of r.epochs) expect(Number.isFinite(e.loss)).toBe(true);
    await expect(m.fit([vols[0], { ...vols[1], k: 9 }], quick)).rejects.toMatchObject({ code: 'E_SHAPE' });
    m.dispose();
  });

  it('resuming from a checkpoint gives the same weights as an uninterrupted run', async () => {
    const data = motionCodes(12);
    const opts = { epochs: 2, stepsPerEpoch: 3, batch: 2, bptt: 3, crop: 5, lr: 0.01, lrDecay: 0.5, validation: motionCodes(5, 2) };
    const straight = new RCNN(small);
    const r1 = await straight.fit(data, opts);
    const dir = path.join(tmp, 'ckpt');
    const first = new RCNN(small);
    await first.fit(data, { ...opts, epochs: 1, checkpointDir: dir });
    first.dispose();
    const resumed = new RCNN(small);
    const r2 = await resumed.fit(data, { ...opts, checkpointDir: dir, resume: true });
    expect(r2.epochs.map((e) => e.loss)).toEqual(r1.epochs.map((e) => e.loss));
    expect(r2.steps).toBe(6);
    const a = partsOf(straight).exportWeights();
    const b = partsOf(resumed).exportWeights();
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const key of Object.keys(a)) expect(Array.from(b[key])).toEqual(Array.from(a[key]));
    straight.dispose();
    resumed.dispose();
  });

  it('an abort mid-epoch checkpoints, and resuming still matches the uninterrupted run', async () => {
    const data = motionCodes(12);
    const opts = { epochs: 1, stepsPerEpoch: 4, batch: 2, bptt: 3, crop: 6, lr: 0.01 };
    const straight = new RCNN(small);
    await straight.fit(data, opts);
    const dir = path.join(tmp, 'abort');
    const ctrl = new AbortController();
    const first = new RCNN(small);
    const r = await first.fit(data, {
      ...opts,
      checkpointDir: dir,
      onProgress: (e) => e.stage === 'train' && e.done === 2 && ctrl.abort(),
      signal: ctrl.signal,
    });
    expect(r.stopped).toBe('aborted');
    expect(r.steps).toBe(2);
    first.dispose();
    // a stray temp file from a crashed checkpoint write is ignored
    await fsp.writeFile(path.join(dir, 'checkpoint.vqm.tmp-9-x'), 'garbage');
    const resumed = new RCNN(small);
    const r2 = await resumed.fit(data, { ...opts, checkpointDir: dir, resume: true });
    expect(r2.steps).toBe(4);
    const a = partsOf(straight).exportWeights();
    const b = partsOf(resumed).exportWeights();
    for (const key of Object.keys(a)) expect(Array.from(b[key])).toEqual(Array.from(a[key]));
    straight.dispose();
    resumed.dispose();
  });

  it('dropout: seeded masks make training reproducible and resumable, and inference ignores it', async () => {
    const data = motionCodes(12);
    const drop = { ...small, dropout: 0.3 };
    const opts = { epochs: 2, stepsPerEpoch: 2, batch: 2, bptt: 3, crop: 5, lr: 0.01 };
    const weights = async (cfg: typeof drop | typeof small, extra = {}) => {
      const m = new RCNN(cfg);
      await m.fit(data, { ...opts, ...extra });
      const w = partsOf(m).exportWeights();
      m.dispose();
      return w;
    };
    const a = await weights(drop);
    const b = await weights(drop);
    const none = await weights(small);
    const dir = path.join(tmp, 'ckpt-dropout');
    await weights(drop, { epochs: 1, checkpointDir: dir });
    const resumed = await weights(drop, { checkpointDir: dir, resume: true });
    let differs = false;
    for (const key of Object.keys(a)) {
      expect(Array.from(b[key])).toEqual(Array.from(a[key]));
      expect(Array.from(resumed[key])).toEqual(Array.from(a[key]));
      differs ||= a[key].some((x, i) => x !== none[key][i]);
    }
    expect(differs).toBe(true); // the masks really change training
    // same weights, dropout or not: identical likelihoods (dropout is a training-time regulariser only)
    const withDrop = new RCNN(drop);
    const without = new RCNN(small);
    partsOf(withDrop).importWeights(a, 'test');
    partsOf(without).importWeights(a, 'test');
    const test = motionCodes(5, 1);
    expect(Array.from(withDrop.logProb(test))).toEqual(Array.from(without.logProb(test)));
    withDrop.dispose();
    without.dispose();
    expect(() => new RCNN({ ...small, dropout: 1 })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  });

  it('a time limit closes the epoch it interrupts and keeps the best validation weights', async () => {
    const m = new RCNN({ ...small, adapt: false }); // evaluate below is the calibration's (gate as calibrated, not adapted)
    const val = motionCodes(5, 1);
    // the first epoch runs whole (no limit yet); then a limit of 0 s stops after one batch of the next fit
    const r1 = await m.fit(motionCodes(10), { ...quick, stepsPerEpoch: 2 });
    expect(r1.stopped).toBe('completed');
    const r = await m.fit(motionCodes(10), { ...quick, epochs: 5, stepsPerEpoch: 4, validation: val, timeLimit: 0 });
    expect(r.stopped).toBe('time');
    expect(r.steps).toBe(1);
    expect(r.epochs).toHaveLength(1);
    expect(r.bestEpoch).toBe(0);
    // the best weights, then the gate refit on the validation codes: its 'before' is the best epoch's
    expect(r.calibration!.valBitsBefore).toBeCloseTo(r.epochs[0].valBits!, 5);
    expect(m.evaluate(val).bitsPerCode).toBeCloseTo(r.calibration!.valBitsAfter, 5);
    await expect(m.fit(motionCodes(10), { ...quick, timeLimit: -1 })).rejects.toMatchObject({ code: 'E_RANGE' });
    m.dispose();
  });

  it('early stopping keeps the best validation weights', async () => {
    const m = new RCNN(small);
    const val = motionCodes(6, 1);
    // a huge learning rate makes validation worse after the first epoch
    const r = await m.fit(motionCodes(10), { epochs: 4, stepsPerEpoch: 2, batch: 2, bptt: 3, lr: 3, clip: 100, patience: 1, validation: val });
    const vals = r.epochs.map((e) => e.valNll!);
    const bestEpoch = vals.indexOf(Math.min(...vals));
    expect(r.bestEpoch).toBe(bestEpoch);
    expect(r.bestValNll).toBe(vals[bestEpoch]);
    if (r.stopped === 'early') expect(r.epochs.length).toBe(bestEpoch + 2);
    expect(m.evaluate(val).nll).toBeCloseTo(vals[bestEpoch], 6);
    m.dispose();
  });

  it('keeps tf.memory().numTensors flat across training, prediction and evaluation', async () => {
    const m = new RCNN({ ...small, softmax: 'factored' });
    const codes = motionCodes(8);
    await m.fit(codes, quick);
    const start = tf.memory().numTensors;
    await m.fit(codes, { ...quick, stepsPerEpoch: 4, validation: motionCodes(4, 1) });
    m.predictNext(codes, { mode: 'sample', seed: 1 });
    m.predictDistribution(codes);
    m.generate(codes, 2);
    m.fill(sliceCodes(codes, 0, 3), sliceCodes(codes, 4, 5));
    m.evaluate(codes);
    expect(tf.memory().numTensors).toBe(start);
    m.dispose();
  });
});
