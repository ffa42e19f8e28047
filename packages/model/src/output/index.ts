/**
 * Output layers of the language model: a full softmax over the K codes, or the class-factored softmax whose
 * training cost grows with √K instead of K. Both give exact normalised probabilities.
 */
import { assertInt, fail } from '@vqvid/core';
import { registerCpuKernels, registerWasmKernels } from '../kernels';
import { assignClasses, type ClassAssignment, classesFromClassOf } from './classes';
import { FactoredSoftmax } from './factored';
import { FullSoftmax } from './full';
import { MAX_DIRECT_K, type OutputLayer } from './layer';
import { MixtureOutput } from './mixture';
import { type AsyncTopSource, checkTopOptions, plainTopCandidates, plainTopCandidatesAsync, type TopCandidates, isTopSource } from './top';
import type * as tf from '@tensorflow/tfjs-core';

export type { OutputLayer } from './layer';
export type { ClassAssignment } from './classes';
export { assignClasses } from './classes';
export { MixtureOutput, emGateWeights } from './mixture';
export { cellMixture, checkAdaptation, DEFAULT_GATE_ADAPTATION, fitGateOffsets, gateOffsetObjective, MAX_GATE_OFFSET, OnlineGateOffsets } from './calibrate';
export type { GateAdaptation, GateOffsets } from './calibrate';
export type { MixtureComponent, CountedPrior } from './mixture';
export { SparseBigram } from './prior';
export { SpatialPrior, spatialContext, SPATIAL_WIDTH } from './spatial-prior';
export type { TopCandidates, AsyncTopSource, AsyncSearchMemo, ExtraCodes, LogCandidates } from './top';

/**
 * Each cell's `m` most probable codes of `layer`'s whole distribution (copy-aware mixtures included) with their
 * probabilities and the present code's, found without materialising all K probabilities; exact (`exact[i]` 1)
 * unless `classBeam` (factored softmax only, an opt-in approximation) cut a cell's class search short or a
 * mixture's bound could not prove its list. Null when the layer cannot (direct factored layers).
 * @param present [n] each cell's present code; `presentTensor` the same as an int32 tensor (direct layers), or
 * [n, 5] contexts for a mixture with a spatial prior (see `spatialContext`).
 * @example
 * ```ts
 * const top = topCandidates(out, h, present, tf.tensor1d(present, 'int32'), 16);
 * const best = top!.codes[0]; // cell 0's most probable code
 * ```
 */
export function topCandidates(layer: OutputLayer, h: tf.Tensor2D, present: Int32Array, presentTensor: tf.Tensor1D | tf.Tensor2D | undefined, m: number, classBeam = Infinity): TopCandidates | null {
  checkTopOptions(m, layer.k, classBeam);
  if (layer instanceof MixtureOutput) return layer.topCandidates(h, present, presentTensor, m, classBeam);
  return isTopSource(layer) ? plainTopCandidates(layer, h, present, layer.direct ? (presentTensor as tf.Tensor1D | undefined) : undefined, m, classBeam) : null;
}

/**
 * {@link topCandidates} with the inner layer's lists from an {@link AsyncTopSource} (e.g. `OnnxOutput` of
 * `@vqvid/model/onnx`): exact lists of the whole distribution, copy-aware mixtures included. `offsets`: gate
 * offsets of the online adaptation (see MixtureOutput.withOffsets), or null.
 */
export function topCandidatesAsync(layer: OutputLayer, h: tf.Tensor2D, present: Int32Array, presentTensor: tf.Tensor1D | tf.Tensor2D | undefined, m: number, source: AsyncTopSource, offsets: ArrayLike<number> | null = null): Promise<TopCandidates> {
  checkTopOptions(m, layer.k, Infinity);
  if (layer.direct) fail('E_STATE', 'layer', 'an output layer without direct connections (a top source scores h alone)', 'direct: true');
  if (layer instanceof MixtureOutput) return layer.topCandidatesAsync(h, present, presentTensor, m, source, offsets);
  if (present.length !== h.shape[0]) fail('E_SHAPE', 'present', `one code per row of h (${h.shape[0]})`, present.length);
  return plainTopCandidatesAsync(layer, h.dataSync() as Float32Array, present, m, source);
}

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
  /**
   * Direct connections from the present code of each cell to the logits (a learned same-cell bigram table,
   * Mikolov et al. 2011's RNNME); needs k ≤ 4096 (default false).
   */
  direct?: boolean;
  /**
   * Copy-aware output: mix the event "same code as the cell's present code" into the distribution with a
   * per-cell learned gate (the model's copy-aware output, see ModelOptions.copy); default false.
   */
  copy?: boolean;
  /**
   * Also mix in a counted prior, set later with `setPrior`: the same-cell bigram ('bigram') or the spatial
   * n-gram over the cell's and its 4 neighbours' present codes ('spatial'); or not ('none', the default).
   */
  prior?: 'bigram' | 'spatial' | 'none';
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
  const r = resolveOutput(opts);
  // logProb's gradient needs UnsortedSegmentSum, which wasm lacks and cpu has in O(K·n·hidden); both idempotent.
  registerWasmKernels();
  registerCpuKernels();
  const inner: OutputLayer =
    r.classes === null ? new FullSoftmax(r.k, r.hidden, r.seed, r.direct) : new FactoredSoftmax(r.k, r.hidden, r.seed, r.classes, r.direct);
  return r.copy || r.prior !== 'none' ? new MixtureOutput(inner, r.copy, r.prior) : inner;
}

