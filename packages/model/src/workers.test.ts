import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StoredArray } from '@vqvid/core';
import { initBackend, RCNN } from './index';
import type { FitOptions, ModelOptions } from './index';
import { partsOf } from './internals';
import { motionCodes } from './testing';
import { assembleBatch, batchGeometry, epochPlan } from './batch';
import { batchDropout } from './dropout';
import { sliceBatch } from './train-worker';
import { FusedAdam } from './fused-adam';
import { liveTrainWorkers, TrainPool, workerPart } from './workers';
import { fusedMemberHeap } from './output/member';
import { Rng } from '@vqvid/core';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-workers-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

// crop 5 of an 8x8 grid: margins and masks; dropout: the masks must not depend on how the batch is split
const small: ModelOptions = { k: 4, embedDim: 4, hidden: 6, seed: 4, dropout: 0.2 };
const data = motionCodes(12);
const opts: FitOptions = { epochs: 1, stepsPerEpoch: 5, batch: 4, bptt: 3, crop: 5, lr: 0.01 };

async function train(workers: number, extra: FitOptions = {}, cfg = small, codes = data): Promise<{ w: Record<string, StoredArray>; losses: number[] }> {
  const m = new RCNN(cfg);
  const losses: number[] = [];
  await m.fit(codes, { ...opts, workers, ...extra, onProgress: (e) => e.stage === 'train' && losses.push(e.metrics!.loss) });
  const w = partsOf(m).exportWeights();
  m.dispose();
  return { w, losses };
}

/** Largest |a - b| over a tensor relative to its largest |a|, across all weights. */
function maxRelDiff(a: Record<string, StoredArray>, b: Record<string, StoredArray>): number {
  let worst = 0;
  for (const key of Object.keys(a).filter((k) => k in b)) {
    const scale = Math.max(1e-30, ...Array.from(a[key], Math.abs));
    for (let i = 0; i < a[key].length; i++) worst = Math.max(worst, Math.abs(a[key][i] - b[key][i]) / scale);
  }
  return worst;
}

/**
 * `other` trained as `one` did within float rounding: weights within 1e-5 of each tensor's largest and every loss
 * within 1e-5; and training moved the weights (the comparison is not between untouched initial weights of `cfg`).
 */
function expectSameTraining(one: Awaited<ReturnType<typeof train>>, other: Awaited<ReturnType<typeof train>>, cfg: ModelOptions): void {
  expect(maxRelDiff(one.w, other.w)).toBeLessThan(1e-5);
  expect(one.losses.length).toBeGreaterThan(0);
  expect(other.losses).toHaveLength(one.losses.length);
  other.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i])).toBeLessThan(1e-5 * Math.abs(one.losses[i])));
  const fresh = new RCNN(cfg);
  expect(maxRelDiff(one.w, partsOf(fresh).exportWeights())).toBeGreaterThan(1e-3);
  fresh.dispose();
}

