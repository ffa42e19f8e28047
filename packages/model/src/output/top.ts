import type * as tf from '@tensorflow/tfjs-core';
import { assertInt, fail } from '@vqvid/core';
import type { CellCandidates } from '@vqvid/core';

/**
 * Extra codes per cell whose ln q a layer must report besides its top list (the present code, a prior's best
 * codes), as compressed rows: the codes of cell i are codes[start[i] .. start[i + 1]).
 */
export interface ExtraCodes {
  /** [n + 1] offsets into `codes`. */
  start: Int32Array;
  /** The extra codes of every cell, one cell after another. */
  codes: Int32Array;
}

/** What an output layer's top search (`TopSource.logCandidates`, or an {@link AsyncTopSource}) finds: each cell's m codes of highest ln q, exactly or within a class beam. */
export interface LogCandidates {
  /** Candidates per cell. */
  m: number;
  /** [n, m] codes by ln q descending (ties: lower code first). */
  codes: Int32Array;
  /** [n, m] their ln q. */
  logq: Float64Array;
  /** ln q of every extra code, in the layout of ExtraCodes.codes. */
  extraLogq: Float64Array;
  /** [n] an upper bound on ln q of any code outside the cell's top list. */
  bound: Float64Array;
  /**
   * [n] 0 where a class beam cut the search short; 1 where `bound` holds, and then the top list is exactly the m
   * codes of highest q wherever bound[i] ≤ its m-th ln q (always, unless a `floor` let the search stop early).
   */
  exact: Uint8Array;
  /** [n] classes whose members were scored, per cell (factored layers; what the search cost). */
  classesVisited?: Int32Array;
}

/**
 * Lets several searches over the same cells share work (a mixture searches some cells again, deeper): row r of
 * each call's h is cell `cells[r]`, numbered alike in every call given the same memo, and those rows hold the same
 * hidden state in every call. `kept` is the layer's own and opaque to the caller; a memo serves one set of hidden
 * states and the layer's weights of the moment (a layer starts afresh when its weights have changed). A caller
 * ends with `release?.()`, which frees what the layer kept.
 */
export interface SearchMemo {
  cells: Int32Array;
  kept?: unknown;
  /** Set by a layer that keeps tensors in the memo: the caller calls it once done with the memo. */
  release?: () => void;
}

/** An output layer that can find its top candidates without materialising all K probabilities. */
export interface TopSource {
  /**
   * Each cell's top m codes by ln q and ln q of the extra codes; null when this layer cannot (direct factored).
   * With `floor` ([n] ln q), a layer may stop searching a cell once no code left unscored can have ln q above
   * floor[i] (the caller needs nothing below it); `bound` still covers every code outside the list. With `memo`,
   * a layer may reuse what an earlier call with the same memo computed for the same cells (same results).
   */
  logCandidates(h: tf.Tensor2D, present: tf.Tensor1D | undefined, m: number, extras: ExtraCodes, classBeam: number, floor?: Float64Array, memo?: SearchMemo): LogCandidates | null;
}

/**
 * A source of an inner output layer's top lists that runs outside tfjs and answers asynchronously (e.g. an ONNX
 * runtime, see `@vqvid/model/onnx`): the contract of `TopSource.logCandidates` (`@vqvid/model/internals`) for the rows `cells` of `h`
 * ([n, hidden] row-major, all cells), always exact (no floor, no class beam).
 */
export interface AsyncTopSource {
  /** Codes K of the layer it scores (checked against the layer it stands for). */
  readonly k: number;
  /** The hidden width of that layer. */
  readonly hidden: number;
  /** Each listed cell's `m` codes of highest ln q (ties may be ordered differently), `bound` and ln q of its extra codes. */
  logCandidatesAsync(h: Float32Array, cells: Int32Array, m: number, extras: ExtraCodes, memo?: AsyncSearchMemo): Promise<LogCandidates>;
}

/**
 * What an {@link AsyncTopSource} may keep between the passes of one search: the caller makes one per search and
 * passes it, with the same `h` array, to every pass. The same results, less work.
 */
export interface AsyncSearchMemo {
  /** The source's own record (opaque to the caller). */
  state?: unknown;
}

