import { fail, transitionCells, VqvidError } from '@vqvid/core';
import type { CodeVolume, StoredArray } from '@vqvid/core';
import { mergeTop, offerTop } from './top';

/** Compressed rows of counts: the codes seen after context j are next[start[j] .. start[j + 1]), with counts. */
export interface CountRows {
  start: Int32Array;
  next: Int32Array;
  count: Float32Array;
}

/**
 * The indices of the `n` rows of `width` ints in `rows` (each in [0, top]) in lexicographic order of their columns
 * `cols` (a stable counting sort per column, the last first: O(|cols|·(n + top)), where a comparison sort of vtest's
 * 954k counted cells took over 100 ms a fit).
 */
export function sortRows(rows: Int32Array, n: number, width: number, cols: number[], top: number): Int32Array {
  let order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let into = new Int32Array(n);
  const bucket = new Int32Array(top + 2);
  for (let x = cols.length - 1; x >= 0; x--) {
    const col = cols[x];
    bucket.fill(0);
    for (let i = 0; i < n; i++) bucket[rows[i * width + col] + 1]++;
    for (let v = 0; v <= top; v++) bucket[v + 1] += bucket[v];
    for (let j = 0; j < n; j++) {
      const r = order[j];
      into[bucket[rows[r * width + col]]++] = r;
    }
    [order, into] = [into, order];
  }
  return order;
}

/**
 * Counts of rows of `width` ints taken in sorted `order`: each distinct prefix of width − 1 (a context) becomes a
 * row of {@link CountRows}, the last int its next code, counted. With `contexts`, the prefix is one int, the row's
 * own index, and every one of the `contexts` rows is there (empty when unseen); without, the distinct prefixes are
 * listed in order.
 */
export function sortedRowCounts(rows: Int32Array, width: number, order: Int32Array, contexts?: number): { rows: CountRows; contexts: Int32Array } {
  const w = width - 1;
  const listed: number[] = [];
  const start: number[] = [0];
  const next: number[] = [];
  const count: number[] = [];
  let last = -1;
  for (let j = 0; j < order.length; j++) {
    const base = order[j] * width;
    const b = rows[base + w];
    if (last < 0 || !sameInts(rows, base, last, w)) {
      if (contexts === undefined) {
        for (let x = 0; x < w; x++) listed.push(rows[base + x]);
        if (last >= 0) start.push(next.length);
      } else {
        while (start.length <= rows[base]) start.push(next.length);
      }
      next.push(b);
      count.push(1);
    } else if (rows[last + w] === b) count[count.length - 1]++;
    else {
      next.push(b);
      count.push(1);
    }
    last = base;
  }
  if (contexts === undefined) {
    if (order.length > 0) start.push(next.length);
  } else {
    while (start.length <= contexts) start.push(next.length);
  }
  return { rows: { start: Int32Array.from(start), next: Int32Array.from(next), count: Float32Array.from(count) }, contexts: Int32Array.from(listed) };
}

/** Whether the `width` ints at a[i ..) and a[j ..) are equal. */
function sameInts(a: Int32Array, i: number, j: number, width: number): boolean {
  for (let x = 0; x < width; x++) if (a[i + x] !== a[j + x]) return false;
  return true;
}

/**
 * The same-cell bigram of `volumes` as {@link CountRows}: row a lists the codes a cell held after holding a in the
 * frame before, ascending, with their counts (rows for all k codes).
 */
export function sameCellCounts(volumes: CodeVolume[], k: number): CountRows {
  const cells = transitionCells(volumes);
  const pairs = new Int32Array(cells * 2);
  let at = 0;
  for (const v of volumes) {
    const n = v.rows * v.cols;
    for (let i = n; i < v.frames * n; i++, at += 2) {
      pairs[at] = v.codes[i - n];
      pairs[at + 1] = v.codes[i];
    }
  }
  return sortedRowCounts(pairs, 2, sortRows(pairs, cells, 2, [0, 1], k), k).rows;
}

/**
 * Total, distinct codes and the count of `b` in row `a` (zeros for a < 0: no row), written into
 * out[at .. at + 3); with `leaveOneOut` one occurrence of (a, b) is first taken out when it was counted. Into an
 * array the caller keeps: the priors call this for every cell of every step.
 */
