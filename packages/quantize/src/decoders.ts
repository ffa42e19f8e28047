import { assertInt, assertNumber, fail } from '@vqvid/core';
import type { DecoderName } from '@vqvid/core';

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
  /** [cells, k] row-major probabilities: finite, non-negative, each row summing to 1 within 1e-3. */
  probs: Float32Array;
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
  const shape = validateInputs(o, '');
  return decodeCandidates(shape, selectCandidates(o, shape), o.decoder, o.alpha ?? 1, o.changeRatio ?? 1);
}

/**
 * Per cell and candidate slot, the stand-in's target: the centroid, or with motion patches the motion patch
 * nearest to the centroid (first wins on ties). Slot 0 (the present code) has none: it is P.
 */
function standInTargets(shape: DecodeShape, cand: Candidates): Float32Array | null {
  const { motion, motionCount: count, dim, centroids } = shape;
  if (!motion) return null;
  const out = new Float32Array(cand.codes.length * dim);
  for (let cell = 0; cell < shape.cells; cell++) {
    const base = cell * cand.width;
    const patches = cell * count * dim;
    for (let s = 1; s < cand.count[cell]; s++) {
      const c = cand.codes[base + s] * dim;
      let best = 0;
      let bestD = Infinity;
      for (let m = 0; m < count; m++) {
        const at = patches + m * dim;
        let d = 0;
        for (let j = 0; j < dim && d < bestD; j++) {
          const e = motion[at + j] - centroids[c + j];
          d += e * e;
        }
        if (d < bestD) {
          bestD = d;
          best = m;
        }
      }
      out.set(motion.subarray(patches + best * dim, patches + (best + 1) * dim), (base + s) * dim);
    }
  }
  return out;
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
  motion?: Float32Array;
  motionCount: number;
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

function validateInputs(o: DecodeCellsOptions, arg: string): DecodeShape {
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
  if (!(o.probs instanceof Float32Array)) fail('E_DTYPE', name('probs'), 'a Float32Array', o.probs);
  const cells = o.probs.length / k;
  if (!Number.isInteger(cells)) fail('E_SHAPE', name('probs.length'), `a multiple of k = ${k}`, o.probs.length);
  validateProbs(o.probs, k, name('probs'));
  const present = o.present;
  if (present === null || typeof present !== 'object' || typeof present.length !== 'number') {
    fail('E_SHAPE', name('present'), 'an array of codes', present);
  }
  if (present.length !== cells) fail('E_SHAPE', name('present.length'), `${cells} (cells of probs)`, present.length);
  for (let i = 0; i < cells; i++) assertInt(present[i], `${name('present')}[${i}]`, 0, k - 1);
  assertFloats(o.reference, name('reference'), cells * dim);
  assertFloats(o.centroids, name('centroids'), k * dim);
  let motionCount = 0;
  if (o.motion !== undefined) {
    assertInt(o.motionCount, name('motionCount'), 1);
    motionCount = o.motionCount as number;
    assertFloats(o.motion, name('motion'), cells * motionCount * dim);
  } else if (o.motionCount !== undefined) fail('E_SHAPE', name('motion'), `patches to go with motionCount = ${String(o.motionCount)}`, undefined);
  return { cells, k, dim, present, reference: o.reference, centroids: o.centroids, ...(o.motion ? { motion: o.motion } : {}), motionCount };
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

function assertFloats(a: unknown, arg: string, length: number): asserts a is Float32Array {
  if (!(a instanceof Float32Array)) fail('E_DTYPE', arg, 'a Float32Array', a);
  if (a.length !== length) fail('E_SHAPE', `${arg}.length`, `${length}`, a.length);
  for (let i = 0; i < length; i++) if (!Number.isFinite(a[i])) fail('E_RANGE', `${arg}[${i}]`, 'a finite number', a[i]);
}

/** Argmax and top-M candidates of every cell, by a size-M min-heap (O(k log M) worst case, O(k) typical). */
function selectCandidates(o: Pick<DecodeCellsOptions, 'probs' | 'topM'>, shape: DecodeShape): Candidates {
  const { cells, k, present } = shape;
  const m = o.topM ?? Math.min(DEFAULT_TOP_M, k);
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
    const p = o.probs.subarray(cell * k, (cell + 1) * k);
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

function decodeCandidates(shape: DecodeShape, cand: Candidates, decoder: DecoderName, alpha: number, changeRatio: number, targets = decoder === 'centroid' ? null : standInTargets(shape, cand)): Float32Array {
  const { cells, dim, present, reference, centroids } = shape;
  const out = new Float32Array(cells * dim);
  const mean = new Float64Array(dim);
  const z = new Float64Array(dim);
  // z_c = (1 − alpha)·P + alpha·T_c, T_c the centroid (or its motion patch): exactly T_c at alpha = 1 and
  // exactly P at alpha = 0. `slot` is the code's candidate slot (targets are stored per slot).
  const standIn = (cell: number, code: number, slot: number, into: Float64Array): Float64Array => {
    const p = cell * dim;
    if (code === present[cell]) for (let j = 0; j < dim; j++) into[j] = reference[p + j];
    else if (targets) {
      const c = (cell * cand.width + slot) * dim;
      for (let j = 0; j < dim; j++) into[j] = (1 - alpha) * reference[p + j] + alpha * targets[c + j];
    } else {
      const c = code * dim;
      for (let j = 0; j < dim; j++) into[j] = (1 - alpha) * reference[p + j] + alpha * centroids[c + j];
    }
    return into;
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
    if (decoder === 'skip') {
      let slot = 0;
      while (cand.codes[base + slot] !== best) slot++; // the argmax is always a candidate
      out.set(standIn(cell, best, slot, z), at);
      continue;
    }
    mean.fill(0);
    // Σ p̃_c ‖z_c‖², the constant part of every candidate's risk (needed only to compare risks by ratio)
    let spread = 0;
    for (let s = 0; s < n; s++) {
      const w = cand.weights[base + s];
      standIn(cell, cand.codes[base + s], s, z);
      for (let j = 0; j < dim; j++) {
        mean[j] += w * z[j];
        spread += w * z[j] * z[j];
      }
    }
    if (decoder === 'mean') {
      out.set(mean, at);
      continue;
    }
    // Σ p̃_c ‖y − z_c‖² = ‖y‖² − 2 y·m + const, so one pass over the candidates suffices.
    let pick = 0;
    let bestRisk = Infinity;
    let keepRisk = Infinity;
    for (let s = 0; s < n; s++) {
      standIn(cell, cand.codes[base + s], s, z);
      let risk = 0;
      for (let j = 0; j < dim; j++) risk += z[j] * (z[j] - 2 * mean[j]);
      if (s === 0) keepRisk = risk;
      if (risk < bestRisk) {
        bestRisk = risk;
        pick = s;
      }
    }
    // slot 0 is P: a change must beat changeRatio × R(P), whole risks (the constant added back)
    if (changeRatio < 1 && pick !== 0 && !(bestRisk + spread < changeRatio * (keepRisk + spread))) pick = 0;
    out.set(standIn(cell, cand.codes[base + pick], pick, z), at);
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
