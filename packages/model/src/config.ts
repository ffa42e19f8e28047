import { assertInt, assertNumber, fail } from '@vqvid/core';
import { checkAdaptation, DEFAULT_GATE_ADAPTATION, type GateAdaptation } from './output/calibrate';
import { MAX_DIRECT_K } from './output/layer';

/**
 * Which recurrent cell updates the per-cell state: 'tanh' (Elman) or 'gru' (gated, 1x1).
 * @example
 * ```ts
 * const m = new RCNN({ k: 256, cell: 'gru' as CellKind });
 * ```
 */
export type CellKind = 'tanh' | 'gru';

/**
 * Which output layer turns a hidden state into a distribution over the K codes.
 * @example
 * ```ts
 * const m = new RCNN({ k: 10000, softmax: 'factored' as SoftmaxKind, classes: 100 });
 * ```
 */
export type SoftmaxKind = 'full' | 'factored';

/**
 * What each cell reads at frame t besides its recurrent state: `'codes'`, the embedding of the present code
 * (always), and `'motion'`, two per-cell motion flags computed from the codes the model already reads,
 * [x_t ≠ x_{t−1}] and [x_{t−1} ≠ x_{t−2}] (0 where the frame before is not known: the first frames of a
 * sequence, and of each training window, which starts from a zero state like a sequence).
 * @example
 * ```ts
 * const m = new RCNN({ k: 256, inputs: ['codes', 'motion'] as InputKind[] });
 * ```
 */
export type InputKind = 'codes' | 'motion';

/**
 * The input kinds a model can read, in the order a config lists them.
 * @example
 * ```ts
 * console.log(INPUT_KINDS.join(', ')); // codes, motion
 * ```
 */
export const INPUT_KINDS: readonly InputKind[] = ['codes', 'motion'];

/** Number of motion channels a cell's input gets beside its code embedding with `inputs` holding 'motion'. */
export const MOTION_CHANNELS = 2;

/**
 * Options of an {@link RCNN} (all but `k` optional).
 * @example
 * ```ts
 * const opts: ModelOptions = { k: 1024, kernel: 3, layers: 2, softmax: 'factored' };
 * ```
 */
export interface ModelOptions {
  /** Number of codes K (the codebook size); codes are integers in [0, k). */
  k: number;
  /** Width of the code embedding (default 128). */
  embedDim?: number;
  /** Width of the per-cell recurrent state and of the hidden conv layers (default 128). */
  hidden?: number;
  /** Side of the square conv kernel in cells, odd (default 3; 1 = no spatial context, the RNN baseline). */
  kernel?: number;
  /** Number of conv layers; receptive field = layers*(kernel-1)+1 cells per side (default 2). */
  layers?: number;
  /** Recurrent cell: 'tanh' (Elman, the default) or 'gru' (gated, 1x1). */
  cell?: CellKind;
  /** Output layer: full softmax or class-factored softmax (default 'full'). */
  softmax?: SoftmaxKind;
  /** Number of classes of the factored softmax (default chosen by the output layer, about sqrt(k)). */
  classes?: number;
  /**
   * Direct connections from each cell's present code to its output logits: a learned [k, k] same-cell
   * bigram table added to the logits (RNNME, Mikolov et al. 2011), started by the first fit at the training
   * codes' bigram. It speeds up the start of training but, on vtest, ends higher than a network without it
   * (see the package README); needs k ≤ 4096 (default false).
   */
  direct?: boolean;
  /**
   * Copy-aware output: a per-cell learned gate mixes the event "same code as this cell's present code" into
   * the distribution, p = π_copy·[c = x_t] + π_net·q(c) (+ π_prior·b(c | x_t)); exact at any K with either
   * softmax (default true). See the package README for what it is worth.
   */
  copy?: boolean;
  /**
   * A counted prior mixed into the output under the same gate, counted by each fit on its training codes and
   * saved with the model (sparse, any K): 'bigram', the same-cell Witten-Bell bigram b(c | x_t); 'spatial', the
   * spatial n-gram b(c | x_t and its 4 neighbours' codes), backing off to the bigram, its smoothing chosen by
   * leave-one-out likelihood (it learns place-specific flicker on a static camera; see the package README); or
   * 'none'. Default 'spatial'; the RNN, which has no spatial context, defaults to 'bigram'. Models saved with
   * another prior keep theirs.
   */
  prior?: 'bigram' | 'spatial' | 'none';
  /**
   * Online adaptation of the copy-aware output's mixture weights to the clip being read (default true, with
   * {@link DEFAULT_GATE_ADAPTATION}; an object sets `decay` and `strength`; false for the gate as trained): wherever
   * the model reads frames (likelihood, stepping, prediction after a context, filling after the frames before
   * the gap) the gate offsets are refitted after each frame to the frames read so far (see
   * `OnlineGateOffsets` in `@vqvid/model/internals`), so each frame is scored with weights fitted on the frames before it only.
   * Ignored (not recorded) without copy or a prior. Model files from before the option load without it.
   */
  adapt?: boolean | Partial<GateAdaptation>;
  /**
   * Dropout rate in [0, 0.95] during training, on the embedded codes and on the state read by the output layer
   * (not on the recurrence, as in Zaremba et al. 2014); masks are seeded per step. Default 0.
   */
  dropout?: number;
  /**
   * What each cell reads (default `['codes']`): with `'motion'`, two motion flags per cell, [x_t ≠ x_{t−1}]
   * and [x_{t−1} ≠ x_{t−2}] (see {@link InputKind}), enter the first conv layer beside the code embedding. They
   * are computed from the codes the model reads wherever it runs (training, likelihood, stepping, generation,
   * filling), so no other data is needed. `'codes'` must be present.
   */
  inputs?: InputKind[];
  /**
   * Scales the network models (default 1). With 2 a coarse grid of 2x2 blocks of cells (aligned to the whole
   * grid's origin) is modelled too: the cells' embedded codes (and motion channels) are averaged over each block
   * (over its cells inside the grid at an edge), go through a conv stack of their own (same kernel and layers)
   * and a 1x1 tanh recurrence of `hiddenCoarse` units per block, h_c(t) = tanh(drive_c + U_c·h_c(t−1) + b_c).
   * Each cell's state is then [h_fine | h_coarse of its block]: the output layer reads both, and the fine
   * recurrence reads h_c(t−1) as one more input, so a code reaches predictions about twice as far as with one
   * scale (5 cells instead of 2 with a 3x3 kernel and 2 layers). Training crops keep even origins and margins (the
   * whole grid's blocks), which makes a training step cost about twice as much at the same crop. The codes stay
   * one grid: every API reads and writes fine codes only. Saved with the model.
   */
  scales?: 1 | 2;
  /** Width of the coarse recurrent state and of the coarse conv layers, with `scales: 2` (default round(hidden / 2)). */
  hiddenCoarse?: number;
  /** Seed of every random choice of the model (initialisation, crops, sampling defaults); default 1. */
  seed?: number;
}