export function rowStatsInto(rows: CountRows, a: number, b: number, leaveOneOut: boolean, out: Float64Array, at: number): void {
  let total = 0;
  let pair = 0;
  let types = 0;
  if (a >= 0) {
    for (let j = rows.start[a]; j < rows.start[a + 1]; j++) {
      total += rows.count[j];
      if (rows.next[j] === b) pair = rows.count[j];
    }
    types = rows.start[a + 1] - rows.start[a];
    if (leaveOneOut && pair > 0) {
      total--;
      if (pair === 1) types--;
      pair--;
    }
  }
  out[at] = total;
  out[at + 1] = types;
  out[at + 2] = pair;
}

/**
 * Loads row `a` of `rows` into `pairs` (count by code; a < 0: no row) and returns its total, summed in
 * {@link rowStatsInto}' order so that what is computed from it equals what rowStatsInto gives bit for bit (its
 * distinct codes: {@link rowTypes}). Undo with {@link clearRow}.
 */
export function loadRow(rows: CountRows, a: number, pairs: Float64Array): number {
  if (a < 0) return 0;
  let total = 0;
  for (let j = rows.start[a]; j < rows.start[a + 1]; j++) {
    total += rows.count[j];
    pairs[rows.next[j]] = rows.count[j];
  }
  return total;
}

/** Distinct codes of row `a` (0 for a < 0: no row). */
export function rowTypes(rows: CountRows, a: number): number {
  return a < 0 ? 0 : rows.start[a + 1] - rows.start[a];
}

/**
 * Scratch lists of a prior's top search ({@link SparseBigram.topRowInto}): the counted rows' codes, and the codes
 * counted in no row in unigram order, before {@link mergeTop} makes one list of them.
 */
export class TopScratch {
  rowCodes = new Int32Array(0);
  rowVals = new Float64Array(0);
  restCodes = new Int32Array(0);
  restVals = new Float64Array(0);

  /** Room for lists of m entries, the rows' list (of rowM ≤ m) empty. */
  fit(m: number, rowM: number): this {
    if (this.rowCodes.length < m) {
      this.rowCodes = new Int32Array(m);
      this.rowVals = new Float64Array(m);
      this.restCodes = new Int32Array(m);
      this.restVals = new Float64Array(m);
    }
    this.rowCodes.fill(-1, 0, rowM);
    this.rowVals.fill(-Infinity, 0, rowM);
    return this;
  }

  /**
   * Once the rows' codes are in the rows' list (of rowM): the codes at unigram positions [0, min(m, k)) that no row
   * counted (zero in both pair arrays, which may be one array) have p = scale·u, so in that order their values do
   * not increase; merged with the rows' list into codes/values[base .. base + m).
   */
  merge(order: Int32Array, pairs: Float64Array, pairs2: Float64Array, p: (b: number) => number, rowM: number, codes: Int32Array, values: Float64Array, base: number, m: number): void {
    let nb = 0;
    for (let j = 0; j < Math.min(m, order.length); j++) {
      const b = order[j];
      if (pairs[b] === 0 && pairs2[b] === 0) {
        this.restCodes[nb] = b;
        this.restVals[nb++] = p(b);
      }
    }
    // a code in two rows took one slot: the list may end early
    let na = 0;
    while (na < rowM && this.rowCodes[na] !== -1) na++;
    mergeTop(this.rowCodes, this.rowVals, na, this.restCodes, this.restVals, nb, codes, values, base, m);
  }
}

/** Zeroes in `pairs` what {@link loadRow} put there for row `a`. */
export function clearRow(rows: CountRows, a: number, pairs: Float64Array): void {
  if (a < 0) return;
  for (let j = rows.start[a]; j < rows.start[a + 1]; j++) pairs[rows.next[j]] = 0;
}

/** Witten-Bell step with strength s: (c + s·T·lower) / (total + s·T); a context never seen leaves `lower`. */
export function wittenBell(total: number, types: number, pair: number, lower: number, s: number): number {
  if (total <= 0) return lower;
  const w = s * types;
  return (pair + w * lower) / (total + w);
}

/**
 * One Witten-Bell level (strength s) of row `a` applied to the distribution out[offset .. offset + k) over the
 * lower level: a row never seen (a < 0 or empty) leaves it. With `unigram`, the lower level is that unigram
 * (written first); without, it is what `out` holds.
 */
export function mixRow(rows: CountRows, a: number, s: number, out: Float32Array, offset: number, k: number, unigram: Float32Array | null): void {
  const from = a < 0 ? 0 : rows.start[a];
  const to = a < 0 ? 0 : rows.start[a + 1];
  if (to === from) {
    if (unigram) out.set(unigram, offset);
    return;
  }
  let total = 0;
  for (let j = from; j < to; j++) total += rows.count[j];
  const w = s * (to - from);
  const scale = w / (total + w);
  if (unigram) for (let b = 0; b < k; b++) out[offset + b] = scale * unigram[b];
  else for (let b = 0; b < k; b++) out[offset + b] *= scale;
  for (let j = from; j < to; j++) out[offset + rows.next[j]] += rows.count[j] / (total + w);
}