/** E_SHAPE unless `source` scores a layer of `layer`'s K and hidden width. */
export function checkSource(source: AsyncTopSource, layer: { k: number; hidden: number }): void {
  if (typeof source?.logCandidatesAsync !== 'function') fail('E_STATE', 'source', 'an AsyncTopSource (logCandidatesAsync)', source);
  if (source.k !== layer.k || source.hidden !== layer.hidden) fail('E_SHAPE', 'source', `a source for k ${layer.k}, hidden ${layer.hidden}`, `k ${source.k}, hidden ${source.hidden}`);
}

/** {@link plainTopCandidates} with the lists from an {@link AsyncTopSource}. */
export async function plainTopCandidatesAsync(layer: { k: number; hidden: number }, h: Float32Array, present: Int32Array, m: number, source: AsyncTopSource): Promise<TopCandidates> {
  checkSource(source, layer);
  const n = present.length;
  const found = await source.logCandidatesAsync(h, Int32Array.from({ length: n }, (_, i) => i), m, presentExtras(present));
  return { m, codes: found.codes, probs: Float32Array.from(found.logq, Math.exp), presentProbs: Float32Array.from(found.extraLogq, Math.exp), exact: found.exact };
}

/**
 * Each cell's m most probable codes of the whole output distribution, with their probabilities, the present
 * code's probability (the fields a decoder reads, as in `CellCandidates` of @vqvid/core) and whether the list is
 * exact (see `topCandidates` in `@vqvid/model/internals`).
 */
export interface TopCandidates extends Pick<CellCandidates, 'm' | 'codes' | 'probs' | 'presentProbs'> {
  /** [n] 1 where the list is exactly the m most probable codes, 0 where a class beam cut the search short. */
  exact: Uint8Array;
}

/** Whether `layer` has a {@link TopSource.logCandidates} method. */
export function isTopSource(layer: unknown): layer is TopSource {
  return typeof (layer as Partial<TopSource>).logCandidates === 'function';
}

/** Empty result arrays for n cells, m candidates and `extras` extra codes (top lists start empty: ln q −∞). */
export function emptyLogCandidates(n: number, m: number, extras: number): LogCandidates {
  return { m, codes: new Int32Array(n * m).fill(-1), logq: new Float64Array(n * m).fill(-Infinity), extraLogq: new Float64Array(extras).fill(NaN), bound: new Float64Array(n).fill(-Infinity), exact: new Uint8Array(n).fill(1) };
}

/**
 * Offers (code, v) to the descending list codes/vals[base .. base + m) (empty slots: code −1, value −∞); ties
 * keep the lower code first. O(1) when it does not make the list, O(m) when it does.
 */
export function offerTop(codes: Int32Array, vals: Float64Array, base: number, m: number, code: number, v: number): void {
  if (!turnedAway(codes, vals, base + m - 1, code, v)) insertTop(codes, vals, base, m, code, v);
}

/** {@link offerTop} of a code that may already be in the list (then nothing changes: same code, same value). */
export function offerTopOnce(codes: Int32Array, vals: Float64Array, base: number, m: number, code: number, v: number): void {
  // a value the list turns away changes nothing either way: no need to look for the code first
  if (turnedAway(codes, vals, base + m - 1, code, v)) return;
  for (let j = base; j < base + m && codes[j] !== -1; j++) if (codes[j] === code) return;
  insertTop(codes, vals, base, m, code, v);
}

/**
 * The m best entries (value descending, ties: lower code first) of two lists of distinct codes, into
 * codes/vals[base .. base + m) (empty slots: −1, −∞, past both lists): `a` (aCodes/aVals[0 .. na)) already in
 * that order, `b` ([0 .. nb)) with its values non-increasing, which this first puts in that order in place (its
 * ties may come in another code order). The list {@link offerTop} builds from the same entries, in O(m + na + nb)
 * rather than a search and shift per entry.
 */