/**
 * {@link ModelOptions} with every default filled in; what a saved model records (`model.config`).
 * @example
 * ```ts
 * const { kernel, layers }: ModelConfig = new RCNN({ k: 64 }).config; // 3, 2
 * ```
 */
export interface ModelConfig {
  /** Number of codes K (2..65536); codes are integers in [0, k). */
  k: number;
  /** Width of the code embedding. */
  embedDim: number;
  /** Width of the per-cell recurrent state and of the hidden conv layers. */
  hidden: number;
  /** Side of the square conv kernel in cells, odd (always 1 for {@link RNN}). */
  kernel: number;
  /** Number of conv layers. */
  layers: number;
  /** Recurrent cell kind. */
  cell: CellKind;
  /** Output layer kind. */
  softmax: SoftmaxKind;
  /** Number of classes of the factored softmax, only when given in the options (else the output layer picks about sqrt(k)). */
  classes?: number;
  /** Whether the output logits get direct connections from the present code. */
  direct: boolean;
  /** Whether the output mixes in "same code as now" (copy-aware output). */
  copy: boolean;
  /** The counted prior mixed into the output ('none' = none). */
  prior: 'bigram' | 'spatial' | 'none';
  /** Online gate adaptation, present when on (see {@link ModelOptions.adapt}). */
  adapt?: GateAdaptation;
  /** Training dropout rate (0 = none). */
  dropout: number;
  /**
   * What each cell reads, only when more than the codes (`['codes', 'motion']`); absent = `['codes']`, so
   * plain models keep the config, files and checksums they had before the option existed.
   */
  inputs?: InputKind[];
  /** 2 with a coarse scale (see {@link ModelOptions.scales}); absent = 1, so single-scale models keep their files and checksums. */
  scales?: 2;
  /** Width of the coarse state, present exactly when `scales` is 2. */
  hiddenCoarse?: number;
  /** Seed of every random choice of the model. */
  seed: number;
}

/**
 * The defaults of {@link ModelOptions} (k has none): the CLI builds its flags and help from them.
 * @example
 * ```ts
 * new RCNN({ k: 1024, hidden: DEFAULT_MODEL_OPTIONS.hidden / 2 });
 * ```
 */
