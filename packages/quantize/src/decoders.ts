import { assertInt, assertNumber, fail } from '@vqvid/core';
import type { CellCandidates, DecoderName } from '@vqvid/core';
import { copyPatch, type MotionLayout, nearestMotionPatches, packedLayout, packLayout } from './motion-simd';

export type { DecoderName };

/**
 * The decoder used when none is named: 'mbr', the sharp one (one candidate per cell) with the least expected
 * squared error under the model's distribution.
 * @example
 * ```ts
 * codec.decodeDistribution(dist, { geometry, reference, present, decoder: DEFAULT_DECODER });
 * ```
 */
export const DEFAULT_DECODER: DecoderName = 'mbr';

/**
 * Every {@link DecoderName}, in a fixed order (for loops, CLI choices and docs).
 * @example
 * ```ts
 * for (const decoder of DECODERS) decodeCells({ ...inputs, decoder });
 * ```
 */
export const DECODERS: readonly DecoderName[] = Object.freeze(['centroid', 'skip', 'mbr', 'mean'] as const);

/**
 * Inputs of {@link decodeCells}: per-cell code distributions of the next frame plus the previous frame's
 * codes and patches at the same cells.
 *
 * Stand-ins: the event "code = present" stands for the reference patch P (the previous frame's patch,
 * kept exactly); any other code c stands for z_c = P + alpha·(centroid_c − P), so alpha = 1 is the
 * centroid itself and alpha = 0 is P again.
 *
 * Candidates: per cell, S = the `topM` most probable codes ∪ {present}, and p̃ is `probs` renormalised
 * over S. The truncation drops the long tail of codes outside S (their mass is spread over S in
 * proportion), which keeps the cost per cell at O(k + |S|·dim).
 * @example
 * ```ts
 * const opts: DecodeCellsOptions = { probs, k, present, reference, centroids, dim: 64, decoder: 'mbr' };
 * ```
 */
export interface DecodeCellsOptions {
  /** [cells, k] row-major probabilities: finite, non-negative, each row summing to 1 within 1e-3 (or give `top`). */
  probs?: Float32Array;
  /**
   * Instead of `probs`: each cell's m most probable codes with their probabilities, by probability descending
   * (ties: lower code first), and the probability of its present code. It decodes exactly as `probs` would when
   * m ≥ topM and the codes are that distribution's top m (candidates S = the first topM ∪ {present}).
   */
  top?: Pick<CellCandidates, 'm' | 'codes' | 'probs' | 'presentProbs'>;
  /** Number of codes K (≥ 1). */
  k: number;
  /** Each cell's code in the previous frame, [cells] integers in [0, k). */
  present: ArrayLike<number>;
  /** Each cell's patch in the previous frame, [cells, dim] row-major, in the same units as `centroids`. */
  reference: Float32Array;
  /** The codebook's centroids, [k, dim] row-major. */
  centroids: Float32Array;
  /** Values per patch (size·size). */
  dim: number;
  /** Which decoder to apply (see {@link DecoderName} and {@link decodeCells}). */
  decoder: DecoderName;
  /** Stand-in shrink towards the reference patch, in [0, 1]; default 1 (stand-ins are the centroids). */
  alpha?: number;
  /** Candidates per cell besides `present`, in [1, k]; default min(16, k). */
  topM?: number;
  /**
   * 'mbr' only, in (0, 1]: a cell leaves its reference patch P only for a candidate whose expected squared
   * error is below changeRatio × P's (default 1: plain minimum Bayes risk). Smaller values keep P unless the
   * model is confident that a change pays, trading a little expected error for fewer wrong changes.
   */
  changeRatio?: number;
  /**
   * Motion-searched stand-ins: [cells, motionCount, dim] real patches per cell, row-major (for example the
   * previous frame's patches displaced by up to a few pixels: `PatchCodec.decodeDistribution` builds them from
   * its `search` option). When given, a code c ≠ present stands for z_c = P + alpha·(M_c − P), where M_c is the
   * motion patch nearest to centroid c (squared distance; ties → the lower index): a patch that really was in
   * the picture and looks like what the model predicts, instead of the centroid itself. 'centroid' ignores it.
   */
  motion?: Float32Array;
  /** Motion patches per cell in `motion` (≥ 1); required with `motion`. */
  motionCount?: number;
}