export function mergeTop(aCodes: Int32Array, aVals: Float64Array, na: number, bCodes: Int32Array, bVals: Float64Array, nb: number, codes: Int32Array, vals: Float64Array, base: number, m: number): void {
  // insertion sort: one comparison an entry where b is in order already
  for (let j = 1; j < nb; j++) {
    const c = bCodes[j];
    const v = bVals[j];
    let at = j;
    while (at > 0 && ranksBelow(bCodes, bVals, at - 1, c, v)) {
      bCodes[at] = bCodes[at - 1];
      bVals[at] = bVals[at - 1];
      at--;
    }
    bCodes[at] = c;
    bVals[at] = v;
  }
  let i = 0;
  let j = 0;
  for (let o = base; o < base + m; o++) {
    if (i < na && (j >= nb || !ranksBelow(aCodes, aVals, i, bCodes[j], bVals[j]))) {
      codes[o] = aCodes[i];
      vals[o] = aVals[i++];
    } else if (j < nb) {
      codes[o] = bCodes[j];
      vals[o] = bVals[j++];
    } else {
      codes[o] = -1;
      vals[o] = -Infinity;
    }
  }
}

/**
 * Whether (code, v) ranks below the list's last entry (at `last`): a lower value, or the same and a higher code.
 * {@link offerTop} then changes nothing. A hot loop may test this first: it is inlined, where the offer's call
 * boxes its double argument whether or not the list takes it.
 */
export function turnedAway(codes: Int32Array, vals: Float64Array, last: number, code: number, v: number): boolean {
  return v < vals[last] || (v === vals[last] && codes[last] !== -1 && code > codes[last]);
}

/** Whether the entry at `at` ranks below (code, v): a lower value, or the same and an empty slot or a higher code. */
function ranksBelow(codes: Int32Array, vals: Float64Array, at: number, code: number, v: number): boolean {
  return vals[at] < v || (vals[at] === v && (codes[at] === -1 || codes[at] > code));
}

/** Lists with more entries than this find an entry's place by binary search and shift by copyWithin (same result). */
const LINEAR_INSERT = 64;

/**
 * Puts (code, v) in its place in the list, dropping the last entry (the caller has checked that it enters). Empty
 * slots (code −1) rank below every entry, so they are a suffix: nothing behind the first of them moves.
 */
function insertTop(codes: Int32Array, vals: Float64Array, base: number, m: number, code: number, v: number): void {
  const last = base + m - 1;
  let end = last;
  if (codes[last] === -1) {
    let lo = base;
    while (lo < end) {
      const mid = (lo + end) >>> 1;
      if (codes[mid] === -1) end = mid;
      else lo = mid + 1;
    }
  }
  let at = end;
  if (end - base > LINEAR_INSERT) {
    // the entries before `end` that rank below (code, v) are a suffix of them: its first index is the place
    let lo = base;
    while (lo < at) {
      const mid = (lo + at) >>> 1;
      if (ranksBelow(codes, vals, mid, code, v)) at = mid;
      else lo = mid + 1;
    }
    if (at < end) {
      vals.copyWithin(at + 1, at, end);
      codes.copyWithin(at + 1, at, end);
    }
  } else {
    while (at > base && ranksBelow(codes, vals, at - 1, code, v)) {
      vals[at] = vals[at - 1];
      codes[at] = codes[at - 1];
      at--;
    }
  }
  vals[at] = v;
  codes[at] = code;
}

/**
 * Each row's m best (value descending, ties: lower code first) of the [n, k] float32 values `z`, into the empty
 * lists codes/vals[i·m .. (i + 1)·m) (code −1 and −∞ left where a row has fewer than m values that are not NaN): the
 * lists {@link offerTop} leaves after offering every value of the row in order. Faster: the row is cut into 2m
 * blocks (of ⌊k/2m⌋ codes, the last one taking the rest), and the m-th largest block maximum t is at most the row's
 * m-th value (m blocks hold a value at least t), so only the values at least t are candidates, and only blocks
 * whose maximum is at least t hold any; a quickselect on a copy of their values finds the m-th, x; the list is the
 * candidates above x (put in order as they come) and then those equal to x, lower codes first. Every row when
 * m > k/4 offers all its values one by one instead.
 */
