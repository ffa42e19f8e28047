import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng, sliceCodes, VqvidError } from '@vqvid/core';
import type { CodeVolume, StoredArray } from '@vqvid/core';
import { initBackend, RCNN, RNN } from './index';
import type { ModelOptions } from './index';
import { partsOf } from './internals';
import { motionCodes, naiveConvStack, randomCodes } from './testing';
import { resolveConfig } from './config';
import { motionChannels, motionTensor, Network } from './network';
import { assembleBatch, batchGeometry } from './batch';
import { batchGradients } from './step';
import { fillGap } from './fill';
import { readStore } from './persist';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-motion-inputs-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const motionModel: ModelOptions = { k: 4, embedDim: 3, hidden: 5, seed: 3, inputs: ['codes', 'motion'] };

/** The two motion flags of cell (r, c) at frame t of a volume, written out from their definition. */
function naiveFlags(v: CodeVolume, t: number, r: number, c: number): [number, number] {
  const x = (tt: number) => v.codes[(tt * v.rows + r) * v.cols + c];
  const now = t >= 1 && x(t) !== x(t - 1) ? 1 : 0;
  const before = t >= 2 && x(t - 1) !== x(t - 2) ? 1 : 0;
  return [now, before];
}

/**
 * Slow float64 reference of the input drive of frame t (whole grid, zero padding): embedding plus the two
 * naive motion flags per cell, then each conv layer as sums over the kernel window.
 */
