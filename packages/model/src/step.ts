import * as tf from '@tensorflow/tfjs-core';
import { type Batch, type BatchGeometry, cropRegion } from './batch';
import { stateWidth } from './config';
import { batchDropout, type BatchPart } from './dropout';
import type { FusedAdam } from './fused-adam';
import { valuesInPlace } from './kernels';
import type { ModelParts } from './parts';

/** Seed of the dropout masks of global step `step` (a function of the model seed, so resuming replays it). */
function dropoutSeed(seed: number, step: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(step + 1, 0x165667b1)) >>> 0;
}

/**
 * Mean loss (nats per target cell) of one batch and its gradient by variable name, inside the caller's tidy.
 * `g.batch` is the number of windows `b` holds; with `part` they are windows [start, start + count) of a batch
 * of `part.total`, and dropout draws the whole batch's masks and keeps their rows (see {@link batchDropout}).
 */
export function batchGradients(model: ModelParts, g: BatchGeometry, b: Batch, step: number, part?: BatchPart): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const er = g.cropRows + 2 * g.marginRows;
  const ec = g.cropCols + 2 * g.marginCols;
  const hidden = stateWidth(model.config);
  const span = g.warmup + g.steps;
  const inputs = tf.tensor3d(b.inputs, [span * g.batch, er, ec], 'int32');
  const mask = b.mask ? tf.tensor4d(b.mask, [span * g.batch, er, ec, 1], 'float32') : null;
  const targets = tf.tensor1d(b.targets, 'int32');
  const present = model.contextTensor(b.present);
  const vars = model.variables();
  const rate = model.config.dropout;
  const seed = dropoutSeed(model.config.seed, step);
  return tf.variableGrads(() => {
    // the states of the crop alone (its margins only feed the conv stack; see WindowRegion)
    const hs = model.net.window(inputs, mask, span, { rate, seed, part }, cropRegion(g));
    let crop = tf.reshape(g.warmup > 0 ? tf.slice(hs, [g.warmup, 0, 0, 0, 0], [g.steps, -1, -1, -1, -1]) : hs, [-1, hidden]);
    // and on the state as the output layer reads it (the recurrence itself keeps the whole state)
    if (rate > 0) crop = batchDropout(crop, rate, seed ^ 0x9e3779b9, g.steps, part);
    // the counted prior scores training pairs held out from its own counts (see SparseBigram)
    return tf.neg(tf.mean(model.output.logProb(crop as tf.Tensor2D, targets, present, true))) as tf.Scalar;
  }, vars);
}

/** One Adam step on `grads` scaled down to a global norm of at most `clip`, inside the caller's tidy. */
export function applyClipped(vars: tf.Variable[], grads: tf.NamedTensorMap, opt: tf.Optimizer, clip: number): void {
  const norm = tf.sqrt(tf.addN(Object.values(grads).map((gr) => tf.sum(tf.square(gr)))));
  const scale = tf.minimum(1, tf.div(clip, tf.add(norm, 1e-12)));
  const clipped: Record<string, tf.Tensor> = {};
  for (const v of vars) clipped[v.name] = tf.mul(grads[v.name], scale);
  opt.applyGradients(clipped as Record<string, tf.Variable>);
}

/**
 * Mean loss of one batch, after one Adam step on its clipped gradient, all in this thread: the gradient is copied
 * into `grads` (the variables end to end, in `variables()` order), {@link FusedAdam.step} updates `params` (the
 * model's weights in that layout) and the moments in place, and the variables are assigned from `params`. The
 * step the training workers take in shards; against a tf.AdamOptimizer with {@link applyClipped} (some forty tfjs
 * kernels over 1.4M weights at K = 10,000), 1–2 ms of a 110 ms step faster (alternating builds, 2-core AMD EPYC).
 */
export function fusedTrainStep(model: ModelParts, g: BatchGeometry, b: Batch, adam: FusedAdam, params: Float32Array, grads: Float32Array, lr: number, clip: number, step: number): number {
  const vars = model.variables();
  const loss = lossAndGradientInto(model, g, b, step, vars, grads);
  adam.step(params, grads, ALONE, lr, clip);
  assignFlat(vars, params);
  return loss;
}

/**
 * Mean loss of batch `b` ({@link batchGradients}), its gradient copied into `into` ({@link copyGradients}, `vars`
 * the model's variables); no tensor is left. What a training step and each training worker compute first.
 */
export function lossAndGradientInto(model: ModelParts, g: BatchGeometry, b: Batch, step: number, vars: tf.Variable[], into: Float32Array, part?: BatchPart): number {
  return tf.tidy(() => {
    const { value, grads } = batchGradients(model, g, b, step, part);
    copyGradients(vars, grads, into);
    return value.dataSync()[0];
  });
}

/**
 * Copies the values of `tensors` (float32) into `into`, end to end in their order: the layout of {@link assignFlat}.
 * The values are read in place (heap views on wasm), each copied out before anything else is allocated.
 */
export function packValues(tensors: tf.Tensor[], into: Float32Array): void {
  let at = 0;
  for (const t of tensors) {
    into.set(valuesInPlace(t), at);
    at += t.size;
  }
}

/** Copies the gradient `grads` of each of `vars` into `into`, end to end in the order of `vars` ({@link packValues}). */
export function copyGradients(vars: tf.Variable[], grads: tf.NamedTensorMap, into: Float32Array): void {
  packValues(vars.map((v) => grads[v.name]), into);
}

/** The one gradient region of {@link fusedTrainStep}, weighted 1. */
const ALONE = [1];

/**
 * Assigns the flat parameter vector `params` (variables end to end, in `variables()` order) to `vars`. The wasm
 * backend copies what tf.tensor is given into its heap, so it reads `params` in place; other backends (cpu) may
 * keep the array itself, and the shared vector is rewritten every step, so they get a copy.
 */
export function assignFlat(vars: tf.Variable[], params: Float32Array): void {
  const copies = tf.getBackend() !== 'wasm';
  let off = 0;
  for (const v of vars) {
    const from = copies ? params.slice(off, off + v.size) : params.subarray(off, off + v.size);
    tf.tidy(() => v.assign(tf.tensor(from, v.shape, 'float32')));
    off += v.size;
  }
}
