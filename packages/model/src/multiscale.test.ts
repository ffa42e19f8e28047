import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng, sliceCodes, VqvidError } from '@vqvid/core';
import type { CodeVolume, StoredArray } from '@vqvid/core';
import { initBackend, RCNN } from './index';
import type { FitOptions, ModelOptions } from './index';
import { partsOf } from './internals';
import { assembleBatch, batchGeometry, epochPlan } from './batch';
import { type ModelConfig, receptiveRadius, resolveConfig, stateWidth } from './config';
import { Network } from './network';
import { readStore, writeStore } from './persist';
import { batchGradients } from './step';
import { motionCodes, naiveConvStack, randomCodes } from './testing';
import { liveTrainWorkers } from './workers';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-multiscale-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const two: ModelOptions = { k: 4, embedDim: 4, hidden: 6, hiddenCoarse: 3, scales: 2, seed: 4 };
const quick: FitOptions = { epochs: 1, stepsPerEpoch: 3, batch: 2, bptt: 3, lr: 0.01, workers: 1 };

/** The private weight checksum a stepper's identity reports. */
const checksum = (m: RCNN) => m.stepper(1, 1).identity.checksum;

/**
 * Slow float64 reference of a two-scale network on a whole rows x cols grid from a zero state: per frame the
 * input drive [fine | coarse of the cell's block] and the state [h_fine | h_coarse] of every cell.
 */
function reference(cfg: ModelConfig, w: Map<string, Float32Array>, codes: Int32Array, frames: number, rows: number, cols: number) {
  const { embedDim, hidden: H, kernel, layers } = cfg;
  const hc = cfg.hiddenCoarse!;
  const gates = cfg.cell === 'gru' ? 3 : 1;
  const n = rows * cols;
  const [cr, cc] = [Math.ceil(rows / 2), Math.ceil(cols / 2)];
  const coarseW = new Map([...w].filter(([k]) => k.startsWith('coarse.')).map(([k, v]) => [k.slice('coarse.'.length), v]));
  const motion = cfg.inputs?.includes('motion') ?? false;
  const dot = (v: ArrayLike<number>, name: string, width: number, col: number, from = 0, len = v.length) => {
    let s = 0;
    for (let j = 0; j < len; j++) s += v[from + j] * w.get(name)![j * width + col];
    return s;
  };
  const drives: Float64Array[][] = [];
  const states: Float64Array[][] = [];
  let h = Array.from({ length: n }, () => new Float64Array(H + hc));
  for (let t = 0; t < frames; t++) {
    const code = (tt: number, i: number) => codes[tt * n + i];
    const x = Array.from({ length: n }, (_, i) => {
      const v = Array.from(w.get('embedding')!.subarray(code(t, i) * embedDim, (code(t, i) + 1) * embedDim));
      if (motion) v.push(t >= 1 && code(t, i) !== code(t - 1, i) ? 1 : 0, t >= 2 && code(t - 1, i) !== code(t - 2, i) ? 1 : 0);
      return Float64Array.from(v);
    });
    const fine = naiveConvStack(x, rows, cols, kernel, layers, w);
    // 2x2 blocks from the grid origin, averaged over their cells inside the grid
    const pooled = Array.from({ length: cr * cc }, (_, b) => {
      const [R, C] = [Math.floor(b / cc), b % cc];
      const sum = new Float64Array(x[0].length);
      let count = 0;
      for (let r = 2 * R; r < Math.min(rows, 2 * R + 2); r++) {
        for (let c = 2 * C; c < Math.min(cols, 2 * C + 2); c++, count++) x[r * cols + c].forEach((v, j) => (sum[j] += v));
      }
      return sum.map((s) => s / count);
    });
    const coarse = naiveConvStack(pooled, cr, cc, kernel, layers, coarseW);
    const drive = fine.map((f, i) => Float64Array.from([...f, ...coarse[Math.floor(i / cols / 2) * cc + Math.floor((i % cols) / 2)]]));
    const next = drive.map((d, i) => {
      const prev = h[i];
      const hC = prev.subarray(H);
      // every fine gate reads h_c(t−1) through coarse.rec.tofine
      const pre = (g: number, o: number) => d[g * H + o] + w.get('rec.b')![g * H + o] + dot(hC, 'coarse.rec.tofine', gates * H, g * H + o);
      const out = new Float64Array(H + hc);
      if (cfg.cell === 'tanh') {
        for (let o = 0; o < H; o++) out[o] = Math.tanh(pre(0, o) + dot(prev, 'rec.w', H, o, 0, H));
      } else {
        const sig = (v: number) => 1 / (1 + Math.exp(-v));
        const z = Array.from({ length: H }, (_, o) => sig(pre(0, o) + dot(prev, 'rec.wzr', 2 * H, o, 0, H)));
        const r = Float64Array.from({ length: H }, (_, o) => sig(pre(1, o) + dot(prev, 'rec.wzr', 2 * H, H + o, 0, H)) * prev[o]);
        for (let o = 0; o < H; o++) out[o] = (1 - z[o]) * Math.tanh(pre(2, o) + dot(r, 'rec.wn', H, o)) + z[o] * prev[o];
      }
      for (let o = 0; o < hc; o++) out[H + o] = Math.tanh(d[gates * H + o] + w.get('coarse.rec.b')![o] + dot(hC, 'coarse.rec.w', hc, o));
      return out;
    });
    drives.push(drive);
    states.push(next);
    h = next;
  }
  return { drives, states };
}