describe('data-parallel training over worker threads', () => {
  it('splits the batch into nearly equal runs and slices a batch as the reference gather does', () => {
    expect([0, 1, 2].map((w) => workerPart(w, 3, 4))).toEqual([
      { start: 0, count: 1, total: 4 },
      { start: 1, count: 1, total: 4 },
      { start: 2, count: 2, total: 4 },
    ]);
    // a slice of windows equals the batch assembled from those windows' plan entries alone
    const g = batchGeometry([data], 3, 4, 5, 2, 1);
    const plan = epochPlan([data], g, 2, new Rng(7));
    const whole = assembleBatch([data], g, plan, 1);
    const part = { start: 1, count: 2, total: 4 };
    const own = assembleBatch([data], { ...g, batch: 2 }, plan.slice((4 + 1) * 4, (4 + 3) * 4), 0);
    const cut = sliceBatch(whole, g, part);
    expect(Array.from(cut.inputs)).toEqual(Array.from(own.inputs));
    expect(Array.from(cut.mask!)).toEqual(Array.from(own.mask!));
    expect(Array.from(cut.targets)).toEqual(Array.from(own.targets));
    expect(Array.from(cut.present)).toEqual(Array.from(own.present));
  });

  it('a slice of the batch gets exactly the rows of the whole batch dropout mask', () => {
    const [frames, total, per] = [3, 5, 7];
    const x = tf.tidy(() => tf.add(tf.reshape(tf.range(0, frames * total * per, 1, 'float32'), [frames * total, per]), 1));
    const whole = tf.dropout(x, 0.4, undefined, 123);
    const part = { start: 2, count: 2, total };
    const xs = tf.reshape(tf.slice(tf.reshape(x, [frames, total, per]), [0, 2, 0], [frames, 2, per]), [frames * 2, per]);
    const mine = batchDropout(xs, 0.4, 123, frames, part);
    const expected = tf.reshape(tf.slice(tf.reshape(whole, [frames, total, per]), [0, 2, 0], [frames, 2, per]), [frames * 2, per]);
    expect(Array.from(mine.dataSync())).toEqual(Array.from(expected.dataSync()));
    // and some elements are really dropped
    expect(Array.from(mine.dataSync()).some((v) => v === 0)).toBe(true);
    tf.dispose([x, whole, xs, mine, expected]);
  });

  it('same seed and worker count: identical weights on a rerun; 2 and 3 workers match 1 within 1e-5', async () => {
    const one = await train(1);
    const two = await train(2);
    const again = await train(2);
    const three = await train(3); // slices of 1, 1 and 2 windows: the weighting of the sum matters
    for (const key of Object.keys(two.w)) expect(Array.from(again.w[key])).toEqual(Array.from(two.w[key]));
    expect(again.losses).toEqual(two.losses);
    expect(two.losses).toHaveLength(5);
    for (const other of [two, three]) expectSameTraining(one, other, small);
    expect(liveTrainWorkers()).toBe(0);
  });

  it('the factored softmax through its fused member kernels (wasm, hidden 8): 2 workers match 1 within 1e-5', async () => {
    expect(fusedMemberHeap(8)).not.toBeNull();
    // 40 codes (the motion codes times 10, plus a pattern): frequency-binned classes of several sizes
    const base = motionCodes(12);
    const codes = { ...base, k: 40, codes: Int32Array.from(base.codes, (x, i) => x * 10 + ((i * 7 + Math.floor(i / 64)) % 10)) };
    const cfg: ModelOptions = { k: 40, embedDim: 8, hidden: 8, seed: 5, softmax: 'factored' };
    const one = await train(1, {}, cfg, codes);
    expectSameTraining(one, await train(2, {}, cfg, codes), cfg);
    expect(liveTrainWorkers()).toBe(0);
  });

  it('checkpoint and resume with workers give the uninterrupted run bit for bit', async () => {
    const two = { ...opts, epochs: 2, stepsPerEpoch: 3, validation: motionCodes(5, 2), workers: 2 };
    const straight = new RCNN(small);
    const r1 = await straight.fit(data, two);
    const dir = path.join(tmp, 'ckpt');
    const first = new RCNN(small);
    await first.fit(data, { ...two, epochs: 1, checkpointDir: dir });
    first.dispose();
    const resumed = new RCNN(small);
    const r2 = await resumed.fit(data, { ...two, checkpointDir: dir, resume: true });
    expect(r2.epochs.map((e) => e.loss)).toEqual(r1.epochs.map((e) => e.loss));
    expect(r2.steps).toBe(6);
    const a = partsOf(straight).exportWeights();
    const b = partsOf(resumed).exportWeights();
    for (const key of Object.keys(a)) expect(Array.from(b[key])).toEqual(Array.from(a[key]));
    straight.dispose();
    resumed.dispose();
  });

  it('terminates its workers on finish, on error and on abort', async () => {
    const m = new RCNN(small);
    let during = 0;
    await m.fit(data, { ...opts, workers: 2, onProgress: () => (during = liveTrainWorkers()) });
    expect(during).toBe(2);
    expect(liveTrainWorkers()).toBe(0);
    // an error in the caller's loop
    const boom = m.fit(data, { ...opts, workers: 2, onProgress: () => { throw new Error('boom'); } });
    await expect(boom).rejects.toThrow('boom');
    expect(liveTrainWorkers()).toBe(0);
    // an abort after step 2
    const ctrl = new AbortController();
    const r = await m.fit(data, { ...opts, workers: 2, signal: ctrl.signal, onProgress: (e) => e.done === 2 && ctrl.abort() });
    expect(r.stopped).toBe('aborted');
    expect(r.steps).toBe(2);
    expect(liveTrainWorkers()).toBe(0);
    // an abort fired by a timer: the pooled loop does not yield to timers itself, but its steps await the workers,
    // so the timer set after step 1 fires during step 2 and the loop stops after it
    const timed = new AbortController();
    const t = await m.fit(data, { ...opts, workers: 2, signal: timed.signal, onProgress: (e) => e.done === 1 && setTimeout(() => timed.abort(), 0) });
    expect(t.stopped).toBe('aborted');
    expect(t.steps).toBe(2);
    expect(liveTrainWorkers()).toBe(0);
    // a worker that cannot start (no such tfjs backend there): E_STATE naming the worker, none left running
    const p = partsOf(m);
    const spec = {
      workers: 2, backend: 'wasm', config: p.config, output: p.output.toJSON(), weights: p.exportWeights(),
      geometry: batchGeometry([data], 3, 4, 5, 2), sizes: p.variables().map((v) => v.size),
    };
    const start = TrainPool.start({ ...spec, backend: 'no-such-backend' });
    await expect(start).rejects.toMatchObject({ code: 'E_STATE', message: expect.stringContaining('training worker') });
    expect(liveTrainWorkers()).toBe(0);
    // a pool run step by step; then a worker that fails in a step (a code outside [0, k) in its slice): E_STATE
    const g = batchGeometry([data], 3, 4, 5, 2);
    const pool = await TrainPool.start({ ...spec, geometry: g });
    const batch = assembleBatch([data], g, epochPlan([data], g, 1, new Rng(3)), 0);
    pool.loadParams(p.variables().map((v) => v.dataSync() as Float32Array));
    // the workers' own tensors stay flat from step to step
    const seen: number[][] = [];
    for (let step = 0; step < 3; step++) {
      await pool.compute(batch, step);
      seen.push(pool.workerTensors());
    }
    expect(seen[0].every((t) => t > 0)).toBe(true);
    expect(seen).toEqual([seen[0], seen[0], seen[0]]);
    batch.inputs[batch.inputs.length - 1] = 99; // the last window: worker 1's slice
    await expect(pool.compute(batch, 0)).rejects.toMatchObject({ code: 'E_STATE', message: expect.stringContaining('training worker 1 failed') });
    await pool.close();
    expect(liveTrainWorkers()).toBe(0);
    m.dispose();
  });

  it.each([
    ['inactive', 1e3],
    ['active', 0.02],
  ])("the workers' Adam step in shards equals the caller's fused step on their gradients (clip %s)", async (_name, clip) => {
    const m = new RCNN(small);
    const p = partsOf(m);
    const sizes = p.variables().map((v) => v.size);
    const spec = {
      workers: 3, backend: 'wasm', config: p.config, output: p.output.toJSON(), weights: p.exportWeights(),
      geometry: batchGeometry([data], 3, 4, 5, 2), sizes,
    };
    const g = spec.geometry;
    // a FusedAdam without shared moments cannot be handed to workers
    await expect(TrainPool.start({ ...spec, adam: new FusedAdam(sizes.reduce((a, b) => a + b, 0)) })).rejects.toMatchObject({ code: 'E_STATE', message: expect.stringContaining('shared: true') });
    const sharded = new FusedAdam(sizes.reduce((a, b) => a + b, 0), 0.9, 0.999, 1e-7, { shared: true });
    const caller = new FusedAdam(sharded.size);
    const pools = [await TrainPool.start({ ...spec, adam: sharded }), await TrainPool.start(spec)];
    try {
      const init = p.variables().map((v) => v.dataSync() as Float32Array);
      pools.forEach((pool) => pool.loadParams(init));
      // the gradient-only pool cannot take a step
      await expect(pools[1].step(assembleBatch([data], g, epochPlan([data], g, 1, new Rng(3)), 0), 0, 0.01, clip)).rejects.toMatchObject({ code: 'E_STATE' });
      const plan = epochPlan([data], g, 3, new Rng(9));
      for (let step = 0; step < 3; step++) {
        const batch = assembleBatch([data], g, plan, step);
        const lr = 0.05 / (step + 1);
        const lossA = await pools[0].step(batch, step, lr, clip);
        const lossB = await pools[1].compute(batch, step);
        caller.step(pools[1].sharedParams, pools[1].sharedGrads, pools[1].shares, lr, clip, pools[1].gradStride);
        expect(lossA).toBe(lossB);
        expect(Math.abs(sharded.lastNorm - caller.lastNorm)).toBeLessThan(1e-12 * caller.lastNorm);
        expect(sharded.lastNorm > clip).toBe(clip < 1);
        expect([sharded.iterations, sharded.accBeta1, sharded.accBeta2]).toEqual([caller.iterations, caller.accBeta1, caller.accBeta2]);
        if (clip > 1) {
          // no clipping: the same bits (the shards only cut the element-wise update)
          expect(Array.from(pools[0].sharedParams)).toEqual(Array.from(pools[1].sharedParams));
          expect(Array.from(sharded.m)).toEqual(Array.from(caller.m));
          expect(Array.from(sharded.v)).toEqual(Array.from(caller.v));
        } else {
          // clipping: the norm is summed per shard, so the scale may differ in its last bits
          const a = pools[0].sharedParams;
          const b = pools[1].sharedParams;
          let worst = 0;
          for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1e-3, Math.abs(b[i])));
          expect(worst).toBeLessThan(1e-6);
        }
      }
      // the weights moved
      const flat = init.flatMap((w) => Array.from(w));
      let moved = 0;
      for (let i = 0; i < sharded.size; i++) moved = Math.max(moved, Math.abs(pools[0].sharedParams[i] - flat[i]));
      expect(moved).toBeGreaterThan(1e-3);
      // a worker that fails in its gradient (a code outside [0, k) in the last window, worker 2's slice): the others,
      // waiting for it before the Adam step, leave the step; E_STATE names it, and the pool still closes
      const bad = assembleBatch([data], g, plan, 0);
      bad.inputs[bad.inputs.length - 1] = 99;
      const iterations = sharded.iterations;
      await expect(pools[0].step(bad, 3, 0.01, clip)).rejects.toMatchObject({ code: 'E_STATE', message: expect.stringContaining('training worker 2 failed') });
      expect(sharded.iterations).toBe(iterations);
    } finally {
      // closed even when an expectation fails: live workers would keep jest from exiting
      await Promise.all(pools.map((pool) => pool.close()));
    }
    expect(liveTrainWorkers()).toBe(0);
    m.dispose();
  });

  it('leaves the model with the weights of the last step on an error and on an abort (fused step on shared weights)', async () => {
    const after2 = async (how: 'error' | 'abort'): Promise<Record<string, StoredArray>> => {
      const m = new RCNN(small);
      const ctrl = new AbortController();
      const run = m.fit(data, { ...opts, workers: 2, signal: ctrl.signal, onProgress: (e) => {
        if (e.done !== 2) return;
        if (how === 'error') throw new Error('boom');
        ctrl.abort();
      } });
      if (how === 'error') await expect(run).rejects.toThrow('boom');
      else expect((await run).steps).toBe(2);
      const w = partsOf(m).exportWeights();
      m.dispose();
      return w;
    };
    const failed = await after2('error');
    const aborted = await after2('abort');
    for (const key of Object.keys(failed)) expect(Array.from(failed[key])).toEqual(Array.from(aborted[key]));
    // two steps taken, not the initial weights
    const fresh = new RCNN(small);
    expect(maxRelDiff(failed, partsOf(fresh).exportWeights())).toBeGreaterThan(1e-4);
    fresh.dispose();
    // and the one-thread path's weights after the same two steps, within float rounding
    const one = new RCNN(small);
    const ctrl = new AbortController();
    await one.fit(data, { ...opts, workers: 1, signal: ctrl.signal, onProgress: (e) => e.done === 2 && ctrl.abort() });
    expect(maxRelDiff(partsOf(one).exportWeights(), failed)).toBeLessThan(1e-5);
    one.dispose();
    expect(liveTrainWorkers()).toBe(0);
  });

  it('keeps the tensors of the calling thread flat', async () => {
    const m = new RCNN({ ...small, copy: false, prior: 'none' });
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    await m.fit(data, { ...opts, workers: 2, onProgress: (e) => e.stage === 'train' && counts.push(tf.memory().numTensors) });
    // Adam's moments appear at the first step, then nothing grows
    expect(counts.slice(1)).toEqual(counts.slice(1).map(() => counts[1]));
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('refuses a worker count that is not a positive integer (E_RANGE)', async () => {
    const m = new RCNN(small);
    for (const workers of [0, -1, 1.5, Number.NaN]) {
      await expect(m.fit(data, { ...opts, workers })).rejects.toMatchObject({ code: 'E_RANGE', message: expect.stringContaining('workers') });
    }
    m.dispose();
  });
});
