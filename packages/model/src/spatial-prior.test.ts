import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng, sliceCodes } from '@vqvid/core';
import type { CodeVolume, StoredArray } from '@vqvid/core';
import { initBackend, RCNN, RNN } from './index';
import type { FitOptions, ModelOptions } from './index';
import { MixtureOutput, SpatialPrior } from './output';
import { partsOf } from './internals';
import { randomCodes } from './testing';
import { assembleBatch, batchGeometry, epochPlan } from './batch';
import { sliceBatch } from './train-worker';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-spatial-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const K = 4;
const small: ModelOptions = { k: K, embedDim: 4, hidden: 6, seed: 4, prior: 'spatial' };
const quick: FitOptions = { epochs: 1, stepsPerEpoch: 3, batch: 2, bptt: 3, crop: 5, lr: 0.02, workers: 1 };

/**
 * Codes with place-bound flicker: every 5th cell alternates between codes 1 and 2, the others stay (each changes
 * to a random code with probability `noise` per frame).
 */
function flicker(frames: number, seed: number, rows = 6, cols = 7, noise = 0.2): CodeVolume {
  const rng = new Rng(seed);
  const v = randomCodes(frames, rows, cols, K, seed);
  const n = rows * cols;
  for (let t = 1; t < frames; t++) {
    for (let i = 0; i < n; i++) v.codes[t * n + i] = i % 5 === 0 ? (t % 2 === 0 ? 1 : 2) : rng.next() < 1 - noise ? v.codes[(t - 1) * n + i] : rng.int(K);
  }
  return v;
}
const data = flicker(12, 3);

