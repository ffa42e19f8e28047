import * as tf from '@tensorflow/tfjs-core';
import { SPATIAL_OFFSETS } from './output/spatial-prior';
import { Rng } from '@vqvid/core';
import type { Batch, BatchGeometry } from './batch';
import { MOTION_CHANNELS, usesMotion } from './config';
import { motionChannels } from './network';
import type { ModelParts } from './parts';

/**
 * Scheduled sampling of one batch (Bengio et al. 2015): which window frames read the model's own prediction.
 * Per window, `[first, last]` (window frame indices, warm-up included) whose inner cells' inputs are replaced,
 * or null when the window is teacher-forced.
 */
export type RolloutPlan = ([first: number, last: number] | null)[];

/** Seed of global step `step`'s rollout choices: a pure function of (model seed, step), so resume replays them. */
function rolloutSeed(seed: number, step: number): number {
  return (Math.imul(seed ^ 0x2545f491, 0x9e3779b1) + Math.imul(step + 1, 0x7feb352d)) | 0;
}

/**
 * Which windows of global step `step`'s batch roll out, and where: each window with probability `prob`, from a
 * start drawn uniformly among the input frames warmup+1 .. span−1 (the first predicted input reads the output
 * at a frame that has a loss, so never a warm-up one), for `n` frames or to the window's end. Windows of fewer
 * than 2 loss frames never roll out.
 */
export function rolloutPlan(g: BatchGeometry, n: number, prob: number, seed: number, step: number): RolloutPlan {
  const rng = new Rng(rolloutSeed(seed, step));
  const span = g.warmup + g.steps;
  const plan: RolloutPlan = [];
  for (let w = 0; w < g.batch; w++) {
    // both draws always happen, so one window's choice does not shift the next window's
    const roll = rng.next() < prob;
    const first = g.warmup + 1 + rng.int(Math.max(1, g.steps - 1));
    plan.push(n > 0 && roll && g.steps >= 2 ? [first, Math.min(first + n - 1, span - 1)] : null);
  }
  return plan;
}

/**
 * The batch scheduled sampling trains on: in every window the plan rolls out, the inputs of frames first..last
 * on the crop (margin cells keep their true codes) are the model's argmax of the frame before, as predicted by
 * the window read so far (its own earlier predictions included); the present codes follow the inputs, the
 * targets stay the true codes. The predictions run without dropout and without gradient (the choice is a
 * constant of the loss). Returns `b` itself when no window rolls out.
 */
export function rolloutBatch(model: ModelParts, g: BatchGeometry, b: Batch, plan: RolloutPlan): Batch {
  const last = Math.max(-1, ...plan.map((p) => (p ? p[1] : -1)));
  if (last < 0) return b;
  const er = g.cropRows + 2 * g.marginRows;
  const ec = g.cropCols + 2 * g.marginCols;
  const perFrame = g.batch * er * ec;
  const inner = g.cropRows * g.cropCols;
  const inputs = b.inputs.slice();
  const mask = b.mask ? tf.tensor4d(b.mask.subarray(0, perFrame), [g.batch, er, ec, 1], 'float32') : null;
  let h: tf.Tensor2D | null = null;
  try {
    for (let l = 0; l < last; l++) {
      const frame = inputs.subarray(l * perFrame, (l + 1) * perFrame);
      const next: tf.Tensor2D = tf.tidy(() => {
        const codes = tf.tensor3d(frame, [g.batch, er, ec], 'int32');
        const motion = usesMotion(model.config) ? tf.tensor4d(motionChannels(inputs, perFrame, l, l + 1), [g.batch, er, ec, MOTION_CHANNELS]) : undefined;
        return model.net.cell(model.net.inputDrive(codes, mask, undefined, motion), h);
      });
      h?.dispose();
      h = next;
      const rolling = plan.flatMap((p, w) => (p && l + 1 >= p[0] && l + 1 <= p[1] ? [w] : []));
      if (rolling.length === 0) continue;
      const present = rolledContext(b.present, frame, g, er, ec, l - g.warmup);
      const best = tf.tidy(() => {
        const crop = tf.slice(tf.reshape(h!, [g.batch, er, ec, -1]), [0, g.marginRows, g.marginCols, 0], [g.batch, g.cropRows, g.cropCols, -1]);
        const lp = model.output.logProbsAll(tf.reshape(crop, [g.batch * inner, -1]) as tf.Tensor2D, model.contextTensor(present));
        return tf.argMax(lp, 1);
      });
      const codes = best.dataSync();
      best.dispose();
      for (const w of rolling) {
        for (let y = 0; y < g.cropRows; y++) {
          for (let x = 0; x < g.cropCols; x++) {
            inputs[(l + 1) * perFrame + (w * er + y + g.marginRows) * ec + x + g.marginCols] = codes[w * inner + y * g.cropCols + x];
          }
        }
      }
    }
  } finally {
    h?.dispose();
    mask?.dispose();
  }
  const present = new Int32Array(b.present.length);
  const perStep = b.present.length / g.steps;
  for (let s = 0; s < g.steps; s++) {
    const l = g.warmup + s;
    present.set(rolledContext(b.present, inputs.subarray(l * perFrame, (l + 1) * perFrame), g, er, ec, s), s * perStep);
  }
  return { inputs, mask: b.mask, targets: b.targets, present };
}

/**
 * The present contexts of batch step `s` ([batch, cropRows, cropCols] × width, the layout of Batch.present)
 * after a rollout changed crop cells of its input frame `frame`: every symbol read from a crop cell comes from
 * `frame`, the others (margins and outside the crop, which a rollout never changes) stay the batch's.
 */
function rolledContext(batchPresent: Int32Array, frame: Int32Array, g: BatchGeometry, er: number, ec: number, s: number): Int32Array {
  const inner = g.cropRows * g.cropCols;
  const width = batchPresent.length / (g.steps * g.batch * inner);
  const out = batchPresent.slice(s * g.batch * inner * width, (s + 1) * g.batch * inner * width);
  const offsets = width === 1 ? SPATIAL_OFFSETS.slice(0, 1) : SPATIAL_OFFSETS;
  for (let w = 0; w < g.batch; w++) {
    for (let y = 0; y < g.cropRows; y++) {
      for (let x = 0; x < g.cropCols; x++) {
        offsets.forEach(([dr, dc], j) => {
          const yy = y + dr;
          const xx = x + dc;
          if (yy < 0 || yy >= g.cropRows || xx < 0 || xx >= g.cropCols) return;
          out[((w * g.cropRows + y) * g.cropCols + x) * width + j] = frame[(w * er + yy + g.marginRows) * ec + xx + g.marginCols];
        });
      }
    }
  }
  return out;
}