/**
 * Count rows read back from a model file for `contexts` contexts of k codes (E_FORMAT through `bad` when they
 * do not fit); `names` name the three arrays in the messages, `label` prefixes the entry message.
 */
export function readCountRows(
  start: StoredArray | undefined,
  next: StoredArray | undefined,
  count: StoredArray | undefined,
  contexts: number,
  k: number,
  names: { start: string; next: string; count: string; label: string },
  bad: (what: string) => never,
): CountRows {
  if (!(start instanceof Int32Array) || start.length !== contexts + 1) return bad(`${names.start} missing or not ${contexts + 1} int32`);
  if (!(next instanceof Int32Array) || !(count instanceof Float32Array) || next.length !== count.length) return bad(`${names.next}/${names.count} missing or of different lengths`);
  if (start[0] !== 0 || start[contexts] !== next.length) return bad(`${names.start} does not span ${names.next}`);
  for (let a = 0; a < contexts; a++) if (start[a + 1] < start[a]) return bad(`${names.start} decreases at ${a}`);
  for (let j = 0; j < next.length; j++) if (!(next[j] >= 0 && next[j] < k) || !(count[j] >= 1)) return bad(`${names.label}entry ${j} out of range`);
  return { start, next, count };
}

/** The add-½ unigram of every code of `volumes` (the lowest level of the counted priors), and its checks on reading. */
export function smoothedUnigram(volumes: CodeVolume[], k: number): Float32Array {
  const uni = new Float64Array(k);
  let cells = 0;
  for (const v of volumes) {
    for (let i = 0; i < v.codes.length; i++) uni[v.codes[i]]++;
    cells += v.codes.length;
  }
  return Float32Array.from(uni, (c) => (c + 0.5) / (cells + 0.5 * k));
}

/** A stored unigram of k positive floats, or E_FORMAT through `bad`. */
export function readUnigram(unigram: StoredArray | undefined, k: number, bad: (what: string) => never): Float32Array {
  if (!(unigram instanceof Float32Array) || unigram.length !== k) return bad(`unigram missing or not ${k} floats`);
  for (let b = 0; b < k; b++) if (!(unigram[b] > 0)) return bad(`unigram[${b}] not positive`);
  return unigram;
}

/**
 * The counted same-cell bigram p(b | a) of training codes, stored sparsely (only the pairs seen), so it costs
 * O(distinct pairs) memory at any K (a dense [K, K] table is 400 MB at K = 10,000). Smoothing is Witten-Bell
 * with an add-½ unigram (the direct connections' dense table is laid out from it): p(b | a) = (c(a, b) + T(a)·u(b)) / (c(a) + T(a)), T(a)
 * the number of distinct codes seen after a; a code never seen as a context falls back to u.
 *
 * `leaveOneOut` scores a pair as if it had not been counted: the probability a held-out copy of a training
 * pair would get. Training a mixture on the counts it was fitted on would otherwise teach the gates to trust
 * the counts more than they deserve on new frames.
 */
export class SparseBigram {
  private constructor(
    readonly k: number,
    /** Row a: the codes seen after a, with counts. */
    private readonly rows: CountRows,
    /** Smoothed unigram u, [k]. */
    private readonly unigram: Float32Array,
  ) {}

  /** Counts the pairs (frame t−1, frame t) of every cell of `volumes`. */
  static fit(volumes: CodeVolume[], k: number): SparseBigram {
    return new SparseBigram(k, sameCellCounts(volumes, k), smoothedUnigram(volumes, k));
  }

  /** Restores a table written by {@link SparseBigram.toArrays}; E_FORMAT when the arrays do not fit. */
  static fromArrays(arrays: Record<string, StoredArray>, k: number, prefix: string, source: string): SparseBigram {
    const bad = (what: string): never => {
      throw new VqvidError('E_FORMAT', `${source}: prior ${what}`, { source });
    };
    const get = (name: string) => arrays[`${prefix}${name}`];
    const rows = readCountRows(get('rowStart'), get('next'), get('count'), k, k, { start: 'rowStart', next: 'next', count: 'count', label: '' }, bad);
    return new SparseBigram(k, rows, readUnigram(get('unigram'), k, bad));
  }

