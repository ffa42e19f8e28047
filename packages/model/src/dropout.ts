import * as tf from '@tensorflow/tfjs-core';

/**
 * Which windows of a batch a tensor holds when a training worker computes only its slice of the batch:
 * windows [start, start + count) of `total`.
 */
export interface BatchPart {
  start: number;
  count: number;
  total: number;
}

/**
 * tf.dropout of `x`, whose rows are `frames` blocks of one batch's windows (frame-major, then window). With a
 * `part`, `x` holds only windows [start, start + count) of every frame, and the mask is the rows of the whole
 * batch's mask that belong to them: the mask of every element is then the same whatever the batch is split
 * into, so training with any number of workers draws exactly the masks of the one-thread step.
 */
export function batchDropout(x: tf.Tensor, rate: number, seed: number, frames: number, part?: BatchPart): tf.Tensor {
  if (!part) return tf.dropout(x, rate, undefined, seed);
  return tf.tidy(() => {
    const per = x.size / (frames * part.count);
    // tf.dropout(x) is x times a multiplier drawn in row-major order over x's size; dropout of ones is that multiplier
    const whole = tf.reshape(tf.dropout(tf.ones([frames * part.total * per]), rate, undefined, seed), [frames, part.total, per]);
    return tf.mul(x, tf.reshape(tf.slice(whole, [0, part.start, 0], [frames, part.count, per]), x.shape));
  });
}