/**
 * Number of values of each of the variables {@link createOutputLayer} would create for `opts`, in the order of
 * `variables`, without allocating any tensor: a loader checks stored weights against it before building
 * anything. Throws as createOutputLayer does on options it would refuse.
 * @example
 * ```ts
 * outputVariableSizes({ kind: 'full', k: 4, hidden: 3, seed: 1 }); // [12, 4]: W [3, 4], b [4]
 * ```
 */
export function outputVariableSizes(opts: OutputLayerOptions): number[] {
  const { k, hidden, direct, copy, prior, classes } = resolveOutput(opts);
  const sizes =
    classes === null
      ? [hidden * k, k, ...(direct ? [k * k] : [])]
      : [hidden * classes.members.length, classes.members.length, hidden * k, k, ...(direct ? [k * classes.members.length, k * k] : [])];
  const gates = 1 + (copy ? 1 : 0) + (prior !== 'none' ? 1 : 0);
  return gates > 1 ? [...sizes, hidden * gates, gates] : sizes;
}

/** Options checked and settled (saved configuration over options); `classes` null for the full softmax. */
function resolveOutput(opts: OutputLayerOptions): {
  k: number;
  hidden: number;
  seed: number;
  direct: boolean;
  copy: boolean;
  prior: 'bigram' | 'spatial' | 'none';
  classes: ClassAssignment | null;
} {
  if (opts.kind !== 'full' && opts.kind !== 'factored') fail('E_RANGE', 'kind', "'full' or 'factored'", opts.kind);
  assertInt(opts.k, 'k', 1);
  assertInt(opts.hidden, 'hidden', 1);
  assertInt(opts.seed, 'seed');
  if (opts.config !== undefined) checkConfig(opts.config, opts);
  const direct = directOf(opts);
  const { copy, prior } = mixtureOf(opts);
  let classes: ClassAssignment | null = null;
  if (opts.kind === 'factored') {
    classes =
      opts.config !== undefined
        ? classesFromClassOf(opts.config.classOf, opts.k, 'config.classOf')
        : assignClasses(opts.k, opts.classes ?? Math.max(1, Math.round(Math.sqrt(opts.k))), opts.frequencies);
  }
  return { k: opts.k, hidden: opts.hidden, seed: opts.seed, direct, copy, prior, classes };
}

/** The mixture parts: from the saved config when restoring (absent = a plain layer), else the options. */
const PRIORS: ReadonlyArray<unknown> = ['bigram', 'spatial', 'none'];

function mixtureOf(opts: OutputLayerOptions): { copy: boolean; prior: 'bigram' | 'spatial' | 'none' } {
  const fromOpts = { copy: opts.copy ?? false, prior: opts.prior ?? 'none' };
  if (typeof fromOpts.copy !== 'boolean') fail('E_RANGE', 'copy', 'a boolean', fromOpts.copy);
  if (!PRIORS.includes(fromOpts.prior)) fail('E_RANGE', 'prior', "'bigram', 'spatial' or 'none'", fromOpts.prior);
  if (opts.config === undefined) return fromOpts;
  const saved = (opts.config.mixture ?? { copy: false, prior: 'none' }) as { copy?: unknown; prior?: unknown };
  if (typeof saved !== 'object' || saved === null || typeof saved.copy !== 'boolean' || !PRIORS.includes(saved.prior)) {
    fail('E_FORMAT', 'config.mixture', "{ copy: boolean, prior: 'bigram' | 'spatial' | 'none' }", saved);
  }
  if ((opts.copy !== undefined && opts.copy !== saved.copy) || (opts.prior !== undefined && opts.prior !== saved.prior)) {
    fail('E_FORMAT', 'config.mixture', `copy ${fromOpts.copy}, prior ${fromOpts.prior} (as in the options)`, saved);
  }
  return { copy: saved.copy as boolean, prior: saved.prior as 'bigram' | 'spatial' | 'none' };
}

/** Whether the layer gets direct connections: from the saved config when restoring (absent = false), else the option. */
function directOf(opts: OutputLayerOptions): boolean {
  if (opts.direct !== undefined && typeof opts.direct !== 'boolean') fail('E_RANGE', 'direct', 'a boolean', opts.direct);
  let direct = opts.direct ?? false;
  if (opts.config !== undefined) {
    const saved = opts.config.direct ?? false;
    if (typeof saved !== 'boolean') fail('E_FORMAT', 'config.direct', 'a boolean', saved);
    if (opts.direct !== undefined && opts.direct !== saved) fail('E_FORMAT', 'config.direct', `${opts.direct} (as in the options)`, saved);
    direct = saved;
  }
  if (direct && opts.k > MAX_DIRECT_K) fail('E_RANGE', 'k', `at most ${MAX_DIRECT_K} with direct connections (a [k, k] table)`, opts.k);
  return direct;
}

function checkConfig(config: Record<string, unknown>, opts: OutputLayerOptions): void {
  for (const key of ['kind', 'k', 'hidden'] as const) {
    if (config[key] !== opts[key]) fail('E_FORMAT', `config.${key}`, `${String(opts[key])} (as in the options)`, config[key]);
  }
}