/**
 * Turns per-cell code distributions into patches, using each cell's previous patch P as the stand-in for
 * "same code as before" (see {@link DecodeCellsOptions} for stand-ins z_c and candidates S):
 * - 'centroid': the centroid of the argmax code (ignores `reference` and `alpha`); ties → lowest code.
 * - 'skip': the argmax code c*; P when c* is the present code, else z_{c*}.
 * - 'mbr': minimum Bayes risk among the candidates, argmin over y ∈ {z_c : c ∈ S} of
 *   R(y) = Σ_{c∈S} p̃_c ‖y − z_c‖²; it picks one candidate and never averages, so it stays sharp. Ties → P,
 *   then the lower code. With `changeRatio` r < 1 the best other candidate y replaces P only when
 *   R(y) < r·R(P).
 * - 'mean': m = Σ_{c∈S} p̃_c z_c, the squared-error optimum within S (blurry where the model is unsure).
 *
 * Throws E_SHAPE/E_DTYPE on arrays of the wrong type or length and E_RANGE on bad values.
 * @returns Float32Array [cells, dim], cells = probs.length / k.
 * @example
 * ```ts
 * const patches = decodeCells({ probs, k, present, reference, centroids, dim: 64, decoder: 'mbr', alpha: 0.8 });
 * ```
 */
export function decodeCells(o: DecodeCellsOptions): Float32Array {
  return decodeValidated(o);
}

/**
 * {@link decodeCells} with the motion patches described by `layout` instead of `motion` (PatchCodec's: the moved
 * patches read where they lie in a padded frame, not cut into 1.9M values a frame at 320x240 with a motion search
 * of 2 pixels). The layout's values are the caller's to check (PatchCodec checks the frames' pixels). Not exported
 * from the package.
 */
export function decodeCellsInLayout(o: Omit<DecodeCellsOptions, 'motion' | 'motionCount'>, layout: MotionLayout): Float32Array {
  return decodeValidated(o, layout);
}

/** The body of {@link decodeCells}: the inputs checked (a `layout`'s values are the caller's to check), then decoded. */
function decodeValidated(o: DecodeCellsOptions, layout?: MotionLayout): Float32Array {
  const shape = validateInputs(o, '', layout);
  return decodeCandidates(shape, selectCandidates(o, shape), o.decoder, o.alpha ?? 1, o.changeRatio ?? 1);
}

/**
 * The stand-in targets of the last decode with motion patches (an offset into `motion` per candidate slot), reused
 * by the next. Read only within the decode call that filled it (or, in fitDecoderAlpha, that sample's decodes).
 */
let targetScratch = new Int32Array(0);
/** The chosen patches of a decode whose motion layout is not one patch after another, [slots, dim] (likewise reused). */
let chosenScratch = new Float32Array(0);
/** {@link standInTargets}' searched slots, their cells and codes (3 x its size), reused by the next call. */
let searchScratch = new Int32Array(0);

/** Per candidate slot, where its stand-in's target starts in `data` (−1: none). */
interface StandIns {
  data: Float32Array;
  at: Int32Array;
}

/**
 * Per cell and candidate slot, where the stand-in's target starts in `motion`: the motion patch nearest to the
 * slot's centroid (first wins on ties); null without motion patches (the targets are the centroids). Slot 0 (the
 * present code) has none (−1): it is P. `argmaxOnly`: only the argmax's slot (the others stay −1).
 */
function standInTargets(shape: DecodeShape, cand: Candidates, argmaxOnly = false): StandIns | null {
  const { motion: layout, dim, centroids } = shape;
  if (!layout) return null;
  const count = layout.count;
  const size = cand.codes.length;
  if (targetScratch.length < size) targetScratch = new Int32Array(size);
  const out = targetScratch.subarray(0, size).fill(-1);
  // every searched slot's nearest patch from the WebAssembly SIMD screen (the same answers as the scan below)
  if (searchScratch.length < 3 * size) searchScratch = new Int32Array(3 * size);
  const slots = searchScratch.subarray(0, size);
  const cells = searchScratch.subarray(size, 2 * size);
  const codes = searchScratch.subarray(2 * size, 3 * size);
  let n = 0;
  for (let cell = 0; cell < shape.cells; cell++) {
    for (let s = 1; s < cand.count[cell]; s++) {
      const code = cand.codes[cell * cand.width + s];
      if (argmaxOnly && code !== cand.argmax[cell]) continue;
      slots[n] = cell * cand.width + s;
      cells[n] = cell;
      codes[n++] = code;
    }
  }
  const nearest = nearestMotionPatches(layout, dim, centroids, cells.subarray(0, n), codes.subarray(0, n));
  if (nearest && layout.rowLen === dim) {
    // each patch's values lie together: read in place
    for (let r = 0; r < n; r++) out[slots[r]] = layout.bases[cells[r] * count + nearest[r]];
    return { data: layout.data, at: out };
  }
  if (nearest) {
    // patches in rows (of a frame): the chosen ones copied, one after another
    if (chosenScratch.length < n * dim) chosenScratch = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) {
      copyPatch(layout, layout.bases[cells[r] * count + nearest[r]], dim, chosenScratch, r * dim);
      out[slots[r]] = r * dim;
    }
    return { data: chosenScratch, at: out };
  }
  const motion = packLayout(layout, shape.cells, dim);
  return { data: motion, at: scanTargets(shape, motion, cand, argmaxOnly, out) };
}

