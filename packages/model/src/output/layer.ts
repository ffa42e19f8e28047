import * as tf from '@tensorflow/tfjs-core';
import { Rng, fail } from '@vqvid/core';

/**
 * A normalised output distribution over K codes given hidden states: the last layer of the language model.
 * Every method runs inside its own `tf.tidy`; the caller disposes what it gets back.
 */
export interface OutputLayer {
  /** 'full': one softmax over K; 'factored': p(class) · p(code | class). */
  readonly kind: 'full' | 'factored';
  /** Number of codes K. */
  readonly k: number;
  /** Width of the hidden state fed in. */
  readonly hidden: number;
  /** Trainable weights, in a fixed order (full: [W, b]; factored: [Wc, bc, Wx, bx]). */
  readonly variables: tf.Variable[];
  /** ln p(target | h) for each row: h [n, hidden] float32, targets [n] int32 in [0, K) → [n]. */
  logProb(h: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D;
  /** The whole log-distribution: h [n, hidden] → [n, K], each row's exp summing to 1. */
  logProbsAll(h: tf.Tensor2D): tf.Tensor2D;
  /** Plain-JSON configuration (kind, sizes, class assignment); the weights live in `variables`. */
  toJSON(): Record<string, unknown>;
  /** Disposes the variables. */
  dispose(): void;
}

/** Xavier-like N(0, 1/hidden) matrix [rows, cols] drawn from `rng` (seeded, so layers are reproducible). */
export function randomVariable(rng: Rng, rows: number, cols: number): tf.Variable {
  const std = 1 / Math.sqrt(rows);
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return tf.variable(tf.tensor2d(values, [rows, cols]), true);
}

/** Zero bias [n]. */
export function zeroVariable(n: number): tf.Variable {
  return tf.variable(tf.zeros([n]), true);
}

/** Checks h is float32 [n, hidden] with n >= 1; returns n. */
export function checkHidden(h: unknown, hidden: number): number {
  if (!(h instanceof tf.Tensor)) fail('E_DTYPE', 'h', 'a tf.Tensor2D', h);
  if (h.rank !== 2 || h.shape[1] !== hidden) fail('E_SHAPE', 'h.shape', `[n, ${hidden}]`, `[${h.shape.join(', ')}]`);
  if (h.dtype !== 'float32') fail('E_DTYPE', 'h.dtype', 'float32', h.dtype);
  if (h.shape[0] < 1) fail('E_SHAPE', 'h.shape[0]', 'at least one row', h.shape[0]);
  return h.shape[0];
}

/** Checks targets is int32 [n] with values in [0, k); returns the values (read synchronously, n ints). */
export function checkTargets(targets: unknown, n: number, k: number): Int32Array {
  if (!(targets instanceof tf.Tensor)) fail('E_DTYPE', 'targets', 'a tf.Tensor1D', targets);
  if (targets.rank !== 1 || targets.shape[0] !== n) fail('E_SHAPE', 'targets.shape', `[${n}]`, `[${targets.shape.join(', ')}]`);
  if (targets.dtype !== 'int32') fail('E_DTYPE', 'targets.dtype', 'int32', targets.dtype);
  const t = targets.dataSync() as Int32Array;
  for (let i = 0; i < n; i++) if (t[i] < 0 || t[i] >= k) fail('E_RANGE', `targets[${i}]`, `a code in [0, ${k})`, t[i]);
  return t;
}

/** Logits h·W + b: [n, hidden] × [hidden, m] → [n, m]. */
export function logits(h: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(h, w), b);
}

/**
 * The logit of one chosen column per row, h[i]·W[:, cols[i]] + b[cols[i]], in O(n·hidden) rather than
 * computing all m logits (the gradient goes through gather, i.e. UnsortedSegmentSum on wasm).
 */
export function chosenLogit(h: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, cols: tf.Tensor1D): tf.Tensor1D {
  const wCols = tf.transpose(tf.gather(w, cols, 1)) as tf.Tensor2D;
  return tf.add(tf.sum(tf.mul(h, wCols), 1), tf.gather(b, cols)) as tf.Tensor1D;
}

/**
 * ln Σ exp(logits) per row, [n, m] → [n], with its gradient given directly as dy·softmax(z): the factored
 * layer calls this once per class, and tf.logSumExp's recorded max/sub/exp/sum/log chain would add about
 * ten small backward ops per call, which dominate on wasm.
 */
export const logNormaliser: (z: tf.Tensor2D) => tf.Tensor1D = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [z, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const value = tf.logSumExp(z, 1);
  save([z, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [zs, lse] = saved;
      return tf.mul(tf.expandDims(dy, 1), tf.exp(tf.sub(zs, tf.expandDims(lse, 1))));
    },
  };
}) as unknown as (z: tf.Tensor2D) => tf.Tensor1D;
