import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng, VqvidError } from '@vqvid/core';
import type { StoredArray } from '@vqvid/core';
import { initBackend, RCNN } from './index';
import type { FitOptions, ModelOptions } from './index';
import { partsOf } from './internals';
import { motionCodes, randomCodes } from './testing';
import { assembleBatch, type Batch, type BatchGeometry, batchGeometry, epochPlan } from './batch';
import { batchGradients } from './step';
import { rolloutBatch, rolloutPlan, type RolloutPlan } from './rollout';
import type { ModelParts } from './parts';
import { readStore } from './persist';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-rollout-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const small: ModelOptions = { k: 4, embedDim: 4, hidden: 6, seed: 4 };
const data = motionCodes(14);
const quick: FitOptions = { epochs: 1, stepsPerEpoch: 4, batch: 3, bptt: 4, crop: 5, lr: 0.02, workers: 1 };

/** The most probable code of each row of a [rows, k] log-probability array, ties to the lowest code. */
function argmaxRows(lp: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < lp.length / k; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (lp[i * k + c] > lp[i * k + best]) best = c;
    out.push(best);
  }
  return out;
}

/**
 * The rolled-out batch built by hand, window by window and frame by frame: the input of frame l of a rolling
 * window is the argmax of the output at frame l−1 after running the whole window prefix 0..l−1 (as replaced so
 * far) through Network.window from a zero state; the present codes are read off the replaced inputs.
 */
function referenceRollout(parts: ModelParts, g: BatchGeometry, b: Batch, plan: RolloutPlan): Batch {
  const er = g.cropRows + 2 * g.marginRows;
  const ec = g.cropCols + 2 * g.marginCols;
  const per = er * ec;
  const inputs = b.inputs.slice();
  const at = (l: number, w: number, y: number, x: number) => ((l * g.batch + w) * er + y) * ec + x;
  plan.forEach((p, w) => {
    if (!p) return;
    for (let l = p[0]; l <= p[1]; l++) {
      const prefix = new Int32Array(l * per);
      const mask = new Float32Array(l * per);
      for (let j = 0; j < l; j++) {
        prefix.set(inputs.subarray(at(j, w, 0, 0), at(j, w, 0, 0) + per), j * per);
        mask.set(b.mask!.subarray(at(j, w, 0, 0), at(j, w, 0, 0) + per), j * per);
      }
      const present = contextOf(parts, g, inputs, b.mask!, l - 1, w);
      const lp = tf.tidy(() => {
        const hs = parts.net.window(tf.tensor3d(prefix, [l, er, ec], 'int32'), tf.tensor4d(mask, [l, er, ec, 1]), l);
        const h = tf.slice(hs, [l - 1, 0, g.marginRows, g.marginCols, 0], [1, 1, g.cropRows, g.cropCols, -1]);
        return parts.output.logProbsAll(tf.reshape(h, [g.cropRows * g.cropCols, -1]) as tf.Tensor2D, parts.contextTensor(present)).dataSync() as Float32Array;
      });
      const codes = argmaxRows(lp, parts.config.k);
      for (let y = 0; y < g.cropRows; y++) for (let x = 0; x < g.cropCols; x++) inputs[at(l, w, y + g.marginRows, x + g.marginCols)] = codes[y * g.cropCols + x];
    }
  });
  const present = new Int32Array(b.present.length);
  const perWindow = g.cropRows * g.cropCols * parts.presentWidth;
  for (let s = 0; s < g.steps; s++) for (let w = 0; w < g.batch; w++) present.set(contextOf(parts, g, inputs, b.mask!, g.warmup + s, w), (s * g.batch + w) * perWindow);
  return { inputs, mask: b.mask, targets: b.targets, present };
}

/**
 * What the output layer reads of frame l of window w, read off the (replaced) inputs: each crop cell's code, and
 * with a spatial prior its 4 neighbours' too, from the margin where they fall there (K where the mask says the
 * cell is outside the grid). Needs margins of at least 1.
 */