/** {@link standInTargets} in JavaScript alone (where WebAssembly SIMD is missing), into `out`. */
function scanTargets(shape: DecodeShape, motion: Float32Array, cand: Candidates, argmaxOnly: boolean, out: Int32Array): Int32Array {
  const { dim, centroids } = shape;
  const count = shape.motion!.count;
  // per call, not cached: a codebook's array could be changed in place, and this costs one pass over it
  const centroidStats = statsOf(centroids, 0, centroids.length / dim, dim, null);
  // the motion patches' statistics, a cell's when it first needs a stand-in ('skip' needs none where the argmax is
  // the present code, as in most cells of a still scene)
  if (motionStatScratch.length < 2 * shape.cells * count) motionStatScratch = new Float64Array(2 * shape.cells * count);
  const motionStats = motionStatScratch;
  // each motion patch's lower bound on its distance to the candidate's centroid, computed once per candidate
  const bounds = new Float64Array(count);
  for (let cell = 0; cell < shape.cells; cell++) {
    const base = cell * cand.width;
    const patches = cell * count * dim;
    let described = false;
    for (let s = 1; s < cand.count[cell]; s++) {
      // 'skip' reads the argmax's stand-in only
      if (argmaxOnly && cand.codes[base + s] !== cand.argmax[cell]) continue;
      if (!described) {
        statsOf(motion, cell * count, count, dim, motionStats);
        described = true;
      }
      const code = cand.codes[base + s];
      const c = code * dim;
      const mean = centroidStats[2 * code];
      const spread = centroidStats[2 * code + 1];
      // ‖M − C‖² = dim·(mean M − mean C)² + ‖centred M − centred C‖² ≥ dim·Δmean² + (‖centred M‖ − ‖centred C‖)²:
      // the patch of least bound is measured first (often the nearest: the best distance is small from the start),
      // then every other patch whose bound does not exceed the best distance (with a margin far above float64
      // rounding), each given up once its sum passes the best. Ties go to the lower index, as in a scan in order.
      let first = 0;
      for (let m = 0; m < count; m++) {
        const k = 2 * (cell * count + m);
        const dm = motionStats[k] - mean;
        const dn = motionStats[k + 1] - spread;
        bounds[m] = dim * dm * dm + dn * dn;
        if (bounds[m] < bounds[first]) first = m;
      }
      let best = first;
      let bestD = partialDistance(motion, patches + first * dim, centroids, c, dim, Infinity);
      for (let m = 0; m < count; m++) {
        if (m === first || bounds[m] > bestD * (1 + 1e-9)) continue;
        const d = partialDistance(motion, patches + m * dim, centroids, c, dim, bestD);
        // a sum given up at the best distance is ≥ it: equal only if it was complete (the rest added zeros)
        if (d < bestD || (d === bestD && m < best && partialDistance(motion, patches + m * dim, centroids, c, dim, Infinity) === bestD)) {
          bestD = d;
          best = m;
        }
      }
      out[base + s] = patches + best * dim;
    }
  }
  return out;
}

/** The motion patches' statistics of the last call of {@link standInTargets} (a cell's read only after it is written). */
let motionStatScratch = new Float64Array(0);

/**
 * [count, 2] at out[2·first ..]: the mean of each of vectors [first, first + count) of `dim` values in `a` and the
 * norm of the vector minus its mean (float64); into a new array of the vectors' size when `out` is null.
 */
function statsOf(a: Float32Array, first: number, count: number, dim: number, out: Float64Array | null): Float64Array {
  out ??= new Float64Array(2 * (first + count));
  for (let v = first; v < first + count; v++) {
    let sum = 0;
    for (let j = v * dim; j < (v + 1) * dim; j++) sum += a[j];
    const mean = sum / dim;
    let sq = 0;
    for (let j = v * dim; j < (v + 1) * dim; j++) sq += (a[j] - mean) ** 2;
    out[2 * v] = mean;
    out[2 * v + 1] = Math.sqrt(sq);
  }
  return out;
}

/**
 * ‖a[at..] − b[c..]‖² over `dim` values summed in order, given up (returning the partial sum, ≥ bound) once it
 * reaches `bound`; checked every 8 terms, which gives the same sums, so the same nearest patch, as every term.
 */
