import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { sliceCodes, sliceVideo, type CodeVolume } from '@vqvid/core';
import { assembleBatch, batchGeometry, epochPlan } from './batch';
import { receptiveRadius } from './config';
import { initBackend, PatchRegressor } from './index';
import { readStore, writeStore } from './persist';
import { batchTargets } from './regressor';
import { motionCodes, randomCodes } from './testing';
import { Rng } from '@vqvid/core';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-regressor-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** A fixed patch per code (dim 4): the target of a cell is the pattern of its code, so codes fix the pixels. */
const PATTERNS = [
  [0, 0, 0, 0],
  [2, 2, 1, 1],
  [1, -1, 1, -1],
  [3, 3, 3, 3],
];
function patchesOf(codes: CodeVolume): Float32Array {
  const out = new Float32Array(codes.codes.length * 4);
  codes.codes.forEach((c, i) => out.set(PATTERNS[c], i * 4));
  return out;
}

/** Weights of a saved regressor, by their stored names. */
async function weightsOf(reg: PatchRegressor, name: string): Promise<Record<string, Float32Array>> {
  const dir = path.join(tmp, name);
  await reg.save(dir);
  return (await readStore(dir, 'model')).arrays as Record<string, Float32Array>;
}

/**
 * The regressor's forward pass in plain loops (float64): embedding, zero-padded 'same' convs with tanh between
 * (bias on all but the last), the tanh cell h = tanh(drive + b + h·W), then the linear head.
 */
function referencePredict(w: Record<string, Float32Array>, cfg: { k: number; dim: number; embedDim: number; hidden: number; kernel: number; layers: number }, codes: CodeVolume): number[] {
  const { rows, cols, frames } = codes;
  const { embedDim, hidden, kernel, layers, dim } = cfg;
  const n = rows * cols;
  const p = (kernel - 1) / 2;
  let h: number[][] = Array.from({ length: n }, () => new Array(hidden).fill(0));
  for (let t = 0; t < frames; t++) {
    let x: number[][] = Array.from({ length: n }, (_, i) => {
      const c = codes.codes[t * n + i];
      return Array.from({ length: embedDim }, (_, e) => w['w:embedding'][c * embedDim + e]);
    });
    let cin = embedDim;
    for (let l = 0; l < layers; l++) {
      const cout = l === layers - 1 ? hidden : hidden;
      const W = w[`w:conv${l}.w`];
      const y: number[][] = Array.from({ length: n }, () => new Array(cout).fill(0));
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          for (let dy = 0; dy < kernel; dy++) {
            for (let dx = 0; dx < kernel; dx++) {
              const rr = r + dy - p;
              const cc = c + dx - p;
              if (rr < 0 || rr >= rows || cc < 0 || cc >= cols) continue;
              for (let i = 0; i < cin; i++) {
                const row = (dy * kernel + dx) * cin + i;
                for (let o = 0; o < cout; o++) y[r * cols + c][o] += x[rr * cols + cc][i] * W[row * cout + o];
              }
            }
          }
        }
      }
      if (l < layers - 1) for (const v of y) for (let o = 0; o < cout; o++) v[o] = Math.tanh(v[o] + w[`w:conv${l}.b`][o]);
      x = y;
      cin = cout;
    }
    h = x.map((drive, i) =>
      Array.from({ length: hidden }, (_, o) => {
        let s = drive[o] + w['w:rec.b'][o];
        for (let j = 0; j < hidden; j++) s += h[i][j] * w['w:rec.w'][j * hidden + o];
        return Math.tanh(s);
      }),
    );
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      let s = w['head:b'][d];
      for (let j = 0; j < hidden; j++) s += h[i][j] * w['head:w'][j * dim + d];
      out.push(s);
    }
  }
  return out;
}

const tiny = { k: 5, dim: 3, embedDim: 2, hidden: 3, kernel: 3, layers: 2, seed: 7 };

test('predictPatches equals a plain-loop reference of the same weights on a small grid', async () => {
  const reg = new PatchRegressor(tiny);
  const codes = randomCodes(3, 3, 4, 5, 2);
  // a non-zero head bias and recurrent bias, so every term of the reference is exercised
  const w = await weightsOf(reg, 'ref');
  w['head:b'] = Float32Array.from([0.3, -0.2, 0.1]);
  w['w:rec.b'] = Float32Array.from([0.05, -0.1, 0.2]);
  const dir = path.join(tmp, 'ref2');
  const { header } = await readStore(path.join(tmp, 'ref'), 'model');
  await writeStore(dir, 'model', header, w);
  const back = await PatchRegressor.load(dir);
  const got = Array.from(back.predictPatches(codes));
  const want = referencePredict(w, tiny, codes);
  expect(got.length).toBe(3 * 4 * 3);
  got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  reg.dispose();
  back.dispose();
});

