/**
 * A fused, plain-JS Adam step over one flat Float32Array parameter vector (the data-parallel trainer's shared
 * weights, or in one thread the model's weights laid end to end): the workers' gradients summed in worker order,
 * the global-norm clip of `applyClipped` (step.ts) and tf.AdamOptimizer's update of both moments and the weights,
 * in two passes over the vector (the norm, then the update) with no tfjs tensor. Each element is computed in float64
 * from float32 operands and stored as float32, so the result equals tfjs's float32 Adam within float rounding.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs's AdamOptimizer the fused step and a bit-exact resume read and write (not in its public typings). */
export interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

/**
 * Adam's state as a checkpoint stores it (the arrays and header fields of tf.AdamOptimizer's `getWeights`):
 * the steps taken, the first moments of every variable then the second moments (none before the first step),
 * and beta1^(t+1), beta2^(t+1) as the optimizer's float32 scalars hold them.
 * @example
 * ```ts
 * const s = fused.snapshot(vars.map((v) => v.size));
 * s.moments.forEach((m, i) => (arrays[`adam:${i}`] = m));
 * ```
 */
export interface AdamSnapshot {
  /** Optimizer steps taken. */
  iterations: number;
  /** First moments of variables 0..n-1, then second moments of variables 0..n-1; empty before the first step. */
  moments: Float32Array[];
  /** beta1 to the power iterations + 1, as a float32 value. */
  accBeta1: number;
  /** beta2 to the power iterations + 1, as a float32 value. */
  accBeta2: number;
}

/** How a {@link FusedAdam} keeps its moments. */
export interface FusedAdamOptions {
  /**
   * Moments in SharedArrayBuffers (default false), so that training workers can update shards of them in place
   * (the moments' `.buffer`).
   */
  shared?: boolean;
}

/**
 * Adam's moments over a flat parameter vector (the variables laid end to end, in `variables()` order) and the
 * fused step that updates them and the weights in place. Starts from a tf.AdamOptimizer's state
 * ({@link FusedAdam.fromOptimizer}) and gives it back in checkpoint form ({@link FusedAdam.snapshot}).
 * @example
 * ```ts
 * const fused = await FusedAdam.fromOptimizer(opt, vars.map((v) => v.size));
 * fused.step(params, grads, [0.5, 0.5], lr, clip); // two workers' gradient regions, each weighted 1/2
 * ```
 */
export class FusedAdam {
  /** Number of parameters (the variables' sizes summed). */
  readonly size: number;
  /** Adam's decay of the first moment (tfjs applies it as a float32 scalar). */
  readonly beta1: number;
  /** Adam's decay of the second moment. */
  readonly beta2: number;
  /** Added to the bias-corrected second moment's square root (the optimizer's, e.g. the backend's 1e-7). */
  readonly epsilon: number;
  /** First moments, float32, one per parameter. */
  readonly m: Float32Array;
  /** Second moments, float32, one per parameter. */
  readonly v: Float32Array;
  /** beta1^(iterations + 1) as a float32 value (tfjs keeps it in a float32 scalar, multiplied step by step). */
  accBeta1: number;
  /** beta2^(iterations + 1) as a float32 value. */
  accBeta2: number;
  /** Optimizer steps taken (resumed ones included). */
  iterations = 0;
  /** Global gradient norm of the last step, before clipping (for tests and diagnostics). */
  lastNorm = 0;

  /**
   * Zero moments for `size` parameters with Adam's constants `beta1`, `beta2`, `epsilon` (tf.train.adam's
   * defaults 0.9, 0.999 and the float32 backends' 1e-7); `options.shared` puts the moments in shared memory.
   */
  constructor(size: number, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, options: FusedAdamOptions = {}) {
    this.size = size;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
    const moment = () => (options.shared ? new Float32Array(new SharedArrayBuffer(4 * size)) : new Float32Array(size));
    this.m = moment();
    this.v = moment();
    this.accBeta1 = Math.fround(beta1);
    this.accBeta2 = Math.fround(beta2);
  }