function partialDistance(a: Float32Array, at: number, b: Float32Array, c: number, dim: number, bound: number): number {
  let d = 0;
  let j = 0;
  for (; j + 8 <= dim; j += 8) {
    const e0 = a[at + j] - b[c + j];
    const e1 = a[at + j + 1] - b[c + j + 1];
    const e2 = a[at + j + 2] - b[c + j + 2];
    const e3 = a[at + j + 3] - b[c + j + 3];
    const e4 = a[at + j + 4] - b[c + j + 4];
    const e5 = a[at + j + 5] - b[c + j + 5];
    const e6 = a[at + j + 6] - b[c + j + 6];
    const e7 = a[at + j + 7] - b[c + j + 7];
    d += e0 * e0;
    d += e1 * e1;
    d += e2 * e2;
    d += e3 * e3;
    d += e4 * e4;
    d += e5 * e5;
    d += e6 * e6;
    d += e7 * e7;
    if (d >= bound) return d;
  }
  for (; j < dim; j++) {
    const e = a[at + j] - b[c + j];
    d += e * e;
  }
  return d;
}

/**
 * One sample for {@link fitDecoderAlpha}: the inputs of {@link decodeCells} without `alpha`, plus the
 * true next-frame patches.
 * @example
 * ```ts
 * const sample: DecoderAlphaSample = { probs, k, present, reference, centroids, dim, decoder: 'skip', truth };
 * ```
 */
export type DecoderAlphaSample = Omit<DecodeCellsOptions, 'alpha'> & {
  /** The true patches of the predicted frame, [cells, dim] row-major. */
  truth: Float32Array;
};

/**
 * Result of {@link fitDecoderAlpha}.
 * @example
 * ```ts
 * const { alpha, mse } = fitDecoderAlpha(samples);
 * ```
 */
export interface DecoderAlphaFit {
  /** The grid value with the lowest mean squared error (ties → the larger alpha). */
  alpha: number;
  /** Mean squared error per patch value over all samples, one per grid value (same order as the grid). */
  mse: number[];
}

/**
 * Picks the stand-in shrink alpha that decodes the samples closest to their true patches (lowest mean
 * squared error per value over all samples; ties → the larger alpha), for the decoder the samples name
 * (all samples must name the same one).
 * @param opts.grid alphas to try, each in [0, 1]; default 0, 0.1, ..., 1.
 * @example
 * ```ts
 * const { alpha } = fitDecoderAlpha([{ probs, k, present, reference, centroids, dim, decoder: 'mbr', truth }]);
 * const patches = decodeCells({ probs, k, present, reference, centroids, dim, decoder: 'mbr', alpha });
 * ```
 */
export function fitDecoderAlpha(samples: DecoderAlphaSample[], opts: { grid?: number[] } = {}): DecoderAlphaFit {
  const grid = opts.grid ?? Array.from({ length: 11 }, (_, i) => i / 10);
  if (!Array.isArray(grid) || grid.length === 0) fail('E_SHAPE', 'opts.grid', 'a non-empty array of numbers', grid);
  grid.forEach((a, i) => assertNumber(a, `opts.grid[${i}]`, 0, 1));
  if (!Array.isArray(samples) || samples.length === 0) fail('E_SHAPE', 'samples', 'a non-empty array', samples);
  const sse = new Float64Array(grid.length);
  let values = 0;
  samples.forEach((s, i) => {
    const arg = `samples[${i}]`;
    const shape = validateInputs(s, arg);
    if (s.decoder !== samples[0].decoder) fail('E_RANGE', `${arg}.decoder`, `'${samples[0].decoder}' (as samples[0])`, s.decoder);
    assertFloats(s.truth, `${arg}.truth`, shape.cells * shape.dim);
    // Candidates and weights do not depend on alpha: select once, decode once per grid value.
    const candidates = selectCandidates(s, shape);
    const targets = s.decoder === 'centroid' ? null : standInTargets(shape, candidates);
    grid.forEach((alpha, g) => {
      const y = decodeCandidates(shape, candidates, s.decoder, alpha, s.changeRatio ?? 1, targets);
      for (let j = 0; j < y.length; j++) sse[g] += (y[j] - s.truth[j]) ** 2;
    });
    values += s.truth.length;
  });
  const mse = Array.from(sse, (e) => e / values);
  let best = 0;
  for (let g = 1; g < grid.length; g++) {
    if (mse[g] < mse[best] || (mse[g] === mse[best] && grid[g] > grid[best])) best = g;
  }
  return { alpha: grid[best], mse };
}

/** Validated sizes and arrays of one decode. */
interface DecodeShape {
  cells: number;
  k: number;
  dim: number;
  present: ArrayLike<number>;
  reference: Float32Array;
  centroids: Float32Array;
  motion?: MotionLayout;
}

/**
 * Per-cell candidate sets: slot 0 is the present code, then the other top-M codes in ascending order (so
 * a first-wins scan breaks ties as P, then lower code); `weights` are p̃.
 */
interface Candidates {
  width: number;
  count: Int32Array;
  codes: Int32Array;
  weights: Float64Array;
  argmax: Int32Array;
}

const DEFAULT_TOP_M = 16;
/** Slack on each row's sum: float32 softmax outputs over 10^4 codes sum to 1 within ~1e-5. */
const ROW_SUM_TOLERANCE = 1e-3;