function naiveDrive(cfg: ReturnType<typeof resolveConfig>, w: Map<string, Float32Array>, v: CodeVolume, t: number): Float64Array {
  const { kernel, layers, embedDim } = cfg;
  const { rows, cols } = v;
  const E = w.get('embedding')!;
  const cells: Float64Array[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const code = v.codes[(t * rows + r) * cols + c];
      cells.push(Float64Array.from([...E.subarray(code * embedDim, (code + 1) * embedDim), ...naiveFlags(v, t, r, c)]));
    }
  }
  return Float64Array.from(naiveConvStack(cells, rows, cols, kernel, layers, w).flatMap((x) => Array.from(x)));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('motion inputs: the features', () => {
  it('motionChannels and motionTensor equal the naive per-cell flags (windows read as sequences)', () => {
    const v = randomCodes(5, 3, 4, 3, 11);
    const n = v.rows * v.cols;
    const want: number[] = [];
    for (let t = 0; t < v.frames; t++) for (let r = 0; r < v.rows; r++) for (let c = 0; c < v.cols; c++) want.push(...naiveFlags(v, t, r, c));
    expect(Array.from(motionChannels(v.codes, n, 0, v.frames))).toEqual(want);
    // a later range reads the frames before it as history
    expect(Array.from(motionChannels(v.codes, n, 2, 4))).toEqual(want.slice(2 * n * 2, 4 * n * 2));
    // two windows of 3 frames side by side, frame-major: each is its own sequence
    const a = sliceCodes(v, 0, 3);
    const b = sliceCodes(v, 2, 5);
    const both = new Int32Array(6 * n);
    for (let t = 0; t < 3; t++) {
      both.set(a.codes.subarray(t * n, (t + 1) * n), (2 * t) * n);
      both.set(b.codes.subarray(t * n, (t + 1) * n), (2 * t + 1) * n);
    }
    const got = tf.tidy(() => motionTensor(tf.tensor3d(both, [6, v.rows, v.cols], 'int32'), 3).dataSync());
    for (const [w, vol] of [[0, a], [1, b]] as const) {
      for (let t = 0; t < 3; t++) {
        for (let r = 0; r < v.rows; r++) {
          for (let c = 0; c < v.cols; c++) {
            const at = (((2 * t + w) * v.rows + r) * v.cols + c) * 2;
            expect([got[at], got[at + 1]]).toEqual(naiveFlags(vol, t, r, c));
          }
        }
      }
    }
  });

  it.each([
    ['tanh 3x3 x2', { kernel: 3, layers: 2 }],
    ['gru 3x3 x1', { kernel: 3, layers: 1, cell: 'gru' as const }],
    ['RNN 1x1', { kernel: 1, layers: 2 }],
  ])('the input drive with motion channels equals a float64 reference (%s), and the states a tanh recurrence on it', (_, o) => {
    const cfg = resolveConfig({ ...motionModel, ...o });
    const net = new Network(cfg, new Rng(5));
    const v = randomCodes(4, 3, 5, 4, 2);
    const [rows, cols, steps] = [v.rows, v.cols, v.frames];
    const w = net.snapshot();
    expect(w.get('conv0.w')!.length).toBe(cfg.kernel * cfg.kernel * (cfg.embedDim + 2) * (cfg.layers === 1 ? (cfg.cell === 'gru' ? 3 : 1) * cfg.hidden : cfg.hidden));
    const codes = tf.tensor3d(Int32Array.from(v.codes), [steps, rows, cols], 'int32');
    const drive = tf.tidy(() => net.inputDrive(codes, null, undefined, motionTensor(codes, steps)).dataSync());
    const per = drive.length / steps;
    for (let t = 0; t < steps; t++) expect(maxAbsDiff(drive.subarray(t * per, (t + 1) * per), naiveDrive(cfg, w, v, t))).toBeLessThan(1e-4);
    if (cfg.cell === 'tanh') {
      const hs = tf.tidy(() => net.window(codes, null, steps).dataSync());
      const hd = cfg.hidden;
      let h = new Float64Array(rows * cols * hd);
      for (let t = 0; t < steps; t++) {
        const d = naiveDrive(cfg, w, v, t);
        const next = new Float64Array(h.length);
        for (let i = 0; i < rows * cols; i++) {
          for (let j = 0; j < hd; j++) {
            let s = d[i * hd + j] + w.get('rec.b')![j];
            for (let q = 0; q < hd; q++) s += h[i * hd + q] * w.get('rec.w')![q * hd + j];
            next[i * hd + j] = Math.tanh(s);
          }
        }
        h = next;
        expect(maxAbsDiff(hs.subarray(t * h.length, (t + 1) * h.length), h)).toBeLessThan(1e-4);
      }
    }
    // without the channels a motion network refuses to run
    expect(() => net.inputDrive(codes, null)).toThrow(VqvidError);
    codes.dispose();
    net.dispose();
  });

  it('a crop with masked margins equals the whole grid on the crop, motion channels included', () => {
    const cfg = resolveConfig({ ...motionModel, kernel: 3, layers: 2 });
    const net = new Network(cfg, new Rng(2));
    const v = randomCodes(3, 6, 6, 4, 8);
    const [rows, cols, steps] = [6, 6, 3];
    const full = tf.tidy(() => net.window(tf.tensor3d(Int32Array.from(v.codes), [steps, rows, cols], 'int32'), null, steps).dataSync());
    // crop rows 0..2, cols 2..4 with margin 2: extended rows -2..4, cols 0..6 (row -2, -1 and col 6 outside)
    const [er, ec] = [7, 7];
    const ext = new Int32Array(steps * er * ec);
    const mask = new Float32Array(ext.length);
    for (let t = 0; t < steps; t++) {
      for (let y = 0; y < er; y++) {
        for (let x = 0; x < ec; x++) {
          const [r, c] = [y - 2, x];
          if (r < 0 || r >= rows || c >= cols) continue;
          ext[(t * er + y) * ec + x] = v.codes[(t * rows + r) * cols + c];
          mask[(t * er + y) * ec + x] = 1;
        }
      }
    }
    const part = tf.tidy(() => net.window(tf.tensor3d(ext, [steps, er, ec], 'int32'), tf.tensor4d(mask, [steps, er, ec, 1]), steps).dataSync());
    const hd = cfg.hidden;
    for (let t = 0; t < steps; t++) {
      for (let y = 0; y < 3; y++) {
        for (let x = 0; x < 3; x++) {
          for (let j = 0; j < hd; j++) {
            const a = part[(((t * er) + y + 2) * ec + x + 2) * hd + j];
            const b = full[(((t * rows) + y) * cols + x + 2) * hd + j];
            expect(Math.abs(a - b)).toBeLessThan(1e-5);
          }
        }
      }
    }
    net.dispose();
  });

  it('rejects a bad inputs value with a VqvidError naming inputs; [codes] is the plain model exactly', () => {
    for (const bad of [['motion'], ['codes', 'codes'], ['codes', 'flow'], 'motion', [], null]) {
      let err: unknown = null;
      try {
        new RCNN({ k: 4, inputs: bad as never });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VqvidError);
      expect((err as VqvidError).code).toBe('E_RANGE');
      expect((err as VqvidError).message).toMatch(/^inputs: /);
    }
    const plain = new RCNN({ k: 4, embedDim: 3, hidden: 5 });
    const explicit = new RCNN({ k: 4, embedDim: 3, hidden: 5, inputs: ['codes'] });
    const motion = new RCNN({ k: 4, embedDim: 3, hidden: 5, inputs: ['motion', 'codes'] });
    expect(explicit.config).toEqual(plain.config);
    expect('inputs' in plain.config).toBe(false);
    expect(motion.config.inputs).toEqual(['codes', 'motion']);
    expect(explicit.stepper(2, 2).identity.checksum).toBe(plain.stepper(2, 2).identity.checksum);
    for (const m of [plain, explicit, motion]) m.dispose();
  });
});