export const DEFAULT_MODEL_OPTIONS: Readonly<Required<Omit<ModelOptions, 'k' | 'classes' | 'inputs' | 'hiddenCoarse' | 'adapt'>> & {
  /** Online gate adaptation: on (see the package README). */
  adapt: boolean;
  /** Default input kinds: the codes only. */
  inputs: readonly InputKind[];
}> = Object.freeze({
  embedDim: 128,
  hidden: 128,
  kernel: 3,
  layers: 2,
  cell: 'tanh',
  softmax: 'full',
  direct: false,
  copy: true,
  prior: 'spatial',
  adapt: true,
  dropout: 0,
  inputs: Object.freeze(['codes'] as InputKind[]),
  scales: 1,
  seed: 1,
});

const MAX_K = 65536;

/** Validates user options and fills defaults; `fixedKernel` pins the kernel (the RNN baseline: 1, and then the default prior is 'bigram'). */
export function resolveConfig(opts: ModelOptions, fixedKernel?: number): ModelConfig {
  if (typeof opts !== 'object' || opts === null) fail('E_RANGE', 'options', 'an object with at least k', opts);
  assertInt(opts.k, 'k', 2, MAX_K);
  const cfg: ModelConfig = {
    k: opts.k,
    embedDim: opts.embedDim ?? DEFAULT_MODEL_OPTIONS.embedDim,
    hidden: opts.hidden ?? DEFAULT_MODEL_OPTIONS.hidden,
    kernel: fixedKernel ?? opts.kernel ?? DEFAULT_MODEL_OPTIONS.kernel,
    layers: opts.layers ?? DEFAULT_MODEL_OPTIONS.layers,
    cell: opts.cell ?? DEFAULT_MODEL_OPTIONS.cell,
    softmax: opts.softmax ?? DEFAULT_MODEL_OPTIONS.softmax,
    direct: opts.direct ?? DEFAULT_MODEL_OPTIONS.direct,
    copy: opts.copy ?? DEFAULT_MODEL_OPTIONS.copy,
    // a model without spatial context (the RNN) keeps a per-cell prior
    prior: opts.prior ?? (fixedKernel === 1 ? 'bigram' : DEFAULT_MODEL_OPTIONS.prior),
    dropout: opts.dropout ?? DEFAULT_MODEL_OPTIONS.dropout,
    seed: opts.seed ?? DEFAULT_MODEL_OPTIONS.seed,
  };
  if (fixedKernel !== undefined && opts.kernel !== undefined && opts.kernel !== fixedKernel) {
    fail('E_RANGE', 'kernel', `${fixedKernel} (this model has no spatial context)`, opts.kernel);
  }
  assertInt(cfg.embedDim, 'embedDim', 1, 4096);
  assertInt(cfg.hidden, 'hidden', 1, 4096);
  assertInt(cfg.kernel, 'kernel', 1, 15);
  if (cfg.kernel % 2 === 0) fail('E_RANGE', 'kernel', 'an odd integer', cfg.kernel);
  assertInt(cfg.layers, 'layers', 1, 8);
  assertInt(cfg.seed, 'seed');
  if (cfg.cell !== 'tanh' && cfg.cell !== 'gru') fail('E_RANGE', 'cell', "'tanh' or 'gru'", cfg.cell);
  if (cfg.softmax !== 'full' && cfg.softmax !== 'factored') fail('E_RANGE', 'softmax', "'full' or 'factored'", cfg.softmax);
  assertNumber(cfg.dropout, 'dropout', 0, 0.95);
  if (typeof cfg.copy !== 'boolean') fail('E_RANGE', 'copy', 'a boolean', cfg.copy);
  if (cfg.prior !== 'bigram' && cfg.prior !== 'spatial' && cfg.prior !== 'none') fail('E_RANGE', 'prior', "'bigram', 'spatial' or 'none'", cfg.prior);
  if (typeof cfg.direct !== 'boolean') fail('E_RANGE', 'direct', 'a boolean', cfg.direct);
  if (cfg.direct && cfg.k > MAX_DIRECT_K) fail('E_RANGE', 'k', `at most ${MAX_DIRECT_K} with direct: true (a [k, k] table)`, cfg.k);
  if (opts.classes !== undefined) {
    assertInt(opts.classes, 'classes', 1, cfg.k);
    cfg.classes = opts.classes;
  }
  const adapt = resolveAdapt(opts.adapt);
  if (adapt && (cfg.copy || cfg.prior !== 'none')) cfg.adapt = adapt;
  const inputs = resolveInputs(opts.inputs);
  if (inputs.length > 1) cfg.inputs = inputs;
  resolveScales(opts, cfg);
  return cfg;
}

