import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { sliceCodes } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { bigramLogTable } from './direct';
import { initBackend, RCNN, RNN } from './index';
import { motionCodes, randomCodes } from './testing';
import { partsOf } from './internals';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-direct-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** Slow reference: Witten-Bell bigram over an add-½ unigram, from explicit lists of pairs. */
function referenceLogP(volumes: CodeVolume[], k: number, a: number, b: number): number {
  const all: number[] = [];
  const next: number[] = [];
  for (const v of volumes) {
    const n = v.rows * v.cols;
    all.push(...Array.from(v.codes));
    for (let t = 1; t < v.frames; t++) for (let i = 0; i < n; i++) if (v.codes[(t - 1) * n + i] === a) next.push(v.codes[t * n + i]);
  }
  const pUni = (x: number) => (all.filter((c) => c === x).length + 0.5) / (all.length + 0.5 * k);
  if (next.length === 0) return Math.log(pUni(b));
  const types = new Set(next).size;
  const c = next.filter((x) => x === b).length;
  return Math.log((c + types * pUni(b)) / (next.length + types));
}

describe('bigramLogTable', () => {
  it('equals a slow Witten-Bell reference, and every row is a distribution', () => {
    const k = 6;
    // code 5 never occurs before another frame: its row must fall back to the unigram
    const vols = [randomCodes(5, 3, 4, 5, 2), motionCodes(4, 1, 3, 3)].map((v) => ({ ...v, k }));
    const table = bigramLogTable(vols, k);
    for (let a = 0; a < k; a++) {
      let sum = 0;
      for (let b = 0; b < k; b++) {
        expect(table[a * k + b]).toBeCloseTo(referenceLogP(vols, k, a, b), 5);
        sum += Math.exp(table[a * k + b]);
      }
      expect(sum).toBeCloseTo(1, 5);
    }
  });
});

describe.each(['full', 'factored'] as const)('direct connections, %s softmax', (softmax) => {
  const opts = { k: 5, embedDim: 4, hidden: 6, seed: 3, softmax, classes: 2, direct: true, copy: false, prior: 'none' as const };
  const quick = { epochs: 1, stepsPerEpoch: 3, batch: 2, bptt: 3, lr: 0.01 };

  it('fit starts them at the training bigram: with W and b at zero the model is that bigram', async () => {
    const data = randomCodes(6, 4, 5, 5, 7);
    const m = new RNN(opts);
    await m.fit(data, { epochs: 0 });
    // zero every output weight but the direct tables (full: W, b; factored: Wc, bc, Wx, bx)
    const out = partsOf(m).output.variables;
    out.slice(0, softmax === 'full' ? 2 : 4).forEach((v) => tf.tidy(() => v.assign(tf.zerosLike(v))));
    const ctx = sliceCodes(data, 0, 3);
    const d = m.predictDistribution(ctx);
    const table = bigramLogTable([data], 5);
    for (let i = 0; i < 20; i++) {
      const a = ctx.codes[2 * 20 + i];
      for (let b = 0; b < 5; b++) expect(Math.log(d.probs![i * 5 + b])).toBeCloseTo(table[a * 5 + b], 4);
    }
    m.dispose();
  });

  it('a trained table is not re-initialised by another fit, and survives save / load exactly', async () => {
    const m = new RCNN(opts);
    const data = motionCodes(8).codes;
    const codes = { ...motionCodes(8), k: 5, codes: data };
    await m.fit(codes, quick);
    const trained = partsOf(m).exportWeights();
    await m.fit(codes, { ...quick, epochs: 0 });
    const again = partsOf(m).exportWeights();
    for (const key of Object.keys(trained)) expect(Array.from(again[key])).toEqual(Array.from(trained[key]));
    const dir = path.join(tmp, `rt-${softmax}`);
    await m.save(dir);
    const back = await RCNN.load(dir);
    expect(back.config.direct).toBe(true);
    const test = { ...motionCodes(5, 1), k: 5 };
    expect(Array.from(back.logProb(test))).toEqual(Array.from(m.logProb(test)));
    expect(Array.from(back.generate(test, 2).codes)).toEqual(Array.from(m.generate(test, 2).codes));
    m.dispose();
    back.dispose();
  });

  it('resuming from a checkpoint gives the same weights as an uninterrupted run', async () => {
    const data = { ...motionCodes(12), k: 5 };
    const fit = { epochs: 2, stepsPerEpoch: 2, batch: 2, bptt: 3, crop: 5, lr: 0.01, lrDecay: 0.5 };
    const straight = new RCNN(opts);
    await straight.fit(data, fit);
    const dir = path.join(tmp, `ckpt-${softmax}`);
    const first = new RCNN(opts);
    await first.fit(data, { ...fit, epochs: 1, checkpointDir: dir });
    first.dispose();
    const resumed = new RCNN(opts);
    await resumed.fit(data, { ...fit, checkpointDir: dir, resume: true });
    const a = partsOf(straight).exportWeights();
    const b = partsOf(resumed).exportWeights();
    for (const key of Object.keys(a)) expect(Array.from(b[key])).toEqual(Array.from(a[key]));
    straight.dispose();
    resumed.dispose();
  });

  it('fill never lowers its objective, and numTensors stays flat through training and inference', async () => {
    const m = new RCNN({ ...opts, seed: 8 });
    const codes = randomCodes(5, 5, 6, 5, 3);
    await m.fit(codes, quick);
    const start = tf.memory().numTensors;
    const before = sliceCodes(codes, 0, 3);
    const after = sliceCodes(codes, 4, 5);
    const objective = (frame: CodeVolume) => {
      const vol = { ...codes, codes: Int32Array.from(codes.codes) };
      vol.codes.set(frame.codes, 3 * 30);
      return m.logProb(vol).subarray(2 * 30, 4 * 30).reduce((x, y) => x + y, 0);
    };
    const f0 = m.fill(before, after, { sweeps: 0 });
    expect(Array.from(f0.codes)).toEqual(Array.from(m.predictNext(before).codes));
    const f3 = m.fill(before, after, { sweeps: 50, candidates: 5 });
    const best = objective(f3);
    expect(best).toBeGreaterThanOrEqual(objective(f0) - 1e-4);
    // all K candidates: no single-cell change improves the end point (the direct term is in the objective)
    for (let i = 0; i < 30; i += 7) {
      for (let c = 0; c < 5; c++) {
        const alt = { ...f3, codes: Int32Array.from(f3.codes) };
        alt.codes[i] = c;
        expect(objective(alt)).toBeLessThanOrEqual(best + 1e-3);
      }
    }
    await m.fit(codes, { ...quick, validation: randomCodes(3, 5, 6, 5, 4) });
    m.generate(codes, 2, { mode: 'sample', seed: 1 });
    m.fill(before, after);
    expect(tf.memory().numTensors).toBe(start);
    m.dispose();
  });
});

it('direct connections need k ≤ 4096 and a boolean', () => {
  expect(() => new RCNN({ k: 5000, direct: true })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  expect(() => new RCNN({ k: 8, direct: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
});