test('the training loss gradient matches central finite differences on a cropped batch', () => {
  const reg = new PatchRegressor({ ...tiny, k: 4, dim: 4 });
  const codes = motionCodes(6);
  const targets = patchesOf(codes);
  // crop 3 of 8 with radius 2: margins and the real-border mask are in play
  const g = batchGeometry([codes], 3, 2, 3, receptiveRadius({ kernel: 3, layers: 2 }));
  expect(g.marginRows).toBe(2);
  const plan = epochPlan([codes], g, 1, new Rng(3));
  const b = assembleBatch([codes], g, plan, 0);
  const patches = batchTargets(targets, codes, g, plan, 0, 4);
  const vars = (reg as unknown as { variables(): tf.Variable[] }).variables();
  const loss = () => tf.tidy(() => reg.batchLoss(g, b.inputs, b.mask, patches, 1).dataSync()[0]);
  const grads = tf.tidy(() => {
    const { grads } = tf.variableGrads(() => reg.batchLoss(g, b.inputs, b.mask, patches, 1), vars);
    return Object.fromEntries(vars.map((v) => [v.name, Array.from(grads[v.name].dataSync())]));
  });
  const eps = 1e-2;
  let checked = 0;
  for (const v of vars) {
    // two weights of every variable, the first and the middle one
    for (const i of [0, Math.floor(v.size / 2)]) {
      const base = v.dataSync().slice() as Float32Array;
      const at = (delta: number) => {
        const d = base.slice();
        d[i] += delta;
        tf.tidy(() => v.assign(tf.tensor(d, v.shape)));
        return loss();
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
      const an = grads[v.name][i];
      // float32 forward: absolute floor 2e-4 on a loss of order 1, else 2% relative
      expect(Math.abs(fd - an)).toBeLessThan(2e-4 + 0.02 * Math.abs(an));
      checked++;
    }
  }
  expect(checked).toBe(2 * vars.length);
  reg.dispose();
});

test('fit on a synthetic clip lowers the validation MSE below its start and below copying the last frame', async () => {
  const train = motionCodes(40);
  const val = motionCodes(16, 3);
  const trainT = patchesOf(train);
  const valT = patchesOf(val);
  const reg = new PatchRegressor({ k: 4, dim: 4, embedDim: 8, hidden: 16, seed: 3 });
  const start = reg.evaluate(val, valT);
  const r = await reg.fit(train, trainT, { bptt: 4, batch: 4, crop: 8, epochs: 3, stepsPerEpoch: 25, lr: 0.02, lrDecay: 1, validation: { codes: val, targets: valT } });
  const end = reg.evaluate(val, valT);
  // copy-last: frame t's patches as the guess for frame t+1
  const per = val.rows * val.cols * 4;
  let copy = 0;
  for (let i = per; i < valT.length; i++) copy += (valT[i] - valT[i - per]) ** 2;
  copy /= valT.length - per;
  expect(r.bestValMse).toBeCloseTo(end, 6);
  expect(end).toBeLessThan(start / 2);
  expect(end).toBeLessThan(copy);
  reg.dispose();
});

test('deterministic when seeded; save/load gives identical predictions; loops keep the tensor count flat', async () => {
  const codes = motionCodes(12);
  const t = patchesOf(codes);
  const opts = { bptt: 3, batch: 2, crop: 4, epochs: 1, stepsPerEpoch: 3, lr: 0.01 };
  const a = new PatchRegressor({ k: 4, dim: 4, embedDim: 4, hidden: 6, seed: 5, dropout: 0.2 });
  const b = new PatchRegressor({ k: 4, dim: 4, embedDim: 4, hidden: 6, seed: 5, dropout: 0.2 });
  await a.fit(codes, t, opts);
  const before = tf.memory().numTensors;
  await b.fit(codes, t, opts);
  expect(tf.memory().numTensors).toBe(before);
  const probe = sliceCodes(motionCodes(9, 1), 0, 7);
  expect(Array.from(a.predictPatches(probe))).toEqual(Array.from(b.predictPatches(probe)));
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    a.predictPatches(probe);
    a.evaluate(codes, t);
  }
  expect(tf.memory().numTensors).toBe(n0);
  const dir = path.join(tmp, 'saved');
  await a.save(dir);
  const back = await PatchRegressor.load(dir);
  expect(back.config).toEqual(a.config);
  expect(Array.from(back.predictPatches(probe))).toEqual(Array.from(a.predictPatches(probe)));
  expect(back.evaluate(codes, t)).toBe(a.evaluate(codes, t));
  a.dispose();
  b.dispose();
  back.dispose();
});