  /**
   * The state of tf.AdamOptimizer `opt` (fresh: zero moments; restored from a checkpoint or trained: its
   * moments, step count and beta powers) over variables of the given sizes, in `variables()` order; `options`
   * as the constructor's.
   */
  static async fromOptimizer(opt: tf.AdamOptimizer, sizes: number[], options: FusedAdamOptions = {}): Promise<FusedAdam> {
    const o = opt as unknown as AdamInternals;
    const total = sizes.reduce((a, b) => a + b, 0);
    const fused = new FusedAdam(total, o.beta1, o.beta2, o.epsilon, options);
    const { iterations, moments, accBeta1, accBeta2 } = await optimizerSnapshot(opt);
    fused.iterations = iterations;
    if (moments.length > 0) {
      if (moments.length !== 2 * sizes.length) throw new Error(`the optimizer holds ${moments.length} moments for ${sizes.length} variables`);
      let off = 0;
      sizes.forEach((size, i) => {
        fused.m.set(moments[i], off);
        fused.v.set(moments[sizes.length + i], off);
        off += size;
      });
    }
    fused.accBeta1 = accBeta1;
    fused.accBeta2 = accBeta2;
    return fused;
  }

  /**
   * The state in checkpoint form for variables of the given sizes (views of the moments, not copies: write them
   * before the next step). No moments before the first step, as tf.AdamOptimizer.
   */
  snapshot(sizes: number[]): AdamSnapshot {
    const moments: Float32Array[] = [];
    if (this.iterations > 0) {
      for (const a of [this.m, this.v]) {
        let off = 0;
        for (const size of sizes) {
          moments.push(a.subarray(off, off + size));
          off += size;
        }
      }
    }
    return { iterations: this.iterations, moments, accBeta1: this.accBeta1, accBeta2: this.accBeta2 };
  }

  /**
   * One Adam step at learning rate `lr` on the gradient Σ_w shares[w] · grads[w·stride ..), summed in worker order
   * (0 + s_0·g_0 + s_1·g_1 + ...), scaled to a global norm of at most `clip` as `applyClipped` does
   * (scale = min(1, clip / (norm + 1e-12))), updating `params` (`size` floats), the moments and the beta powers
   * in place with tf.AdamOptimizer's formulas. `stride` (default `size`): floats from one region to the next, as a
   * training pool lays them out (`TrainPool.gradStride`). The training workers take the same step cut into shards
   * ({@link summedSquares} and {@link adamUpdate} over each, then {@link FusedAdam.advance}).
   */
  step(params: Float32Array, grads: Float32Array, shares: ArrayLike<number>, lr: number, clip: number, stride = this.size): void {
    const size = this.size;
    if (!Number.isInteger(stride) || stride < size) throw new Error(`fused Adam: stride must be an integer of at least ${size}, got ${stride}`);
    if (params.length < size || grads.length < (shares.length - 1) * stride + size) throw new Error('fused Adam: parameter or gradient arrays too short');
    // pass 1: the global norm of the summed gradient; pass 2: moments and weights
    const norm = Math.sqrt(summedSquares(grads, stride, shares, 0, size));
    adamUpdate(params, grads, stride, shares, this.m, this.v, 0, size, clipScale(norm, clip), this.constants(lr));
    this.advance(norm);
  }

  /** This step's constants at learning rate `lr` (the beta powers as they stand: before {@link FusedAdam.advance}). */
  constants(lr: number): AdamConstants {
    return adamConstants(this.beta1, this.beta2, this.epsilon, lr, this.accBeta1, this.accBeta2);
  }

  /** Ends a step whose updates are done (by {@link FusedAdam.step} or by shards): the norm, beta powers and count. */
  advance(norm: number): void {
    const f = Math.fround;
    this.lastNorm = norm;
    this.accBeta1 = f(this.accBeta1 * f(this.beta1));
    this.accBeta2 = f(this.accBeta2 * f(this.beta2));
    this.iterations++;
  }
}

/** One Adam step's constants as tfjs's float32 scalars hold them: beta1, 1 - beta1, ..., lr, 1 - beta^t. */
export interface AdamConstants {
  b1: number;
  c1: number;
  b2: number;
  c2: number;
  eps: number;
  rate: number;
  bias1: number;
  bias2: number;
}

/** The constants of an Adam step at learning rate `lr`, beta powers `accBeta1`, `accBeta2` (float32-rounded). */
export function adamConstants(beta1: number, beta2: number, epsilon: number, lr: number, accBeta1: number, accBeta2: number): AdamConstants {
  const f = Math.fround;
  return { b1: f(beta1), c1: f(1 - beta1), b2: f(beta2), c2: f(1 - beta2), eps: f(epsilon), rate: f(lr), bias1: f(1 - accBeta1), bias2: f(1 - accBeta2) };
}