function validateInputs(o: DecodeCellsOptions, arg: string, layout?: MotionLayout): DecodeShape {
  const name = (field: string): string => (arg ? `${arg}.${field}` : field);
  if (typeof o !== 'object' || o === null) fail('E_SHAPE', arg || 'options', 'an options object', o);
  if (!DECODERS.includes(o.decoder)) fail('E_RANGE', name('decoder'), `one of ${DECODERS.join(', ')}`, o.decoder);
  assertInt(o.k, name('k'), 1);
  assertInt(o.dim, name('dim'), 1);
  const { k, dim } = o;
  if (o.alpha !== undefined) assertNumber(o.alpha, name('alpha'), 0, 1);
  if (o.topM !== undefined) assertInt(o.topM, name('topM'), 1, k);
  if (o.changeRatio !== undefined) {
    assertNumber(o.changeRatio, name('changeRatio'), 0, 1);
    if (!(o.changeRatio > 0)) fail('E_RANGE', name('changeRatio'), 'a number in (0, 1]', o.changeRatio);
  }
  let cells: number;
  if (o.top !== undefined) {
    if (o.probs !== undefined) fail('E_SHAPE', name('probs'), 'nothing (top is given)', 'a probs array too');
    cells = validateTop(o.top, k, o.topM ?? Math.min(DEFAULT_TOP_M, k), name('top'));
  } else {
    if (!(o.probs instanceof Float32Array)) fail('E_DTYPE', name('probs'), 'a Float32Array', o.probs);
    cells = o.probs.length / k;
    if (!Number.isInteger(cells)) fail('E_SHAPE', name('probs.length'), `a multiple of k = ${k}`, o.probs.length);
    validateProbs(o.probs, k, name('probs'));
  }
  const present = o.present;
  if (present === null || typeof present !== 'object' || typeof present.length !== 'number') {
    fail('E_SHAPE', name('present'), 'an array of codes', present);
  }
  if (present.length !== cells) fail('E_SHAPE', name('present.length'), `${cells} (cells of probs)`, present.length);
  // the argument's name only on failure (a string a cell, every frame, otherwise)
  for (let i = 0; i < cells; i++) if (!(Number.isInteger(present[i]) && present[i] >= 0 && present[i] < k)) assertInt(present[i], `${name('present')}[${i}]`, 0, k - 1);
  assertFloats(o.reference, name('reference'), cells * dim);
  assertFloats(o.centroids, name('centroids'), k * dim);
  let motion = layout;
  if (o.motion !== undefined) {
    assertInt(o.motionCount, name('motionCount'), 1);
    assertFloats(o.motion, name('motion'), cells * (o.motionCount as number) * dim);
    motion = packedLayout(o.motion, cells, o.motionCount as number, dim);
  } else if (o.motionCount !== undefined) fail('E_SHAPE', name('motion'), `patches to go with motionCount = ${String(o.motionCount)}`, undefined);
  return { cells, k, dim, present, reference: o.reference, centroids: o.centroids, ...(motion ? { motion } : {}) };
}

/** Checks top candidates (m ≥ topM, codes distinct in [0, k), probabilities finite, ≥ 0, descending); returns the cells. */
function validateTop(top: NonNullable<DecodeCellsOptions['top']>, k: number, topM: number, arg: string): number {
  if (typeof top !== 'object' || top === null) fail('E_SHAPE', arg, 'an object { m, codes, probs, presentProbs }', top);
  assertInt(top.m, `${arg}.m`, topM, k);
  if (!(top.codes instanceof Int32Array)) fail('E_DTYPE', `${arg}.codes`, 'an Int32Array', top.codes);
  const cells = top.codes.length / top.m;
  if (!Number.isInteger(cells)) fail('E_SHAPE', `${arg}.codes.length`, `a multiple of m = ${top.m}`, top.codes.length);
  assertFloats(top.probs, `${arg}.probs`, top.codes.length);
  assertFloats(top.presentProbs, `${arg}.presentProbs`, cells);
  for (let cell = 0; cell < cells; cell++) {
    if (!(top.presentProbs[cell] >= 0 && top.presentProbs[cell] <= 1 + ROW_SUM_TOLERANCE)) fail('E_RANGE', `${arg}.presentProbs[${cell}]`, 'a probability', top.presentProbs[cell]);
    for (let j = cell * top.m; j < (cell + 1) * top.m; j++) {
      // the argument's name only on failure (built for every candidate, it was megabytes of strings a frame)
      if (!(top.codes[j] >= 0 && top.codes[j] < k)) assertInt(top.codes[j], `${arg}.codes[${j}]`, 0, k - 1);
      if (!(top.probs[j] >= 0 && top.probs[j] <= 1 + ROW_SUM_TOLERANCE)) fail('E_RANGE', `${arg}.probs[${j}]`, 'a probability', top.probs[j]);
      if (j > cell * top.m && !(top.probs[j] <= top.probs[j - 1])) fail('E_RANGE', `${arg}.probs[${j}]`, `at most ${top.probs[j - 1]} (descending per cell)`, top.probs[j]);
      for (let i = cell * top.m; i < j; i++) if (top.codes[i] === top.codes[j]) fail('E_RANGE', `${arg}.codes[${j}]`, 'a code not already among the cell\'s candidates', top.codes[j]);
    }
  }
  return cells;
}