describe('spatial prior in a model', () => {
  it('a training batch reads each target cell and its 4 neighbours in the frame before (K outside the grid)', () => {
    const g = batchGeometry([data], 3, 4, 5, 2, 1);
    const plan = epochPlan([data], g, 1, new Rng(5));
    const b = assembleBatch([data], g, plan, 0, K);
    const plain = assembleBatch([data], g, plan, 0);
    expect(b.present.length).toBe(5 * b.targets.length);
    const code = (t: number, r: number, c: number) => (r < 0 || r >= data.rows || c < 0 || c >= data.cols ? K : data.codes[(t * data.rows + r) * data.cols + c]);
    for (let s = 0; s < g.steps; s++) {
      for (let w = 0; w < g.batch; w++) {
        const [t0, r0, c0] = [plan[w * 4 + 1], plan[w * 4 + 2], plan[w * 4 + 3]];
        const t = t0 + g.warmup + s;
        for (let y = 0; y < g.cropRows; y++) {
          for (let x = 0; x < g.cropCols; x++) {
            const i = ((s * g.batch + w) * g.cropRows + y) * g.cropCols + x;
            const [r, c] = [r0 + y, c0 + x];
            expect(Array.from(b.present.subarray(i * 5, i * 5 + 5))).toEqual([code(t, r, c), code(t, r - 1, c), code(t, r + 1, c), code(t, r, c - 1), code(t, r, c + 1)]);
            expect(plain.present[i]).toBe(code(t, r, c));
          }
        }
      }
    }
    // a worker's slice of windows is the batch of those windows alone, contexts included
    const own = assembleBatch([data], { ...g, batch: 2 }, plan.slice(4, 12), 0, K);
    expect(Array.from(sliceBatch(b, g, { start: 1, count: 2, total: 4 }).present)).toEqual(Array.from(own.present));
  });

  it('fit counts the spatial prior; logProb, predictDistribution and the stepper agree; save/load is exact', async () => {
    const m = new RCNN(small);
    await m.fit(data, quick);
    const out = partsOf(m).output as MixtureOutput;
    expect(out.priorKind).toBe('spatial');
    expect(out.prior).toBeInstanceOf(SpatialPrior);
    const test = flicker(5, 9);
    const n = test.rows * test.cols;
    const lp = m.logProb(test);
    const stepper = m.stepper(test.rows, test.cols);
    for (let t = 1; t < test.frames; t++) {
      const dist = m.predictDistribution(sliceCodes(test, 0, t)).probs!;
      const probs = stepper.next(test.codes.subarray((t - 1) * n, t * n));
      for (let i = 0; i < n; i++) {
        const x = test.codes[t * n + i];
        expect(Math.abs(Math.log(dist[i * K + x]) - lp[(t - 1) * n + i])).toBeLessThan(1e-4);
        expect(Math.abs(probs[i * K + x] - dist[i * K + x])).toBeLessThan(1e-6);
      }
    }
    stepper.dispose();
    const dir = path.join(tmp, 'spatial');
    await m.save(dir);
    const again = await RCNN.load(dir);
    expect(again.config.prior).toBe('spatial');
    expect(Array.from(again.logProb(test))).toEqual(Array.from(lp));
    // the counted context beats the same-cell bigram on place-bound flicker before any training step
    const counted = async (prior: 'bigram' | 'spatial') => {
      const fresh = new RCNN({ ...small, prior });
      await fresh.fit(flicker(30, 3, 6, 7, 0.02), { ...quick, epochs: 0 });
      const bits = fresh.evaluate(flicker(8, 3, 6, 7, 0.02)).bitsPerCode;
      fresh.dispose();
      return bits;
    };
    expect(await counted('spatial')).toBeLessThan((await counted('bigram')) - 0.05);
    m.dispose();
    again.dispose();
  });

  it('fit with validation chooses the prior strengths on it; a later fit without validation keeps them', async () => {
    const m = new RCNN(small);
    const val = flicker(6, 21, 6, 7, 0.6); // changes more often than the training codes
    await m.fit(data, { ...quick, validation: val, calibrate: false });
    const out = partsOf(m).output as MixtureOutput;
    const chosen = Array.from(out.prior!.strength);
    expect(chosen).toEqual(Array.from(SpatialPrior.fit([data], K, undefined, [val]).strength));
    expect(chosen).not.toEqual(Array.from(SpatialPrior.fit([data], K).strength));
    const more = [data, flicker(8, 22)];
    await m.fit(more, quick);
    expect(Array.from(out.prior!.strength)).toEqual(chosen);
    // recounted on the new codes with those strengths
    const probe = flicker(3, 23);
    expect(m.logProb(probe)).toEqual(
      (() => {
        const other = SpatialPrior.fit(more, K, [chosen[0], chosen[1]]);
        out.setPrior(other);
        return m.logProb(probe);
      })(),
    );
    m.dispose();
  });

  it('withPriorCountedOn runs a function with the prior recounted on some codes (same strengths), then restores it', async () => {
    const m = new RCNN({ ...small, adapt: false });
    const all = flicker(14, 31);
    await m.fit(all, quick);
    const out = partsOf(m).output as MixtureOutput;
    const counted = out.prior!;
    const probe = sliceCodes(all, 8, 12);
    const before = m.logProb(probe);
    const part = sliceCodes(all, 0, 8);
    const inside = m.withPriorCountedOn(part, () => m.logProb(probe));
    out.setPrior(SpatialPrior.fit([part], K, [counted.strength![0], counted.strength![1]]));
    expect(Array.from(inside)).toEqual(Array.from(m.logProb(probe)));
    out.setPrior(counted);
    // the probe's frames were counted: recounted without them, the prior predicts them worse
    expect(inside.reduce((a, b) => a + b, 0)).toBeLessThan(before.reduce((a, b) => a + b, 0));
    expect(Array.from(m.logProb(probe))).toEqual(Array.from(before));
    expect(out.prior).toBe(counted);
    // restored when fn throws too
    expect(() => m.withPriorCountedOn(part, () => { throw new Error('boom'); })).toThrow('boom');
    expect(out.prior).toBe(counted);
    expect(() => m.withPriorCountedOn([], () => 1)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    expect(() => m.withPriorCountedOn(sliceCodes(all, 0, 1), () => 1)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    m.dispose();
  });

  it('2 workers train as one thread within 1e-5, and repeated predict/fill keep numTensors flat', async () => {
    const train = async (workers: number) => {
      const m = new RCNN({ ...small, dropout: 0.2 });
      await m.fit(data, { ...quick, batch: 4, stepsPerEpoch: 4, workers });
      return m;
    };
    const one = await train(1);
    const two = await train(2);
    const [a, b] = [partsOf(one).exportWeights(), partsOf(two).exportWeights()] as Array<Record<string, StoredArray>>;
    for (const key of Object.keys(a)) {
      const scale = Math.max(1e-30, ...Array.from(a[key], Math.abs));
      for (let i = 0; i < a[key].length; i++) expect(Math.abs(a[key][i] - b[key][i]) / scale).toBeLessThan(1e-5);
    }
    const before = sliceCodes(data, 0, 4);
    const after = sliceCodes(data, 5, 6);
    one.predictNext(before);
    one.fill(before, after);
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      one.predictNext(before);
      one.generate(before, 2);
      one.fill(before, after, { candidates: 3 });
    }
    expect(tf.memory().numTensors).toBe(tensors);
    one.dispose();
    two.dispose();
  });

  it('fill of an RNN (no spatial context of its own) still ends where no single-cell change helps: the prior reaches the neighbours', async () => {
    const m = new RNN({ ...small, seed: 6, adapt: false }); // the objective is logProb's (see model.test.ts)
    await m.fit(data, { ...quick, epochs: 0 });
    const codes = flicker(5, 7, 4, 5);
    const cells = 20;
    const before = sliceCodes(codes, 0, 3);
    const after = sliceCodes(codes, 4, 5);
    const objective = (frame: ArrayLike<number>) => {
      const vol = { ...codes, codes: Int32Array.from(codes.codes) };
      vol.codes.set(frame, 3 * cells);
      return m.logProb(vol).subarray(2 * cells, 4 * cells).reduce((s, v) => s + v, 0);
    };
    const filled = m.fill(before, after, { sweeps: 50, candidates: K });
    const best = objective(filled.codes);
    expect(best).toBeGreaterThanOrEqual(objective(m.fill(before, after, { sweeps: 0 }).codes) - 1e-4);
    for (let i = 0; i < cells; i++) {
      for (let c = 0; c < K; c++) {
        const alt = Int32Array.from(filled.codes);
        alt[i] = c;
        expect(objective(alt)).toBeLessThanOrEqual(best + 1e-3);
      }
    }
    m.dispose();
  });
});
