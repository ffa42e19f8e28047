/**
 * Entry of a training worker thread (see workers.ts): builds the model, then computes the loss and gradient of
 * its slice of every batch the caller writes into shared memory, until told to stop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from './backend';
import type { Batch, BatchGeometry } from './batch';
import type { BatchPart } from './dropout';
import { ModelParts } from './parts';
import { adamConstants, adamUpdate, clipScale, normOfShards, summedSquares } from './fused-adam';
import { assignFlat, lossAndGradientInto } from './step';
import { CONTROL, gradientStride, workerPart, workerShares, type TrainWorkerInit } from './workers';

/** Thrown out of a step whose Adam part cannot go on: a peer failed, or the pool is stopping. */
class Abandoned extends Error {}

/**
 * Waits (blocking: a worker thread may) until every worker's progress word is at least `target`; throws
 * {@link Abandoned} when one has failed or the pool stops.
 */
function awaitAll(ctrl: Int32Array, workers: number, target: number): void {
  for (let u = 0; u < workers; u++) {
    for (;;) {
      const now = Atomics.load(ctrl, CONTROL.FIRST_FLAG + u);
      if (now >= target) break;
      if (now === CONTROL.FAILED || Atomics.load(ctrl, CONTROL.STEP) === CONTROL.STOP) throw new Abandoned();
      Atomics.wait(ctrl, CONTROL.FIRST_FLAG + u, now);
    }
  }
}

/** Windows [start, start + count) of a batch laid out as `assembleBatch` does (frame-major, then window). */
export function sliceBatch(b: Batch, g: BatchGeometry, p: BatchPart): Batch {
  const er = g.cropRows + 2 * g.marginRows;
  const ec = g.cropCols + 2 * g.marginCols;
  const cut = <T extends Int32Array | Float32Array>(a: T, frames: number, per: number): T => {
    const out = new (a.constructor as new (n: number) => T)(frames * p.count * per);
    for (let f = 0; f < frames; f++) out.set(a.subarray((f * p.total + p.start) * per, (f * p.total + p.start + p.count) * per), f * p.count * per);
    return out;
  };
  const span = g.warmup + g.steps;
  const cells = g.cropRows * g.cropCols;
  return {
    inputs: cut(b.inputs, span, er * ec),
    mask: b.mask && cut(b.mask, span, er * ec),
    targets: cut(b.targets, g.steps, cells),
    present: cut(b.present, g.steps, cells * (b.present.length / b.targets.length)),
  };
}

async function serve(init: TrainWorkerInit): Promise<void> {
  await initBackend([init.backend]);
  if (tf.getBackend() !== init.backend) throw new Error(`the tfjs ${init.backend} backend did not initialise`);
  const model = new ModelParts(init.config);
  model.buildOutput(undefined, init.output);
  model.importWeights(init.weights, 'training worker');
  const vars = model.variables();
  if (vars.length !== init.sizes.length || vars.some((v, i) => v.size !== init.sizes[i])) throw new Error('the model built here has other variables than the caller');
  const ctrl = new Int32Array(init.ctrl);
  const params = new Float32Array(init.params);
  const total = params.length;
  const stride = gradientStride(total);
  const grads = new Float32Array(init.grads, init.index * stride * 4, total);
  const losses = new Float64Array(init.losses);
  const batch: Batch = {
    inputs: new Int32Array(init.inputs),
    mask: init.mask && new Float32Array(init.mask),
    targets: new Int32Array(init.targets),
    present: new Int32Array(init.present),
  };
  const g = { ...init.geometry, batch: init.part.count };
  const flag = CONTROL.FIRST_FLAG + init.index;
  const n = init.workers;
  // the Adam state: shared moments, this worker's shard of the parameters, the per-step arguments
  const adamArgs = new Float64Array(init.adamArgs);
  const partials = new Float64Array(init.partials);
  const allGrads = new Float32Array(init.grads);
  const m = init.adam && new Float32Array(init.adam.m);
  const v = init.adam && new Float32Array(init.adam.v);
  const shard = workerPart(init.index, n, total);
  const [lo, hi] = [shard.start, shard.start + shard.count];
  const shares = workerShares(n, init.geometry.batch);
  parentPort!.postMessage({ ready: true });
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, CONTROL.STEP, seen);
    const seq = Atomics.load(ctrl, CONTROL.STEP);
    if (seq === CONTROL.STOP) return;
    if (seq === seen) continue;
    seen = seq;
    try {
      assignFlat(vars, params);
      const mine = sliceBatch(batch, init.geometry, init.part);
      losses[init.index] = lossAndGradientInto(model, g, mine, Atomics.load(ctrl, CONTROL.GLOBAL_STEP), vars, grads, init.part);
      Atomics.store(ctrl, flag + n, tf.memory().numTensors);
      if (adamArgs[0] === 1) {
        if (!m || !v) throw new Error('the pool asked for an Adam step but started this worker without Adam state');
        Atomics.store(ctrl, flag, 3 * seq - 2);
        Atomics.notify(ctrl, flag);
        awaitAll(ctrl, n, 3 * seq - 2);
        partials[init.index] = summedSquares(allGrads, stride, shares, lo, hi);
        Atomics.store(ctrl, flag, 3 * seq - 1);
        Atomics.notify(ctrl, flag);
        awaitAll(ctrl, n, 3 * seq - 1);
        const [lr, clip, accBeta1, accBeta2] = adamArgs.subarray(1, 5);
        const k = adamConstants(init.adam!.beta1, init.adam!.beta2, init.adam!.epsilon, lr, accBeta1, accBeta2);
        adamUpdate(params, allGrads, stride, shares, m, v, lo, hi, clipScale(normOfShards(partials, n), clip), k);
      }
      Atomics.store(ctrl, flag, 3 * seq);
    } catch (e) {
      // a peer's failure is reported by the peer; this worker just leaves the step
      if (e instanceof Abandoned) continue;
      parentPort!.postMessage({ error: (e as Error).message ?? String(e) });
      Atomics.store(ctrl, flag, CONTROL.FAILED);
    }
    Atomics.notify(ctrl, flag);
  }
}

if (parentPort && workerData) {
  serve(workerData as TrainWorkerInit).catch((e) => parentPort!.postMessage({ error: (e as Error).message ?? String(e) }));
}