function validateProbs(probs: Float32Array, k: number, arg: string): void {
  for (let row = 0; row * k < probs.length; row++) {
    let sum = 0;
    for (let i = row * k; i < (row + 1) * k; i++) {
      const p = probs[i];
      if (!(p >= 0) || p === Infinity) fail('E_RANGE', `${arg}[${i}]`, 'a finite probability >= 0', p);
      sum += p;
    }
    if (Math.abs(sum - 1) > ROW_SUM_TOLERANCE) fail('E_RANGE', `${arg} (sum of row ${row})`, `1 (within ${ROW_SUM_TOLERANCE})`, sum);
  }
}

/** E_DTYPE unless `a` is a Float32Array, E_SHAPE unless of `length`, E_RANGE on a value that is not finite. */
function assertFloats(a: unknown, arg: string, length: number): asserts a is Float32Array {
  if (!(a instanceof Float32Array)) fail('E_DTYPE', arg, 'a Float32Array', a);
  if (a.length !== length) fail('E_SHAPE', `${arg}.length`, `${length}`, a.length);
  // x − x is 0 for a finite x and NaN for ±∞ and NaN: four sums of it are 0 exactly when every value is finite
  // (no branch per value: the motion patches are 1.9M values a frame); then the first culprit is looked for
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    s0 += a[i] - a[i];
    s1 += a[i + 1] - a[i + 1];
    s2 += a[i + 2] - a[i + 2];
    s3 += a[i + 3] - a[i + 3];
  }
  for (; i < length; i++) s0 += a[i] - a[i];
  if (s0 + s1 + s2 + s3 === 0) return;
  for (let j = 0; j < length; j++) if (!Number.isFinite(a[j])) fail('E_RANGE', `${arg}[${j}]`, 'a finite number', a[j]);
}

/**
 * Argmax and top-M candidates of every cell: from `top` when given (its first M codes), else from `probs` by a
 * size-M min-heap (O(k log M) worst case, O(k) typical).
 */
function selectCandidates(o: Pick<DecodeCellsOptions, 'probs' | 'top' | 'topM'>, shape: DecodeShape): Candidates {
  const { k } = shape;
  const m = o.topM ?? Math.min(DEFAULT_TOP_M, k);
  return o.top ? candidatesFromTop(o.top, m, shape) : candidatesFromProbs(o.probs!, m, shape);
}

/** {@link selectCandidates} from top lists: S = present, then the first m codes other than present, ascending. */
function candidatesFromTop(top: NonNullable<DecodeCellsOptions['top']>, m: number, shape: DecodeShape): Candidates {
  const { cells, present } = shape;
  const width = m + 1;
  const out: Candidates = { width, count: new Int32Array(cells), codes: new Int32Array(cells * width), weights: new Float64Array(cells * width), argmax: new Int32Array(cells) };
  const probOf = new Float64Array(width);
  for (let cell = 0; cell < cells; cell++) {
    const from = cell * top.m;
    const a = present[cell];
    out.argmax[cell] = top.codes[from];
    const base = cell * width;
    out.codes[base] = a;
    let n = 1;
    for (let j = from; j < from + m; j++) {
      const c = top.codes[j];
      if (c === a) continue;
      // insertion into ascending code order (at most m codes)
      let at = base + n;
      while (at > base + 1 && out.codes[at - 1] > c) {
        out.codes[at] = out.codes[at - 1];
        probOf[at - base] = probOf[at - 1 - base];
        at--;
      }
      out.codes[at] = c;
      probOf[at - base] = top.probs[j];
      n++;
    }
    probOf[0] = top.presentProbs[cell];
    out.count[cell] = n;
    // the same float32 values summed in the same order as from probs, so the weights agree bit for bit
    let z = 0;
    for (let j = 0; j < n; j++) z += Math.fround(probOf[j]);
    for (let j = 0; j < n; j++) out.weights[base + j] = Math.fround(probOf[j]) / z;
  }
  return out;
}