test('predictFrames renders through the codec and feeds back the codes of each rendered frame', async () => {
  const { PatchCodec } = await import('@vqvid/quantize');
  const { syntheticVideo } = await import('@vqvid/video');
  const video = syntheticVideo({ kind: 'bouncing', width: 32, height: 24, frames: 8, seed: 1 });
  const codec = await PatchCodec.fit(video, { k: 8, seed: 1, maxIter: 5, backend: 'cpu', sample: 2000 });
  const codes = await codec.encode(video);
  const g = codes.geometry!;
  // the codec's rendering of a frame's own patches gives the frame back (8x8 patches tile 32x24 exactly)
  const frame0 = sliceVideo(video, 0);
  const again = codec.renderPatches(codec.referencePatches(frame0, g), g);
  again.data.forEach((v, i) => expect(Math.abs(v - frame0.data[i])).toBeLessThan(1e-3));
  const reg = new PatchRegressor({ k: 8, dim: 64, embedDim: 4, hidden: 6, seed: 2 });
  const context = sliceCodes(codes, 0, 5);
  const n0 = tf.memory().numTensors;
  const frames = await reg.predictFrames(context, 3, { codec });
  expect(tf.memory().numTensors).toBe(n0);
  expect([frames.width, frames.height, frames.frames]).toEqual([32, 24, 3]);
  // step 1 is the predicted patches rendered; step 2 follows the codes the codec gives step 1's frame
  const first = codec.renderPatches(reg.predictPatches(context), g);
  expect(Array.from(frames.data.subarray(0, 32 * 24))).toEqual(Array.from(first.data));
  const fed = await codec.encode(first, { std: g.std });
  const ctx2 = { ...context, frames: 6, codes: Int32Array.from([...context.codes, ...fed.codes]) };
  const second = codec.renderPatches(reg.predictPatches(ctx2), g);
  Array.from(frames.data.subarray(32 * 24, 2 * 32 * 24)).forEach((v, i) => expect(v).toBeCloseTo(second.data[i], 3));
  reg.dispose();
  codec.dispose();
});

test('bad inputs are typed errors naming the argument', async () => {
  expect(() => new PatchRegressor({ k: 4 } as never)).toThrow(expect.objectContaining({ code: 'E_RANGE', message: expect.stringContaining('dim') }));
  expect(() => new PatchRegressor({ k: 4, dim: 4, kernel: 2 })).toThrow(expect.objectContaining({ code: 'E_RANGE', message: expect.stringContaining('kernel') }));
  const reg = new PatchRegressor({ k: 4, dim: 4, embedDim: 2, hidden: 2 });
  const codes = motionCodes(6);
  const t = patchesOf(codes);
  await expect(reg.fit(codes, t.subarray(1))).rejects.toMatchObject({ code: 'E_SHAPE', message: expect.stringContaining('targets.length') });
  await expect(reg.fit(codes, Array.from(t) as never)).rejects.toMatchObject({ code: 'E_DTYPE', message: expect.stringContaining('targets') });
  const nan = t.slice();
  nan[5] = NaN;
  await expect(reg.fit(codes, nan)).rejects.toMatchObject({ code: 'E_RANGE', message: expect.stringContaining('targets[5]') });
  await expect(reg.fit(codes, t, { bptt: 0 })).rejects.toMatchObject({ code: 'E_RANGE', message: expect.stringContaining('bptt') });
  await expect(reg.fit(codes, t, { validation: { codes: { ...codes, k: 5 }, targets: t } })).rejects.toMatchObject({ code: 'E_SHAPE', message: expect.stringContaining('validation.codes.k') });
  expect(() => reg.predictPatches({ ...codes, k: 9 })).toThrow(expect.objectContaining({ code: 'E_SHAPE', message: expect.stringContaining('context.k') }));
  await expect(reg.predictFrames(codes, 2, { codec: {} as never })).rejects.toMatchObject({ code: 'E_RANGE', message: expect.stringContaining('options.codec') });
  await expect(reg.predictFrames(codes, 2, { codec: { renderPatches: () => null, encode: async () => codes } as never })).rejects.toMatchObject({ code: 'E_SHAPE', message: expect.stringContaining('geometry') });
  await expect(PatchRegressor.load(path.join(tmp, 'nothing-here'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  reg.dispose();
});

test('load refuses another model class and mis-sized weights with E_FORMAT', async () => {
  const reg = new PatchRegressor({ k: 4, dim: 4, embedDim: 2, hidden: 2 });
  const dir = path.join(tmp, 'bad');
  await reg.save(dir);
  const { header, arrays } = await readStore(dir, 'model');
  await writeStore(path.join(tmp, 'other'), 'model', { ...header, className: 'RCNN' }, arrays);
  await expect(PatchRegressor.load(path.join(tmp, 'other'))).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringContaining('className') });
  await writeStore(path.join(tmp, 'short'), 'model', header, { ...arrays, 'head:w': new Float32Array(3) });
  await expect(PatchRegressor.load(path.join(tmp, 'short'))).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringContaining('head:w') });
  reg.dispose();
});
