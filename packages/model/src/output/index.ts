/**
 * Output layers of the language model: a full softmax over the K codes, or the class-factored softmax whose
 * training cost grows with √K instead of K. Both give exact normalised probabilities.
 */
import { assertInt, fail } from '@vqvid/core';
import { registerCpuKernels, registerWasmKernels } from '../kernels';
import { assignClasses, classesFromClassOf } from './classes';
import { FactoredSoftmax } from './factored';
import { FullSoftmax } from './full';
import type { OutputLayer } from './layer';

export type { OutputLayer } from './layer';
export type { ClassAssignment } from './classes';
export { assignClasses } from './classes';

/** Options of {@link createOutputLayer}. */
export interface OutputLayerOptions {
  /** 'full' softmax over all K codes, or 'factored' (class, then code within the class). */
  kind: 'full' | 'factored';
  /** Number of codes K. */
  k: number;
  /** Width of the hidden state. */
  hidden: number;
  /** Seed of the weight initialisation. */
  seed: number;
  /** Factored only: wanted number of classes (default round(√K)); see {@link assignClasses}. */
  classes?: number;
  /** Factored only: code frequencies [K] for frequency binning; equal-size classes without. */
  frequencies?: ArrayLike<number>;
  /** A previous layer's `toJSON()`: restores its class assignment exactly (classes/frequencies are then ignored). */
  config?: Record<string, unknown>;
}

/**
 * Creates an output layer with freshly initialised (seeded) weights: W ~ N(0, 1/hidden), zero biases.
 * Also registers this package's kernels: the wasm ones ({@link registerWasmKernels}) and the cpu backend's
 * faster UnsortedSegmentSum.
 * To restore a saved layer, pass its `toJSON()` as `config` and then assign the saved weights to
 * `variables` in order.
 * @example
 * ```ts
 * const out = createOutputLayer({ kind: 'factored', k: 10000, hidden: 128, seed: 1, frequencies: counts });
 * const nll = tf.tidy(() => tf.neg(tf.mean(out.logProb(h, targets))));   // h [n, 128], targets int32 [n]
 * const again = createOutputLayer({ kind: 'factored', k: 10000, hidden: 128, seed: 1, config: out.toJSON() });
 * ```
 */
export function createOutputLayer(opts: OutputLayerOptions): OutputLayer {
  if (opts.kind !== 'full' && opts.kind !== 'factored') fail('E_RANGE', 'kind', "'full' or 'factored'", opts.kind);
  assertInt(opts.k, 'k', 1);
  assertInt(opts.hidden, 'hidden', 1);
  assertInt(opts.seed, 'seed');
  if (opts.config !== undefined) checkConfig(opts.config, opts);
  // logProb's gradient needs UnsortedSegmentSum, which wasm lacks and cpu has in O(K·n·hidden); both idempotent.
  registerWasmKernels();
  registerCpuKernels();
  if (opts.kind === 'full') return new FullSoftmax(opts.k, opts.hidden, opts.seed);
  const classes =
    opts.config !== undefined
      ? classesFromClassOf(opts.config.classOf, opts.k, 'config.classOf')
      : assignClasses(opts.k, opts.classes ?? Math.max(1, Math.round(Math.sqrt(opts.k))), opts.frequencies);
  return new FactoredSoftmax(opts.k, opts.hidden, opts.seed, classes);
}

function checkConfig(config: Record<string, unknown>, opts: OutputLayerOptions): void {
  for (const key of ['kind', 'k', 'hidden'] as const) {
    if (config[key] !== opts[key]) fail('E_FORMAT', `config.${key}`, `${String(opts[key])} (as in the options)`, config[key]);
  }
}