function candidatesFromProbs(probs: Float32Array, m: number, shape: DecodeShape): Candidates {
  const { cells, k, present } = shape;
  const width = m + 1;
  const out: Candidates = {
    width,
    count: new Int32Array(cells),
    codes: new Int32Array(cells * width),
    weights: new Float64Array(cells * width),
    argmax: new Int32Array(cells),
  };
  const heap = new Int32Array(m);
  for (let cell = 0; cell < cells; cell++) {
    const p = probs.subarray(cell * k, (cell + 1) * k);
    const size = fillTopM(p, heap);
    let best = heap[0];
    for (let h = 1; h < size; h++) if (p[heap[h]] > p[best] || (p[heap[h]] === p[best] && heap[h] < best)) best = heap[h];
    out.argmax[cell] = best;
    const a = present[cell];
    const others = Array.from(heap.subarray(0, size)).filter((c) => c !== a).sort((x, y) => x - y);
    const base = cell * width;
    out.codes[base] = a;
    others.forEach((c, j) => (out.codes[base + 1 + j] = c));
    const n = others.length + 1;
    out.count[cell] = n;
    let z = 0;
    for (let j = 0; j < n; j++) z += p[out.codes[base + j]];
    for (let j = 0; j < n; j++) out.weights[base + j] = p[out.codes[base + j]] / z;
  }
  return out;
}

/**
 * Writes the indices of the heap.length most probable entries of `p` into `heap` (any order; ties keep
 * the lower index); returns how many (min(heap.length, p.length)).
 */
function fillTopM(p: Float32Array, heap: Int32Array): number {
  const m = Math.min(heap.length, p.length);
  // Min-heap by "goodness": the root is the worst kept code, so most codes are rejected by one compare.
  const worse = (a: number, b: number): boolean => p[a] < p[b] || (p[a] === p[b] && a > b);
  for (let i = 0; i < m; i++) {
    heap[i] = i;
    for (let j = i; j > 0; ) {
      const parent = (j - 1) >> 1;
      if (!worse(heap[j], heap[parent])) break;
      [heap[j], heap[parent]] = [heap[parent], heap[j]];
      j = parent;
    }
  }
  for (let i = m; i < p.length; i++) {
    if (p[i] <= p[heap[0]]) continue; // equal → the kept (lower) code wins
    heap[0] = i;
    for (let j = 0; ; ) {
      const l = 2 * j + 1;
      const r = l + 1;
      let w = j;
      if (l < m && worse(heap[l], heap[w])) w = l;
      if (r < m && worse(heap[r], heap[w])) w = r;
      if (w === j) break;
      [heap[j], heap[w]] = [heap[w], heap[j]];
      j = w;
    }
  }
  return m;
}

function decodeCandidates(shape: DecodeShape, cand: Candidates, decoder: DecoderName, alpha: number, changeRatio: number, targets = decoder === 'centroid' ? null : standInTargets(shape, cand, decoder === 'skip')): Float32Array {
  const { cells, dim, present, reference, centroids } = shape;
  const out = new Float32Array(cells * dim);
  const mean = new Float64Array(dim);
  // the candidates' stand-ins of the cell, [width, dim] in float64, for mbr's risks (every one copied here, P and
  // plain centroids too, so that the risks read one kind of array)
  const zs = new Float64Array(cand.width * dim);
  // slot j's stand-in: z_c = (1 − alpha)·P + alpha·T_c, T_c the centroid (or its motion target at targets.at[j]);
  // the present code stands for P itself. It is read as it is where it is P, or T_c at alpha = 1 ((1 − 1)·P + 1·T
  // is T exactly: P is finite); otherwise blended from P and T_c.
  const targetData = targets ? targets.data : centroids;
  const targetAt = (j: number, code: number): number => (targets ? targets.at[j] : code * dim);
  // 'mbr' keeps the stand-ins for its risks, and needs the spread only to compare risks by ratio
  const risks = decoder === 'mbr';
  const ratio = risks && changeRatio < 1;
  const write = (slot: number, at: number): void => {
    const o = slot * dim;
    for (let j = 0; j < dim; j++) out[at + j] = zs[o + j];
  };
  for (let cell = 0; cell < cells; cell++) {
    const at = cell * dim;
    const best = cand.argmax[cell];
    if (decoder === 'centroid') {
      out.set(centroids.subarray(best * dim, (best + 1) * dim), at);
      continue;
    }
    const base = cell * cand.width;
    const n = cand.count[cell];
    const p = cell * dim;
    if (decoder === 'skip') {
      let slot = 0;
      while (cand.codes[base + slot] !== best) slot++; // the argmax is always a candidate
      const own = best === present[cell];
      const from = own ? reference : targetData;
      const o = own ? p : targetAt(base + slot, best);
      const mixed = !own && alpha !== 1;
      for (let d = 0; d < dim; d++) out[at + d] = mixed ? (1 - alpha) * reference[p + d] + alpha * from[o + d] : from[o + d];
      continue;
    }
    mean.fill(0);
    // Σ p̃_c ‖z_c‖², the constant part of every candidate's risk (needed only to compare risks by ratio)
    let spread = 0;
    for (let s = 0; s < n; s++) {
      const w = cand.weights[base + s];
      const z = s * dim;
      // slot s's stand-in summed into the mean (and the spread) in the same pass; kept in zs for the risks
      const code = cand.codes[base + s];
      const own = code === present[cell];
      const from = own ? reference : targetData;
      const o = own ? p : targetAt(base + s, code);
      const mixed = !own && alpha !== 1;
      for (let d = 0; d < dim; d++) {
        const v = mixed ? (1 - alpha) * reference[p + d] + alpha * from[o + d] : from[o + d];
        if (risks) zs[z + d] = v;
        mean[d] += w * v;
        if (ratio) spread += w * v * v;
      }
    }
    if (!risks) {
      out.set(mean, at);
      continue;
    }
    // Σ p̃_c ‖y − z_c‖² = ‖y‖² − 2 y·m + const, so one pass over the candidates suffices; two candidates at a time,
    // each risk still summed in coordinate order (two independent sums: the same values, twice the throughput)
    let pick = 0;
    let bestRisk = Infinity;
    let keepRisk = Infinity;
    for (let s = 0; s < n; s += 2) {
      const z0 = s * dim;
      const z1 = s + 1 < n ? z0 + dim : z0;
      let r0 = 0;
      let r1 = 0;
      for (let d = 0; d < dim; d++) {
        const m2 = 2 * mean[d];
        r0 += zs[z0 + d] * (zs[z0 + d] - m2);
        r1 += zs[z1 + d] * (zs[z1 + d] - m2);
      }
      if (s === 0) keepRisk = r0;
      if (r0 < bestRisk) {
        bestRisk = r0;
        pick = s;
      }
      if (s + 1 < n && r1 < bestRisk) {
        bestRisk = r1;
        pick = s + 1;
      }
    }
    // slot 0 is P: a change must beat changeRatio × R(P), whole risks (the constant added back)
    if (changeRatio < 1 && pick !== 0 && !(bestRisk + spread < changeRatio * (keepRisk + spread))) pick = 0;
    write(pick, at);
  }
  return out;
}

