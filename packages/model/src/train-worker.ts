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
import { batchGradients } from './step';
import { CONTROL, type TrainWorkerInit } from './workers';

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
  const grads = new Float32Array(init.grads, init.index * total * 4, total);
  const losses = new Float64Array(init.losses);
  const batch: Batch = {
    inputs: new Int32Array(init.inputs),
    mask: init.mask && new Float32Array(init.mask),
    targets: new Int32Array(init.targets),
    present: new Int32Array(init.present),
  };
  const g = { ...init.geometry, batch: init.part.count };
  const flag = CONTROL.FIRST_FLAG + init.index;
  parentPort!.postMessage({ ready: true });
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, CONTROL.STEP, seen);
    const seq = Atomics.load(ctrl, CONTROL.STEP);
    if (seq === CONTROL.STOP) return;
    if (seq === seen) continue;
    seen = seq;
    try {
      let off = 0;
      // copies (slice): a backend may keep the array it is given, and the caller rewrites these buffers every step
      for (const v of vars) {
        const w = params.slice(off, off + v.size);
        tf.tidy(() => v.assign(tf.tensor(w, v.shape, 'float32')));
        off += v.size;
      }
      const mine = sliceBatch(batch, init.geometry, init.part);
      losses[init.index] = tf.tidy(() => {
        const { value, grads: gr } = batchGradients(model, g, mine, Atomics.load(ctrl, CONTROL.GLOBAL_STEP), init.part);
        let at = 0;
        for (const v of vars) {
          grads.set(gr[v.name].dataSync() as Float32Array, at);
          at += v.size;
        }
        return value.dataSync()[0];
      });
      Atomics.store(ctrl, flag + init.workers, tf.memory().numTensors);
      Atomics.store(ctrl, flag, seq);
    } catch (e) {
      parentPort!.postMessage({ error: (e as Error).message ?? String(e) });
      Atomics.store(ctrl, flag, CONTROL.FAILED);
    }
    Atomics.notify(ctrl, flag);
  }
}

if (parentPort && workerData) {
  serve(workerData as TrainWorkerInit).catch((e) => parentPort!.postMessage({ error: (e as Error).message ?? String(e) }));
}