/** `applyClipped`'s factor for a gradient of global norm `norm`: min(1, clip / (norm + 1e-12)). */
export function clipScale(norm: number, clip: number): number {
  return Math.min(1, clip / (norm + 1e-12));
}

/**
 * Σ_{lo ≤ i < hi} g_i² in float64, i ascending, of the summed gradient g_i = 0 + Σ_w shares[w] · grads[w·stride + i]
 * (worker order): a shard's part of the squared global norm.
 */
export function summedSquares(grads: Float32Array, stride: number, shares: ArrayLike<number>, lo: number, hi: number): number {
  const n = shares.length;
  let sumsq = 0;
  if (n <= 2) {
    const s0 = shares[0];
    const s1 = n === 2 ? shares[1] : 0;
    const off1 = n === 2 ? stride : 0;
    for (let i = lo; i < hi; i++) {
      const g = 0 + s0 * grads[i] + s1 * grads[off1 + i];
      sumsq += g * g;
    }
  } else {
    for (let i = lo; i < hi; i++) {
      let g = 0;
      for (let w = 0; w < n; w++) g += shares[w] * grads[w * stride + i];
      sumsq += g * g;
    }
  }
  return sumsq;
}

/** The global norm from the first `n` shards' {@link summedSquares}, added up in shard order. */
export function normOfShards(partials: Float64Array, n: number): number {
  let sumsq = 0;
  for (let w = 0; w < n; w++) sumsq += partials[w];
  return Math.sqrt(sumsq);
}

/**
 * Adam's update of elements [lo, hi) of `params` and the moments `m`, `v` (tf.AdamOptimizer's formulas, each in
 * float64 from float32 operands and stored as float32) with the summed gradient (as {@link summedSquares}) times
 * `scale`. The weight step rate·(m / bias1) / (√(v / bias2) + ε) is taken as (rate / bias1)·m / (√(v · (1 / bias2))
 * + ε): one division and one square root an element instead of three divisions' worth (3.4 → 2.0 ms for 700k
 * elements), which moves the float64 value by an ulp or two, far below the float32 it is stored as.
 * Elements are independent: shards updated apart equal one whole update bit for bit.
 */
export function adamUpdate(params: Float32Array, grads: Float32Array, stride: number, shares: ArrayLike<number>, m: Float32Array, v: Float32Array, lo: number, hi: number, scale: number, k: AdamConstants): void {
  const f = Math.fround;
  const { b1, c1, b2, c2, eps, rate, bias1, bias2 } = k;
  const step = rate / bias1;
  const inverse2 = 1 / bias2;
  const n = shares.length;
  if (n <= 2) {
    const s0 = shares[0];
    const s1 = n === 2 ? shares[1] : 0;
    const off1 = n === 2 ? stride : 0;
    for (let i = lo; i < hi; i++) {
      const g = (0 + s0 * grads[i] + s1 * grads[off1 + i]) * scale;
      const mi = f(b1 * m[i] + c1 * g);
      const vi = f(b2 * v[i] + c2 * (g * g));
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i] - (step * mi) / (Math.sqrt(vi * inverse2) + eps);
    }
  } else {
    for (let i = lo; i < hi; i++) {
      let g = 0;
      for (let w = 0; w < n; w++) g += shares[w] * grads[w * stride + i];
      g *= scale;
      const mi = f(b1 * m[i] + c1 * g);
      const vi = f(b2 * v[i] + c2 * (g * g));
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i] - (step * mi) / (Math.sqrt(vi * inverse2) + eps);
    }
  }
}

/** The state of tf.AdamOptimizer `opt` in checkpoint form (moments copied out of its variables). */
export async function optimizerSnapshot(opt: tf.AdamOptimizer): Promise<AdamSnapshot> {
  const named = await opt.getWeights();
  const iterations = named[0].tensor.dataSync()[0];
  named[0].tensor.dispose();
  const internals = opt as unknown as AdamInternals;
  return {
    iterations,
    moments: named.slice(1).map((m) => (m.tensor.dataSync() as Float32Array).slice()),
    accBeta1: internals.accBeta1.dataSync()[0],
    accBeta2: internals.accBeta2.dataSync()[0],
  };
}