/**
 * Result of {@link fitDecoder}.
 * @example
 * ```ts
 * const { decoder, alpha }: DecoderFit = fitDecoder(samples);
 * ```
 */
export interface DecoderFit {
  /** The decoder with the lowest mean squared error at its best alpha. */
  decoder: DecoderName;
  /** That decoder's best alpha ('centroid' ignores alpha: 1). */
  alpha: number;
  /** Per decoder tried: its best alpha and the mean squared error there. */
  scores: Record<string, DecoderScore>;
}

/**
 * One decoder's result in {@link DecoderFit.scores}.
 * @example
 * ```ts
 * const { alpha, mse }: DecoderScore = fitDecoder(samples).scores.mbr;
 * ```
 */
export interface DecoderScore {
  /** The decoder's best alpha on the samples. */
  alpha: number;
  /** Mean squared error per patch value at that alpha. */
  mse: number;
}

/**
 * Chooses the decoder and stand-in alpha that decode validation samples closest to their true patches: for each
 * decoder of `opts.decoders` (default all of {@link DECODERS}) it fits alpha with {@link fitDecoderAlpha} and keeps
 * the lowest mean squared error (ties → the earlier decoder in the list).
 * @param samples the inputs of {@link decodeCells} without decoder and alpha, plus the true patches.
 * @param opts.decoders decoders to try; opts.grid alphas to try (as in {@link fitDecoderAlpha}).
 * @example
 * ```ts
 * const { decoder, alpha } = fitDecoder(validationSamples, { decoders: ['skip', 'mbr'] }); // sharp decoders only
 * ```
 */
export function fitDecoder(
  samples: Array<Omit<DecoderAlphaSample, 'decoder'>>,
  opts: { decoders?: readonly DecoderName[]; grid?: number[] } = {},
): DecoderFit {
  const decoders = opts.decoders ?? DECODERS;
  if (!Array.isArray(decoders) || decoders.length === 0) fail('E_SHAPE', 'opts.decoders', 'a non-empty array of decoder names', decoders);
  const scores: DecoderFit['scores'] = {};
  let best: DecoderName | null = null;
  for (const decoder of decoders) {
    const grid = decoder === 'centroid' ? [1] : opts.grid;
    const r = fitDecoderAlpha(samples.map((s) => ({ ...s, decoder })), grid ? { grid } : {});
    const at = r.mse.indexOf(Math.min(...r.mse));
    scores[decoder] = { alpha: r.alpha, mse: r.mse[at] };
    if (best === null || scores[decoder].mse < scores[best].mse) best = decoder;
  }
  return { decoder: best!, alpha: scores[best!].alpha, scores };
}