function contextOf(parts: ModelParts, g: BatchGeometry, inputs: Int32Array, mask: Float32Array, l: number, w: number): Int32Array {
  const er = g.cropRows + 2 * g.marginRows;
  const ec = g.cropCols + 2 * g.marginCols;
  const at = (y: number, x: number) => ((l * g.batch + w) * er + y + g.marginRows) * ec + x + g.marginCols;
  const offsets = [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]].slice(0, parts.presentWidth);
  const out: number[] = [];
  for (let y = 0; y < g.cropRows; y++) {
    for (let x = 0; x < g.cropCols; x++) for (const [dy, dx] of offsets) out.push(mask[at(y + dy, x + dx)] === 1 ? inputs[at(y + dy, x + dx)] : parts.config.k);
  }
  return Int32Array.from(out);
}

describe('rollout: the plan', () => {
  const g = batchGeometry([data], 5, 6, 5, 2, 1);

  it('is a pure function of (seed, step), none at prob 0, every window at prob 1, about prob of them otherwise', () => {
    expect(rolloutPlan(g, 2, 0.5, 4, 17)).toEqual(rolloutPlan(g, 2, 0.5, 4, 17));
    expect(rolloutPlan(g, 2, 0.5, 4, 17)).not.toEqual(rolloutPlan(g, 2, 0.5, 4, 18));
    expect(rolloutPlan(g, 2, 0, 4, 3).every((p) => p === null)).toBe(true);
    expect(rolloutPlan(g, 0, 1, 4, 3).every((p) => p === null)).toBe(true);
    const span = g.warmup + g.steps;
    let rolled = 0;
    let windows = 0;
    const firsts = new Set<number>();
    for (let step = 0; step < 200; step++) {
      for (const p of rolloutPlan(g, 3, 1, 9, step)) {
        expect(p).not.toBeNull();
        const [first, last] = p!;
        expect(first).toBeGreaterThanOrEqual(g.warmup + 1);
        expect(last).toBe(Math.min(first + 2, span - 1));
        firsts.add(first);
      }
      for (const p of rolloutPlan(g, 3, 0.3, 9, step)) {
        windows++;
        if (p) rolled++;
      }
    }
    expect([...firsts].sort()).toEqual([2, 3, 4, 5]);
    expect(Math.abs(rolled / windows - 0.3)).toBeLessThan(0.05);
  });
});

describe('rollout: the batch and the loss', () => {
  it.each([
    ['bigram prior', { ...small, prior: 'bigram' } as ModelOptions],
    ['motion inputs, bigram prior', { ...small, prior: 'bigram', inputs: ['codes', 'motion'] } as ModelOptions],
    ['spatial prior (the default)', small],
    ['motion inputs, spatial prior', { ...small, inputs: ['codes', 'motion'] } as ModelOptions],
  ])('the loss of a rolled-out batch equals the teacher-forced loss of the inputs replaced by hand (%s)', async (_, cfg) => {
    // random codes: the model's predictions differ from the true codes, so replacing them matters downstream
    const noisy = randomCodes(14, 8, 8, 4, 5);
    const m = new RCNN(cfg);
    await m.fit(noisy, quick);
    const parts = partsOf(m);
    const g = batchGeometry([noisy], 5, 3, 5, 2, 1);
    expect(g.marginRows).toBe(2);
    const b = assembleBatch([noisy], g, epochPlan([noisy], g, 1, new Rng(3)), 0, m.config.prior === 'spatial' ? cfg.k : null);
    const plan: RolloutPlan = [[2, 5], null, [3, 4]];
    const before = tf.memory().numTensors;
    const rolled = rolloutBatch(parts, g, b, plan);
    expect(tf.memory().numTensors).toBe(before);
    const ref = referenceRollout(parts, g, b, plan);
    expect(Array.from(rolled.inputs)).toEqual(Array.from(ref.inputs));
    expect(Array.from(rolled.present)).toEqual(Array.from(ref.present));
    // the model's predictions are not all the true codes, and only the planned inner cells were replaced
    const er = g.cropRows + 4;
    const changed = Array.from(rolled.inputs.keys()).filter((i) => rolled.inputs[i] !== b.inputs[i]);
    expect(changed.length).toBeGreaterThan(10);
    for (const i of changed) {
      const [l, w, y, x] = [Math.floor(i / (3 * er * er)), Math.floor(i / (er * er)) % 3, Math.floor(i / er) % er, i % er];
      expect(plan[w] !== null && l >= plan[w]![0] && l <= plan[w]![1]).toBe(true);
      expect(y >= 2 && y < er - 2 && x >= 2 && x < er - 2).toBe(true);
    }
    const loss = (batch: Batch) => tf.tidy(() => batchGradients(parts, g, batch, 5).value.dataSync()[0]);
    expect(Math.abs(loss(rolled) - loss(ref))).toBeLessThan(1e-6);
    expect(loss(rolled)).not.toBe(loss(b));
    expect(rolloutBatch(parts, g, b, [null, null, null])).toBe(b);
    m.dispose();
  });
});