describe('two-scale network', () => {
  it.each([
    ['tanh', {}],
    ['gru', { cell: 'gru' as const }],
    ['tanh with motion inputs', { inputs: ['codes' as const, 'motion' as const] }],
  ])('drive and states match a float64 reference on a 5x7 grid (%s)', (_, extra) => {
    const cfg = resolveConfig({ k: 5, embedDim: 3, hidden: 4, hiddenCoarse: 3, scales: 2, seed: 6, ...extra });
    const net = new Network(cfg, new Rng(6));
    const [frames, rows, cols] = [3, 5, 7];
    const codes = randomCodes(frames, rows, cols, 5, 8).codes as Int32Array;
    const ref = reference(cfg, net.snapshot(), codes, frames, rows, cols);
    const gates = cfg.cell === 'gru' ? 3 : 1;
    const n = rows * cols;
    // the drive of frame 0 (motion channels 0 there, as at any sequence start)
    const x = tf.tensor3d(codes.subarray(0, n), [1, rows, cols], 'int32');
    const m = cfg.inputs ? tf.zeros([1, rows, cols, 2]) as tf.Tensor4D : undefined;
    const drive = net.inputDrive(x, null, undefined, m);
    expect(drive.shape).toEqual([n, gates * 4 + 3]);
    const d = drive.dataSync();
    for (let i = 0; i < n; i++) for (let j = 0; j < gates * 4 + 3; j++) expect(d[i * (gates * 4 + 3) + j]).toBeCloseTo(ref.drives[0][i][j], 4);
    const hs = net.window(tf.tensor3d(codes, [frames, rows, cols], 'int32'), null, frames);
    expect(hs.shape).toEqual([frames, 1, rows, cols, 7]);
    const got = hs.dataSync();
    for (let t = 0; t < frames; t++) for (let i = 0; i < n; i++) for (let j = 0; j < 7; j++) expect(got[(t * n + i) * 7 + j]).toBeCloseTo(ref.states[t][i][j], 4);
    // the coarse state is one per 2x2 block: equal copies in its cells (a check the reference would also fail)
    for (let j = 4; j < 7; j++) expect(got[(2 * n + 1 * cols + 0) * 7 + j]).toBe(got[(2 * n + 0 * cols + 1) * 7 + j]);
    tf.dispose([x, drive, hs, ...(m ? [m] : [])]);
    net.dispose();
  });

  it('receptive radius is exact: a code reaches the next prediction at most 2·rc + 1 cells away, and that far', () => {
    const m = new RCNN({ ...two, copy: false, prior: 'none' });
    const cfg = m.config;
    expect(receptiveRadius(cfg)).toBe(5);
    expect(receptiveRadius({ ...cfg, kernel: 1 })).toBe(1);
    expect(receptiveRadius({ kernel: 3, layers: 2 })).toBe(2);
    const parts = partsOf(m);
    const [rows, cols] = [2, 16];
    const codes = randomCodes(2, rows, cols, 4, 3);
    const n = rows * cols;
    const dist = (frame: Int32Array) => parts.nextLogProbs(parts.stateAfter({ ...codes, frames: 2, codes: frame }), frame.subarray(n), rows, cols);
    const base = dist(Int32Array.from(codes.codes));
    for (const c of [6, 7]) {
      // change the cell's code in frame 0: the predictions of frame 2 read it through h_1
      const alt = Int32Array.from(codes.codes);
      alt[c] = (alt[c] + 1) % 4;
      const moved = dist(alt);
      const reach: number[] = [];
      for (let i = 0; i < n; i++) {
        let diff = 0;
        for (let j = 0; j < 4; j++) diff = Math.max(diff, Math.abs(moved[i * 4 + j] - base[i * 4 + j]));
        if (diff > 1e-6) reach.push(Math.max(Math.abs(Math.floor(i / cols)), Math.abs((i % cols) - c)));
      }
      // even column 6 reaches column 11 (its block's coarse cell + rc = 2 blocks), odd column 7 column 2
      expect(Math.max(...reach)).toBe(5);
    }
    m.dispose();
  });

  it('a training crop with even origin and margins gives each crop cell the whole grid state (and an odd origin would not)', () => {
    const m = new RCNN(two);
    const parts = partsOf(m);
    const v = randomCodes(6, 13, 12, 4, 2);
    const g = batchGeometry([v], 3, 3, 4, receptiveRadius(m.config), 1, 2);
    // rows: 13 − 4 is odd, so the crop takes 3 rows and even origins reach the last row; margins even
    expect([g.cropRows, g.cropCols, g.marginRows, g.marginCols, g.warmup, g.align]).toEqual([3, 4, 6, 6, 1, 2]);
    const plan = epochPlan([v], g, 4, new Rng(3));
    const seen = new Set<number>();
    for (let i = 0; i < plan.length; i += 4) {
      expect(plan[i + 2] % 2).toBe(0);
      expect(plan[i + 3] % 2).toBe(0);
      seen.add(plan[i + 2]);
    }
    expect(Math.max(...seen)).toBeLessThanOrEqual(10);
    const span = g.warmup + g.steps;
    const width = stateWidth(m.config);
    const compare = (p: Int32Array): number => {
      const b = assembleBatch([v], g, p, 0);
      const [er, ec] = [g.cropRows + 2 * g.marginRows, g.cropCols + 2 * g.marginCols];
      const hs = parts.net.window(tf.tensor3d(b.inputs, [span * g.batch, er, ec], 'int32'), tf.tensor4d(b.mask!, [span * g.batch, er, ec, 1]), span);
      const got = hs.dataSync();
      hs.dispose();
      let worst = 0;
      for (let w = 0; w < g.batch; w++) {
        const [t0, r0, c0] = [p[w * 4 + 1], p[w * 4 + 2], p[w * 4 + 3]];
        const whole: Float32Array[] = [];
        parts.stateAfter(sliceCodes(v, t0, t0 + span), (_, h) => whole.push(h.dataSync() as Float32Array)).dispose();
        for (let l = 0; l < span; l++) {
          for (let y = 0; y < g.cropRows; y++) {
            for (let x = 0; x < g.cropCols; x++) {
              for (let j = 0; j < width; j++) {
                const a = got[(((l * g.batch + w) * er + y + g.marginRows) * ec + x + g.marginCols) * width + j];
                worst = Math.max(worst, Math.abs(a - whole[l][((r0 + y) * v.cols + c0 + x) * width + j]));
              }
            }
          }
        }
      }
      return worst;
    };
    expect(compare(plan)).toBeLessThan(1e-5);
    const odd = plan.slice(0, 4 * g.batch);
    for (let w = 0; w < g.batch; w++) odd[w * 4 + 2] = 5;
    expect(compare(odd)).toBeGreaterThan(1e-3);
    m.dispose();
  });

  it('the training loss gradient of the coarse weights matches central differences', () => {
    const m = new RCNN({ k: 4, embedDim: 3, hidden: 3, hiddenCoarse: 2, scales: 2, seed: 5, copy: false, prior: 'none' });
    const parts = partsOf(m);
    const v = randomCodes(5, 7, 9, 4, 4);
    const g = batchGeometry([v], 3, 2, 4, receptiveRadius(m.config), 0, 2);
    expect(g.marginRows).toBe(6);
    const b = assembleBatch([v], g, epochPlan([v], g, 1, new Rng(1)), 0);
    const loss = () => tf.tidy(() => batchGradients(parts, g, b, 0).value.dataSync()[0]);
    const grads = new Map<string, Float32Array>();
    tf.tidy(() => {
      for (const [name, t] of Object.entries(batchGradients(parts, g, b, 0).grads)) grads.set(name, t.dataSync() as Float32Array);
    });
    const eps = 1e-2;
    const rng = new Rng(7);
    let checked = 0;
    for (const w of parts.net.weights.filter((x) => x.name.startsWith('coarse.'))) {
      const grad = grads.get(w.variable.name)!;
      const base = (w.variable.dataSync() as Float32Array).slice();
      for (let trial = 0; trial < 4; trial++) {
        const i = rng.int(base.length);
        const at = (delta: number) => {
          const x = base.slice();
          x[i] += delta;
          tf.tidy(() => w.variable.assign(tf.tensor(x, w.variable.shape)));
          return loss();
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        tf.tidy(() => w.variable.assign(tf.tensor(base, w.variable.shape)));
        expect(Math.abs(grad[i] - fd)).toBeLessThan(2e-2 * Math.max(1e-2, Math.abs(fd)) + 2e-4);
        if (Math.abs(fd) > 1e-4) checked++;
      }
    }
    // conv0/1 w, conv0 b, rec.w, rec.b, rec.tofine: most probes see a real gradient
    expect(checked).toBeGreaterThan(12);
    m.dispose();
  });
});

describe('two-scale RCNN', () => {
  /** Largest |a − b| relative to the largest |a| of each weight. */
  const maxRelDiff = (a: Record<string, StoredArray>, b: Record<string, StoredArray>) => {
    let worst = 0;
    for (const key of Object.keys(a).filter((k) => k in b)) {
      const scale = Math.max(1e-30, ...Array.from(a[key], Math.abs));
      for (let i = 0; i < a[key].length; i++) worst = Math.max(worst, Math.abs(a[key][i] - b[key][i]) / scale);
    }
    return worst;
  };

  it('trains the same with 2 workers as with 1 (within 1e-5), with crops, dropout and a spatial prior', async () => {
    const opts = { ...two, dropout: 0.2, prior: 'spatial' as const };
    const train = async (workers: number) => {
      const m = new RCNN(opts);
      await m.fit(motionCodes(12), { ...quick, stepsPerEpoch: 4, batch: 4, crop: 5, workers });
      const w = partsOf(m).exportWeights();
      m.dispose();
      return w;
    };
    const one = await train(1);
    const pair = await train(2);
    expect(maxRelDiff(one, pair)).toBeLessThan(1e-5);
    const fresh = new RCNN(opts);
    expect(maxRelDiff(one, partsOf(fresh).exportWeights())).toBeGreaterThan(1e-3);
    fresh.dispose();
    expect(liveTrainWorkers()).toBe(0);
  });

  it('saves and loads exactly; single-scale models keep the configs, weights and training of before', async () => {
    const m = new RCNN({ ...two, inputs: ['codes', 'motion'] });
    expect(m.config.scales).toBe(2);
    expect(m.config.hiddenCoarse).toBe(3);
    const byDefault = new RCNN({ ...two, hiddenCoarse: undefined });
    expect(byDefault.config.hiddenCoarse).toBe(3);
    byDefault.dispose();
    await m.fit(motionCodes(10), { ...quick, crop: 5 });
    const dir = path.join(tmp, 'two');
    await m.save(dir);
    const back = await RCNN.load(dir);
    expect(back.config).toEqual(m.config);
    const probe = motionCodes(5, 1);
    expect(Array.from(back.logProb(probe))).toEqual(Array.from(m.logProb(probe)));
    expect(checksum(back)).toBe(checksum(m));
    // a file whose config claims a coarse scale its weights lack is refused before anything is built
    const plainDir = path.join(tmp, 'plain');
    const plain = new RCNN({ k: 4, embedDim: 4, hidden: 6, seed: 4, prior: 'bigram', adapt: false });
    // checksums of this model, fresh and after this fit: the fresh one computed by the code before `scales` existed
    // (when the default prior was the bigram, and before online gate adaptation, whose config it records when on);
    // the trained one was too ('6726a15d') until the softmax normaliser's gradient took the forward pass's exps
    // (dy·e/s instead of dy·exp(z − lse): the same gradient, other rounding; '19c249eb'), then its value came from
    // tf.softmax (z_max − ln p_max instead of z_max + ln Σ exp: the same value, other rounding; 'f30e454e'), then the
    // chosen logit was read from the logits themselves (pickedLogProb, not a separate gather and dot product: the same
    // value, other rounding; '3b251df5'), then training in one thread took the workers' fused Adam step (each weight's
    // update in float64, stored as float32, not tfjs's float32 kernels: the same step, other rounding), and is that
    // code's since
    expect(checksum(plain)).toBe('e110aeda');
    await plain.fit(motionCodes(12), { ...quick, crop: 5 });
    expect(checksum(plain)).toBe('cbc2c105');
    expect(Object.keys(plain.config)).not.toContain('scales');
    expect(Object.keys(plain.config)).not.toContain('hiddenCoarse');
    await plain.save(plainDir);
    const plainBack = await RCNN.load(plainDir);
    expect(plainBack.config.adapt).toBeUndefined();
    expect(checksum(plainBack)).toBe('cbc2c105');
    const { header, arrays } = await readStore(plainDir, 'model');
    const forgedDir = path.join(tmp, 'forged');
    await writeStore(forgedDir, 'model', { ...header, config: { ...(header.config as object), scales: 2, hiddenCoarse: 3 } }, arrays);
    const err = await RCNN.load(forgedDir).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(VqvidError);
    expect((err as VqvidError).code).toBe('E_FORMAT');
    // (found by the output layout's check: the output reads hidden + hiddenCoarse = 9 values, the file's 6)
    expect((err as VqvidError).message).toContain('config.hidden');
    for (const x of [m, back, plain, plainBack]) x.dispose();
  });

  it('refuses bad scales and hiddenCoarse with errors naming the option', () => {
    const bad: [ModelOptions, string][] = [
      [{ k: 4, scales: 3 as 2 }, 'scales'],
      [{ k: 4, scales: 0 as 2 }, 'scales'],
      [{ k: 4, scales: 2, hiddenCoarse: 0 }, 'hiddenCoarse'],
      [{ k: 4, scales: 2, hiddenCoarse: 1.5 }, 'hiddenCoarse'],
      [{ k: 4, hiddenCoarse: 4 }, 'hiddenCoarse'],
    ];
    for (const [opts, name] of bad) {
      const err = (() => {
        try {
          new RCNN(opts).dispose();
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(VqvidError);
      expect((err as VqvidError).code).toBe('E_RANGE');
      expect((err as VqvidError).message).toContain(name);
    }
  });

  it('fill gives a single-cell optimum of its objective on a grid wider than the locality lattice', async () => {
    const m = new RCNN({ ...two, seed: 9, adapt: false }); // the objective is logProb's (see model.test.ts)
    const codes = randomCodes(6, 4, 14, 4, 5);
    await m.fit(codes, { ...quick, crop: 6 });
    const before = sliceCodes(codes, 0, 2);
    const after = sliceCodes(codes, 3, 4);
    const cells = 4 * 14;
    const score = (frame: Int32Array) => {
      const vol = { ...codes, frames: 4, codes: new Int32Array(4 * cells) };
      vol.codes.set(before.codes, 0);
      vol.codes.set(frame, 2 * cells);
      vol.codes.set(after.codes, 3 * cells);
      return m.logProb(vol).subarray(cells).reduce((a, b) => a + b, 0);
    };
    const tensors = tf.memory().numTensors;
    const filled = Int32Array.from(m.fill(before, after, { sweeps: 50, candidates: 4 }).codes);
    expect(tf.memory().numTensors).toBe(tensors);
    const best = score(filled);
    for (let i = 0; i < cells; i++) {
      for (let c = 0; c < 4; c++) {
        const alt = Int32Array.from(filled);
        alt[i] = c;
        expect(score(alt)).toBeLessThanOrEqual(best + 1e-3);
      }
    }
    m.dispose();
  });

  it('features, stepper and generation read the whole state; tensor counts stay flat over repeated fit and predict', async () => {
    const m = new RCNN({ ...two, prior: 'spatial' });
    const codes: CodeVolume = motionCodes(8);
    const round = async () => {
      await m.fit(codes, { ...quick, crop: 5 });
      m.predictNext(codes);
      m.generate(sliceCodes(codes, 0, 3), 2);
      m.logProb(codes);
    };
    await round();
    const count = tf.memory().numTensors;
    await round();
    await round();
    expect(tf.memory().numTensors).toBe(count);
    expect(m.features(codes).dims).toBe(9);
    expect(m.features(codes, { layer: 'input-drive' }).dims).toBe(9);
    const n = codes.rows * codes.cols;
    const s = m.stepper(codes.rows, codes.cols);
    s.next(codes.codes.subarray(0, n));
    const probs = s.next(codes.codes.subarray(n, 2 * n));
    expect(probs).toEqual(m.predictDistribution(sliceCodes(codes, 0, 2)).probs!);
    s.dispose();
    m.dispose();
  });
});