export function topOfRows(z: Float32Array, n: number, k: number, m: number, codes: Int32Array, vals: Float64Array): void {
  const blocked = m <= k / 4;
  const blocks = 2 * m;
  const size = Math.floor(k / blocks);
  const cand = new Int32Array(blocked ? k : 0);
  const scratch = new Float64Array(blocked ? k : 0);
  const maxima = new Float64Array(blocked ? blocks : 0);
  const order = new Float64Array(blocked ? blocks : 0);
  for (let i = 0; i < n; i++) {
    const row = i * k;
    const base = i * m;
    if (!blocked) {
      offerAll(z, row, k, codes, vals, base, m);
      continue;
    }
    for (let b = 0; b < blocks; b++) {
      const end = row + (b === blocks - 1 ? k : (b + 1) * size);
      let most = -Infinity;
      for (let c = row + b * size; c < end; c++) if (z[c] > most) most = z[c];
      maxima[b] = most;
      order[b] = most;
    }
    const t = largest(order, blocks, m);
    let found = 0;
    for (let b = 0; b < blocks; b++) {
      if (!(maxima[b] >= t)) continue;
      const end = b === blocks - 1 ? k : (b + 1) * size;
      for (let c = b * size; c < end; c++) {
        const v = z[row + c];
        if (v >= t) {
          cand[found] = c;
          scratch[found++] = v;
        }
      }
    }
    // NaN is never a candidate; a row with fewer than m others keeps them all (t = −∞: fewer than m blocks hold a
    // value above −∞)
    const x = found >= m ? largest(scratch, found, m) : -Infinity;
    let j = 0;
    for (let q = 0; q < found; q++) {
      const c = cand[q];
      const v = z[row + c];
      if (!(v > x)) continue;
      // fewer than m values are above x: each goes in its place among the j before it (slot j is still empty)
      insertTop(codes, vals, base, ++j, c, v);
    }
    for (let q = 0; q < found && j < m; q++) {
      const c = cand[q];
      if (z[row + c] === x) {
        codes[base + j] = c;
        vals[base + j++] = z[row + c];
      }
    }
  }
}

/**
 * The m-th largest of a[0 .. len) (1 ≤ m ≤ len, no NaN), by quickselect (Hoare partition around the middle value,
 * descending); reorders `a`.
 */
export function largest(a: Float64Array, len: number, m: number): number {
  let lo = 0;
  let hi = len - 1;
  const want = m - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return a[want];
  }
  return a[want];
}

/** Offers z[row + c] of the codes c in [0, k) to list `base` in order (see {@link offerTop}). */
function offerAll(z: Float32Array, row: number, k: number, codes: Int32Array, vals: Float64Array, base: number, m: number): void {
  const last = base + m - 1;
  // most codes do not make the list: one compare with the list's m-th before the call
  let worst = vals[last];
  for (let c = 0; c < k; c++) {
    const v = z[row + c];
    if (v >= worst) {
      offerTop(codes, vals, base, m, c, v);
      worst = vals[last];
    }
  }
}

/** Checks the candidate count and the beam (m in [1, k], classBeam an integer ≥ 1 or Infinity). */
export function checkTopOptions(m: number, k: number, classBeam: number): void {
  assertInt(m, 'topM', 1, k);
  if (classBeam !== Infinity) assertInt(classBeam, 'classBeam', 1);
}

/** The present codes as {@link ExtraCodes}: one per cell. */
export function presentExtras(present: Int32Array): ExtraCodes {
  return { start: Int32Array.from({ length: present.length + 1 }, (_, i) => i), codes: present };
}

/**
 * Top candidates of a plain (unmixed) layer: p = q, the present code's probability from its extra ln q.
 * E_STATE when the layer is no {@link TopSource}.
 */
export function plainTopCandidates(layer: unknown, h: tf.Tensor2D, present: Int32Array, presentTensor: tf.Tensor1D | undefined, m: number, classBeam: number): TopCandidates | null {
  if (!isTopSource(layer)) fail('E_STATE', 'layer', 'an output layer that finds top candidates', layer);
  const found = layer.logCandidates(h, presentTensor, m, presentExtras(present), classBeam);
  if (!found) return null;
  return { m, codes: found.codes, probs: Float32Array.from(found.logq, Math.exp), presentProbs: Float32Array.from(found.extraLogq, Math.exp), exact: found.exact };
}