describe('rollout: training', () => {
  async function train(extra: FitOptions, cfg = small): Promise<{ w: Record<string, StoredArray>; losses: number[] }> {
    const m = new RCNN(cfg);
    const r = await m.fit(data, { ...quick, epochs: 2, ...extra });
    const w = partsOf(m).exportWeights();
    m.dispose();
    return { w, losses: r.epochs.map((e) => e.loss) };
  }
  const same = (a: Record<string, StoredArray>, b: Record<string, StoredArray>) => Object.keys(a).every((k) => a[k].every((v, i) => v === b[k][i]));

  it('rollout 0 (and any rollout at probability 0) trains exactly as teacher forcing; rollout 2 does not', async () => {
    const plain = await train({});
    const zero = await train({ rollout: 0 });
    const never = await train({ rollout: 2, rolloutProb: 0 });
    const rolled = await train({ rollout: 2, rolloutProb: 1 });
    expect(zero.losses).toEqual(plain.losses);
    expect(same(zero.w, plain.w)).toBe(true);
    expect(never.losses).toEqual(plain.losses);
    expect(same(never.w, plain.w)).toBe(true);
    expect(same(rolled.w, plain.w)).toBe(false);
  });

  it('resume after an interruption equals the uninterrupted run, and continues the checkpoint rollout', async () => {
    const opts: FitOptions = { ...quick, epochs: 2, rollout: 2, rolloutProb: 0.7, validation: motionCodes(5, 2) };
    const straight = await train(opts);
    const dir = path.join(tmp, 'ckpt');
    const first = new RCNN(small);
    await first.fit(data, { ...opts, epochs: 1, checkpointDir: dir });
    first.dispose();
    const { header } = await readStore(dir, 'checkpoint');
    expect((header.state as { rollout?: unknown }).rollout).toEqual({ frames: 2, prob: 0.7 });
    // options that contradict the checkpoint are refused
    const wrong = new RCNN(small);
    const err = await wrong.fit(data, { ...opts, rollout: 3, checkpointDir: dir, resume: true }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(VqvidError);
    expect((err as VqvidError).message).toMatch(/^rollout: /);
    wrong.dispose();
    // no rollout option: the checkpoint's
    const { rollout, rolloutProb, ...rest } = opts;
    expect([rollout, rolloutProb]).toEqual([2, 0.7]);
    const resumed = new RCNN(small);
    const r = await resumed.fit(data, { ...rest, checkpointDir: dir, resume: true });
    expect(r.epochs.map((e) => e.loss)).toEqual(straight.losses);
    expect(same(partsOf(resumed).exportWeights(), straight.w)).toBe(true);
    resumed.dispose();
  });

  it('workers give the one-thread result within 1e-5', async () => {
    const cfg = { ...small, dropout: 0.2 };
    const one = await train({ rollout: 2, workers: 1 }, cfg);
    const two = await train({ rollout: 2, workers: 2 }, cfg);
    let worst = 0;
    for (const key of Object.keys(one.w)) {
      const scale = Math.max(1e-30, ...Array.from(one.w[key], Math.abs));
      for (let i = 0; i < one.w[key].length; i++) worst = Math.max(worst, Math.abs(one.w[key][i] - two.w[key][i]) / scale);
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('rejects bad rollout options naming them', async () => {
    const m = new RCNN(small);
    for (const [bad, name] of [[{ rollout: -1 }, 'rollout'], [{ rollout: 1.5 }, 'rollout'], [{ rolloutProb: 2 }, 'rolloutProb']] as const) {
      const err = await m.fit(data, { ...quick, ...bad }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(VqvidError);
      expect((err as VqvidError).code).toBe('E_RANGE');
      expect((err as VqvidError).message.startsWith(`${name}: `)).toBe(true);
    }
    m.dispose();
  });
});