  /** The table as named arrays for a model file. */
  toArrays(prefix: string): Record<string, StoredArray> {
    return { [`${prefix}rowStart`]: this.rows.start, [`${prefix}next`]: this.rows.next, [`${prefix}count`]: this.rows.count, [`${prefix}unigram`]: this.unigram };
  }

  /** p(b | a); with `leaveOneOut` the pair (a, b) is first taken out of the counts once. */
  prob(a: number, b: number, leaveOneOut = false): number {
    const s = this.statScratch;
    rowStatsInto(this.rows, a, b, leaveOneOut, s, 0);
    return wittenBell(s[0], s[1], s[2], this.unigram[b], 1);
  }

  /** {@link prob}'s [total, types, pair]. */
  private readonly statScratch = new Float64Array(3);

  /** Writes p(· | a) over all k codes into out[offset .. offset + k). */
  row(a: number, out: Float32Array, offset: number): void {
    mixRow(this.rows, a, 1, out, offset, this.k, this.unigram);
  }

  /**
   * The m largest p(· | a) as [codes, values], by value descending (ties: lower code first): a code never seen
   * after a has p = scale·u, so the best of them are among the m best of u.
   */
  topRow(a: number, m: number): { codes: Int32Array; values: Float64Array } {
    const codes = new Int32Array(m);
    const values = new Float64Array(m);
    this.topRowInto(a, m, codes, values, 0);
    return { codes, values };
  }

  /** {@link SparseBigram.topRow} written into codes/values[base .. base + m). */
  topRowInto(a: number, m: number, codes: Int32Array, values: Float64Array, base: number): void {
    const order = this.unigramOrder();
    const r = this.rows;
    const rowM = Math.min(m, rowTypes(r, a));
    const s = (this.topScratch ??= new TopScratch()).fit(m, rowM);
    const p = this.openRow(a);
    try {
      for (let j = r.start[a]; j < r.start[a + 1]; j++) offerTop(s.rowCodes, s.rowVals, 0, rowM, r.next[j], p(r.next[j]));
      const pairs = this.pairScratch!;
      s.merge(order, pairs, pairs, p, rowM, codes, values, base, m);
    } finally {
      this.closeRow();
    }
  }

  private topScratch: TopScratch | null = null;

  /**
   * Runs `fn` with p(· | a) as a function of the code (the same values as {@link prob}): the row is read once, so
   * each call of p is O(1) rather than a scan of the row. Not reentrant.
   */
  withRow<T>(a: number, fn: (p: (b: number) => number) => T): T {
    const p = this.openRow(a);
    try {
      return fn(p);
    } finally {
      this.closeRow();
    }
  }

  /**
   * {@link withRow} without the callback, for loops over many cells: reads row `a` and returns p(· | a), one
   * function per table (it reads the open row), valid until {@link closeRow}, which every open must be paired
   * with (try/finally). Allocates nothing. Not reentrant.
   */
  openRow(a: number): (b: number) => number {
    const o = this.open;
    if (o[0] === 1) fail('E_STATE', 'openRow', 'no row open (closeRow first)', 'an open row');
    const pairs = (this.pairScratch ??= new Float64Array(this.k));
    o[0] = 1;
    o[1] = a;
    this.openStats[0] = loadRow(this.rows, a, pairs);
    this.openStats[1] = rowTypes(this.rows, a);
    return this.rowP;
  }

  /** Ends an {@link openRow}: its count row is cleared from the scratch (a no-op when none is open). */
  closeRow(): void {
    const o = this.open;
    if (o[0] === 0) return;
    clearRow(this.rows, o[1], this.pairScratch!);
    o[0] = 0;
  }

  /** The row {@link openRow} read: [open (1) or not (0), context code] (typed: no field changes representation). */
  private readonly open = new Int32Array(2);

  /** The open row's [total, types]. */
  private readonly openStats = new Float64Array(2);

  /** p(b) of the open row: made once, so an open row allocates no closure. */
  private readonly rowP = (b: number): number => wittenBell(this.openStats[0], this.openStats[1], this.pairScratch![b], this.unigram[b], 1);

  /** Pair counts by code of the row {@link withRow} reads (zero outside it). */
  private pairScratch: Float64Array | null = null;

  private order: Int32Array | null = null;

  /** Codes by unigram probability descending (ties: lower code first), computed once. */
  private unigramOrder(): Int32Array {
    this.order ??= Int32Array.from({ length: this.k }, (_, i) => i).sort((x, y) => this.unigram[y] - this.unigram[x] || x - y);
    return this.order;
  }

  /** Number of distinct pairs stored. */
  get pairs(): number {
    return this.rows.next.length;
  }
}