/** `adapt` checked (E_RANGE naming it) and resolved: null when off. */
function resolveAdapt(adapt: ModelOptions['adapt']): GateAdaptation | null {
  const a = adapt ?? DEFAULT_MODEL_OPTIONS.adapt;
  if (a === false) return null;
  if (a === true) return { ...DEFAULT_GATE_ADAPTATION };
  if (typeof a !== 'object' || a === null || Array.isArray(a) || Object.keys(a).some((key) => key !== 'decay' && key !== 'strength')) {
    fail('E_RANGE', 'adapt', 'a boolean or { decay, strength }', a);
  }
  const out = { decay: a.decay ?? DEFAULT_GATE_ADAPTATION.decay, strength: a.strength ?? DEFAULT_GATE_ADAPTATION.strength };
  checkAdaptation(out, 'adapt');
  return out;
}

/** `scales` and `hiddenCoarse` checked (E_RANGE naming them) and recorded in `cfg` only for a two-scale model. */
function resolveScales(opts: ModelOptions, cfg: ModelConfig): void {
  const scales = opts.scales ?? DEFAULT_MODEL_OPTIONS.scales;
  if (scales !== 1 && scales !== 2) fail('E_RANGE', 'scales', '1 or 2', scales);
  if (scales === 1) {
    if (opts.hiddenCoarse !== undefined) fail('E_RANGE', 'hiddenCoarse', 'absent (it is the coarse state width of scales: 2)', opts.hiddenCoarse);
    return;
  }
  const hiddenCoarse = opts.hiddenCoarse ?? Math.max(1, Math.round(cfg.hidden / 2));
  assertInt(hiddenCoarse, 'hiddenCoarse', 1, 4096);
  cfg.scales = 2;
  cfg.hiddenCoarse = hiddenCoarse;
}

/** Width of the coarse state per cell: `hiddenCoarse` with two scales, else 0. */
export function coarseWidth(cfg: Pick<ModelConfig, 'scales' | 'hiddenCoarse'>): number {
  return cfg.scales === 2 ? cfg.hiddenCoarse! : 0;
}

/** Width of the state each cell carries and the output layer reads: `hidden`, plus `hiddenCoarse` with two scales. */
export function stateWidth(cfg: Pick<ModelConfig, 'hidden' | 'scales' | 'hiddenCoarse'>): number {
  return cfg.hidden + coarseWidth(cfg);
}

/** Side of a coarse cell in fine cells, the alignment training crops keep: 2 with two scales, else 1. */
export function coarseSide(cfg: Pick<ModelConfig, 'scales'>): 1 | 2 {
  return cfg.scales === 2 ? 2 : 1;
}

/** `inputs` checked (E_RANGE naming it) and put in {@link INPUT_KINDS} order; undefined = `['codes']`. */
function resolveInputs(inputs: unknown): InputKind[] {
  if (inputs === undefined) return ['codes'];
  const expected = `an array of distinct ${INPUT_KINDS.map((k) => `'${k}'`).join(' / ')} holding 'codes'`;
  if (!Array.isArray(inputs) || !inputs.includes('codes')) fail('E_RANGE', 'inputs', expected, inputs);
  if (new Set(inputs).size !== inputs.length || inputs.some((k) => !INPUT_KINDS.includes(k))) fail('E_RANGE', 'inputs', expected, inputs);
  return INPUT_KINDS.filter((k) => inputs.includes(k));
}

/** Whether a model of `cfg` reads the motion channels beside its codes. */
export function usesMotion(cfg: Pick<ModelConfig, 'inputs'>): boolean {
  return cfg.inputs?.includes('motion') ?? false;
}

/**
 * Radius in fine cells of the input drive's receptive field (2 for the default 3x3 kernel, 2 layers): how far a
 * code's change reaches into the next states. With two scales the coarse stack reaches rc = the same radius in
 * coarse cells; fine cell r lies in coarse cell ⌊r/2⌋, whose stack reads coarse cells ⌊r/2⌋ ± rc, i.e. fine
 * rows 2(⌊r/2⌋ − rc) .. 2(⌊r/2⌋ + rc) + 1: at most 2·rc + 1 away (r even reaches r + 2rc + 1, r odd r − 2rc − 1).
 */
export function receptiveRadius(cfg: Pick<ModelConfig, 'kernel' | 'layers'> & Partial<Pick<ModelConfig, 'scales'>>): number {
  const fine = ((cfg.kernel - 1) / 2) * cfg.layers;
  return cfg.scales === 2 ? Math.max(fine, 2 * fine + 1) : fine;
}