describe('motion inputs: the model', () => {
  const fitQuick = { epochs: 1, stepsPerEpoch: 3, batch: 2, bptt: 3, lr: 0.02, workers: 1 };

  it('logProb equals stepping the stepper, which equals predictDistribution bit for bit, with flat tensor counts', async () => {
    for (const Ctor of [RCNN, RNN]) {
      const m = new Ctor({ ...motionModel, ...(Ctor === RNN ? {} : { kernel: 3 }) });
      const codes = motionCodes(7, 1, 6, 8);
      await m.fit(codes, fitQuick);
      const n = codes.rows * codes.cols;
      const lp = m.logProb(codes);
      const s = m.stepper(codes.rows, codes.cols);
      s.next(codes.codes.subarray(0, n)); // warm-up allocations
      const before = tf.memory().numTensors;
      for (let t = 1; t < codes.frames; t++) {
        const probs = s.next(codes.codes.subarray(t * n, (t + 1) * n));
        expect(probs).toEqual(m.predictDistribution(sliceCodes(codes, 0, t + 1)).probs!);
        expect(tf.memory().numTensors).toBe(before);
        if (t === codes.frames - 1) break;
        for (let i = 0; i < n; i++) expect(Math.abs(Math.log(probs[i * 4 + codes.codes[(t + 1) * n + i]]) - lp[t * n + i])).toBeLessThan(1e-4);
      }
      s.dispose();
      m.dispose();
    }
  });

  it('the training loss of a whole-grid window equals -logProb of that window read as a sequence', async () => {
    const m = new RCNN({ ...motionModel, copy: false, prior: 'none' });
    const v = randomCodes(6, 4, 5, 4, 4);
    await m.fit(v, fitQuick);
    const parts = partsOf(m);
    const g = batchGeometry([v], 4, 1, 16, 2);
    expect([g.marginRows, g.marginCols, g.steps]).toEqual([0, 0, 4]);
    const plan = Int32Array.from([0, 1, 0, 0]); // window starting at frame 1
    const b = assembleBatch([v], g, plan, 0);
    const loss = tf.tidy(() => batchGradients(parts, g, b, 0).value.dataSync()[0]);
    const lp = m.logProb(sliceCodes(v, 1, 6));
    expect(Math.abs(loss + lp.reduce((a, x) => a + x, 0) / lp.length)).toBeLessThan(1e-5);
    m.dispose();
  });

  it('fill scores a candidate middle frame by its own motion channels: S equals the joint logProb', async () => {
    const m = new RCNN({ ...motionModel, copy: false, prior: 'none', kernel: 3, layers: 1 });
    const v = motionCodes(8, 2, 6, 7);
    await m.fit(v, fitQuick);
    const parts = partsOf(m);
    const [rows, cols, n, t] = [v.rows, v.cols, v.rows * v.cols, 5];
    const h = parts.stateAfter(sliceCodes(v, 0, t));
    const before = tf.memory().numTensors;
    const [f] = fillGap(parts, h, v.codes.subarray((t - 1) * n, t * n), rows, cols, v.codes.subarray((t + 1) * n, (t + 2) * n), { candidates: 3 }, true);
    expect(tf.memory().numTensors).toBe(before);
    h.dispose();
    const radius = 1;
    for (const i of [0, 9, 20, n - 1]) {
      for (let j = 0; j < f.m; j++) {
        const frame = Int32Array.from(f.codes.codes);
        frame[i] = f.candidates[i * f.m + j];
        const seq = new Int32Array((t + 2) * n);
        seq.set(v.codes.subarray(0, t * n));
        seq.set(frame, t * n);
        seq.set(v.codes.subarray((t + 1) * n, (t + 2) * n), (t + 1) * n);
        const lp = m.logProb({ rows, cols, frames: t + 2, k: 4, codes: seq });
        const [r0, c0] = [Math.floor(i / cols), i % cols];
        let want = lp[(t - 1) * n + i];
        for (let r = Math.max(0, r0 - radius); r <= Math.min(rows - 1, r0 + radius); r++) {
          for (let c = Math.max(0, c0 - radius); c <= Math.min(cols - 1, c0 + radius); c++) want += lp[t * n + r * cols + c];
        }
        expect(Math.abs(f.scores[i * f.m + j] - want)).toBeLessThan(1e-3);
      }
    }
    m.dispose();
  });

  it('saves and loads the option (logProb bit for bit); a plain model saves no inputs field and loads as codes', async () => {
    const m = new RCNN(motionModel);
    const codes = motionCodes(6);
    await m.fit(codes, fitQuick);
    const dir = path.join(tmp, 'motion');
    await m.save(dir);
    const back = await RCNN.load(dir);
    expect(back.config).toEqual(m.config);
    expect(Array.from(back.logProb(codes))).toEqual(Array.from(m.logProb(codes)));
    const plain = new RCNN({ k: 4, embedDim: 3, hidden: 5 });
    const plainDir = path.join(tmp, 'plain');
    await plain.save(plainDir);
    const { header } = await readStore(plainDir, 'model');
    expect('inputs' in (header.config as object)).toBe(false);
    const plainBack = await RCNN.load(plainDir);
    expect(plainBack.config.inputs).toBeUndefined();
    expect(Array.from(plainBack.logProb(codes))).toEqual(Array.from(plain.logProb(codes)));
    for (const x of [m, back, plain, plainBack]) x.dispose();
  });

  it('worker training with motion inputs equals one thread within 1e-5', async () => {
    const cfg: ModelOptions = { ...motionModel, hidden: 6, embedDim: 4, dropout: 0.2 };
    const run = async (workers: number) => {
      const m = new RCNN(cfg);
      await m.fit(motionCodes(12), { epochs: 1, stepsPerEpoch: 4, batch: 4, bptt: 3, crop: 5, lr: 0.01, workers });
      const w = partsOf(m).exportWeights();
      m.dispose();
      return w;
    };
    const one = await run(1);
    const two = await run(2);
    let worst = 0;
    for (const key of Object.keys(one)) {
      const a = one[key] as StoredArray;
      const scale = Math.max(1e-30, ...Array.from(a, Math.abs));
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - two[key][i]) / scale);
    }
    expect(worst).toBeLessThan(1e-5);
    // training moved the weights
    const untrained = new RCNN(cfg);
    expect(maxAbsDiff(partsOf(untrained).exportWeights()['w:conv0.w'], one['w:conv0.w'])).toBeGreaterThan(1e-3);
    untrained.dispose();
  });
});
