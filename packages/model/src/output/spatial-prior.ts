import { fail, goldenMin, transitionCells, VqvidError } from '@vqvid/core';
import type { CodeVolume, StoredArray } from '@vqvid/core';
import { type CountRows, clearRow, loadRow, mixRow, sameCellCounts, sortedRowCounts, sortRows, readCountRows, readUnigram, rowStatsInto, rowTypes, smoothedUnigram, TopScratch, wittenBell } from './prior';
import { offerTopOnce } from './top';

/**
 * Where the context of a spatial prior is read in the present frame, relative to the predicted cell: the cell
 * itself, then up, down, left, right (the order of `SpatialNgramModel` in @vqvid/baselines).
 */
export const SPATIAL_OFFSETS: ReadonlyArray<readonly [number, number]> = [
  [0, 0],
  [-1, 0],
  [1, 0],
  [0, -1],
  [0, 1],
];

/** Symbols per cell of a spatial context. */
export const SPATIAL_WIDTH = SPATIAL_OFFSETS.length;

/**
 * The spatial contexts of every cell of one or more stacked frames of a rows × cols grid: [cells, 5] row-major,
 * each row the cell's present code and its 4 neighbours' (K where the neighbour is outside the grid).
 * @example
 * ```ts
 * spatialContext(Int32Array.of(1, 2), 1, 2, 4); // [1, 4, 4, 4, 2,  2, 4, 4, 1, 4]
 * ```
 */
export function spatialContext(frames: ArrayLike<number>, rows: number, cols: number, k: number): Int32Array {
  const n = rows * cols;
  const out = new Int32Array(frames.length * SPATIAL_WIDTH);
  for (let base = 0; base < frames.length; base += n) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const at = (base + r * cols + c) * SPATIAL_WIDTH;
        // a plain loop (a callback here made a closure a cell: every frame predicted, every volume counted)
        for (let j = 0; j < SPATIAL_WIDTH; j++) {
          const rr = r + SPATIAL_OFFSETS[j][0];
          const cc = c + SPATIAL_OFFSETS[j][1];
          out[at + j] = rr < 0 || rr >= rows || cc < 0 || cc >= cols ? k : frames[base + rr * cols + cc];
        }
      }
    }
  }
  return out;
}

/** Lexicographic order of the `width` ints at a[i ..) and b[j ..): negative, zero or positive. */
function compareRows(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, width: number): number {
  for (let x = 0; x < width; x++) {
    const d = a[i + x] - b[j + x];
    if (d !== 0) return d;
  }
  return 0;
}

/** A 31-bit hash of the 5 codes ctx[at .. at + 5) (multiply-xorshift rounds). */
function hashContext(ctx: ArrayLike<number>, at: number): number {
  let h = 0x9e3779b9 | 0;
  for (let x = 0; x < SPATIAL_WIDTH; x++) {
    h = Math.imul(h ^ ctx[at + x], 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0x7fffffff;
}

/** Most training cells the strength search reads (every j-th cell, j fixed by the count). */
const TUNE_CELLS = 200_000;

/**
 * A counted spatio-temporal prior for a copy-aware output: p(b | the cell's present code and its 4 neighbours'),
 * the spatial n-gram of @vqvid/baselines as a mixture component. Back-off chain: full 5-code context →
 * same-cell bigram → add-½ unigram, each step Witten-Bell with strength s: p = (c + s·T·p_lower) / (total + s·T).
 * The two strengths are chosen at fit by the likelihood of held-out frames when given (as the baselines' tuned
 * n-grams choose theirs), else by leave-one-out likelihood of the training cells (each cell scored as if it had
 * not been counted: deleted estimation), golden-section on a log scale in [1/32, 1024], rounded to float32 so a
 * saved prior scores the same. Held-out frames are the better judge where a clip's later frames change faster
 * than its counted ones (tree.avi's pan: leave-one-out chose [1.5, 1.9], its validation frames [3.3, 2.8], 5.44 →
 * 5.18 test bits/code at K = 1024). Stored sparsely: O(distinct
 * contexts and pairs) memory at any K.
 *
 * On a static camera the exact 5-code contexts recur at the same places, so it learns each place's flicker,
 * which the network's shared weights and a same-cell bigram cannot.
 */
export class SpatialPrior {
  /** Symbols per cell of the context it reads (see {@link spatialContext}). */
  readonly width = SPATIAL_WIDTH;

  private constructor(
    readonly k: number,
    /** Smoothed unigram u, [k]. */
    private readonly unigram: Float32Array,
    /** Same-cell rows, one per present code. */
    private readonly bigram: CountRows,
    /** The distinct 5-code contexts, [contexts, 5], lexicographic. */
    private readonly contexts: Int32Array,
    /** Rows of the 5-code contexts, in `contexts` order. */
    private readonly spatial: CountRows,
    /** Witten-Bell strengths [bigram level, spatial level] (float32 values). */
    readonly strength: Float32Array,
  ) {}

  /**
   * Counts every cell of frames 1..T−1 of `volumes` against its context in the frame before, then chooses the
   * strengths (see the class note): on `heldOut` (codes not counted, each ≥ 2 frames) when given and not empty,
   * else by leave-one-out on the counted cells. `strength` skips the search.
   */
  static fit(volumes: CodeVolume[], k: number, strength?: readonly [number, number], heldOut: CodeVolume[] = []): SpatialPrior {
    const W = SPATIAL_WIDTH;
    const T = W + 1; // a counted cell: its 5-code context, then its next code
    const cells = transitionCells(volumes);
    const tuples = new Int32Array(cells * T);
    let at = 0;
    for (const v of volumes) {
      const n = v.rows * v.cols;
      for (let t = 1; t < v.frames; t++) {
        const ctx = spatialContext(v.codes.subarray((t - 1) * n, t * n), v.rows, v.cols, k);
        for (let i = 0; i < n; i++, at += T) {
          for (let j = 0; j < W; j++) tuples[at + j] = ctx[i * W + j];
          tuples[at + W] = v.codes[t * n + i];
        }
      }
    }
    // (context, next) tuples in lexicographic order: the distinct contexts come out sorted (so the stored prior
    // does not depend on the order frames were read, and a context is found by binary search), and each
    // context's next codes are adjacent and ascending, so its row of counts is read off in one pass
    const spatial = sortedRowCounts(tuples, T, sortRows(tuples, cells, T, Array.from({ length: T }, (_, x) => x), k));
    const prior = new SpatialPrior(k, smoothedUnigram(volumes, k), sameCellCounts(volumes, k), spatial.contexts, spatial.rows, Float32Array.from(strength ?? [1, 1]));
    if (strength === undefined) prior.tuneStrength(heldOut.length > 0 ? heldOut : volumes, heldOut.length > 0);
    return prior;
  }

  /** Restores a prior written by {@link SpatialPrior.toArrays}; E_FORMAT when the arrays do not fit. */
  static fromArrays(arrays: Record<string, StoredArray>, k: number, prefix: string, source: string): SpatialPrior {
    const bad = (what: string): never => {
      throw new VqvidError('E_FORMAT', `${source}: spatial prior ${what}`, { source });
    };
    const get = (name: string) => arrays[`${prefix}${name}`];
    const unigram = readUnigram(get('unigram'), k, bad);
    const strength = get('strength');
    const contexts = get('contexts');
    if (!(strength instanceof Float32Array) || strength.length !== 2 || !(strength[0] > 0) || !(strength[1] > 0)) return bad('strength missing or not 2 positive floats');
    if (!(contexts instanceof Int32Array) || contexts.length % SPATIAL_WIDTH !== 0) return bad(`contexts missing or not a multiple of ${SPATIAL_WIDTH} int32`);
    for (let i = 0; i < contexts.length; i++) {
      const top = i % SPATIAL_WIDTH === 0 ? k - 1 : k;
      if (!(contexts[i] >= 0 && contexts[i] <= top)) return bad(`contexts[${i}] out of range`);
    }
    // contexts are stored distinct and in increasing lexicographic order (the lookup finds one row per context)
    for (let r = 1; r < contexts.length / SPATIAL_WIDTH; r++) {
      if (compareRows(contexts, r * SPATIAL_WIDTH, contexts, (r - 1) * SPATIAL_WIDTH, SPATIAL_WIDTH) <= 0) return bad(`contexts not strictly increasing at row ${r}`);
    }
    const rows = (name: string, contextsCount: number): CountRows =>
      readCountRows(get(`${name}Start`), get(`${name}Next`), get(`${name}Count`), contextsCount, k, { start: `${name}Start`, next: `${name}Next`, count: `${name}Count`, label: `${name} ` }, bad);
    return new SpatialPrior(k, unigram, rows('bigram', k), contexts, rows('spatial', contexts.length / SPATIAL_WIDTH), strength);
  }

  /** The prior as named arrays for a model file. */
  toArrays(prefix: string): Record<string, StoredArray> {
    const p = prefix;
    return {
      [`${p}unigram`]: this.unigram,
      [`${p}strength`]: this.strength,
      [`${p}contexts`]: this.contexts,
      [`${p}bigramStart`]: this.bigram.start,
      [`${p}bigramNext`]: this.bigram.next,
      [`${p}bigramCount`]: this.bigram.count,
      [`${p}spatialStart`]: this.spatial.start,
      [`${p}spatialNext`]: this.spatial.next,
      [`${p}spatialCount`]: this.spatial.count,
    };
  }

  /** Number of distinct 5-code contexts counted. */
  get contextCount(): number {
    return this.contexts.length / SPATIAL_WIDTH;
  }

  /**
   * Row of the 5-code context ctx[at .. at + 5) (−1 when it was never counted): one probe of a hash index of the
   * contexts (built on first use) and a comparison, where a binary search of the sorted contexts took ~17 reads
   * spread over megabytes (a cache miss each, on every cell of every predicted frame).
   */
  private contextId(ctx: ArrayLike<number>, at: number): number {
    const index = (this.index ??= this.buildIndex());
    const mask = index.length - 1;
    for (let slot = hashContext(ctx, at) & mask; ; slot = (slot + 1) & mask) {
      const row = index[slot] - 1;
      if (row < 0 || compareRows(this.contexts, row * SPATIAL_WIDTH, ctx, at, SPATIAL_WIDTH) === 0) return row;
    }
  }

  /** Open-addressing hash index of the contexts: slot → row + 1 (0: empty), at most half full. */
  private index: Int32Array | null = null;

  private buildIndex(): Int32Array {
    const n = this.contextCount;
    let size = 2;
    while (size < 2 * n) size *= 2;
    const index = new Int32Array(size);
    for (let row = 0; row < n; row++) {
      let slot = hashContext(this.contexts, row * SPATIAL_WIDTH) & (size - 1);
      while (index[slot] !== 0) slot = (slot + 1) & (size - 1);
      index[slot] = row + 1;
    }
    return index;
  }

  /**
   * p(b | ctx[at .. at + 5)); with `leaveOneOut` the cell is first taken out of the counts of both levels once:
   * the probability a held-out copy of a counted cell would get (meant for the counted cells; at a level where
   * the pair was never counted nothing is taken out).
   */
  prob(ctx: ArrayLike<number>, at: number, b: number, leaveOneOut = false): number {
    const s = this.levelStats(ctx, at, b, leaveOneOut);
    return wittenBell(s[3], s[4], s[5], wittenBell(s[0], s[1], s[2], this.unigram[b], this.strength[0]), this.strength[1]);
  }

  /**
   * [total, types, pair] of the bigram level, then of the spatial level, after leave-one-out if asked: into a
   * scratch array (valid until the next call; no array made per cell).
   */
  private levelStats(ctx: ArrayLike<number>, at: number, b: number, leaveOneOut: boolean): Float64Array {
    const s = this.statScratch;
    rowStatsInto(this.bigram, ctx[at], b, leaveOneOut, s, 0);
    rowStatsInto(this.spatial, this.contextId(ctx, at), b, leaveOneOut, s, 3);
    return s;
  }

  /** {@link levelStats}' scratch. */
  private readonly statScratch = new Float64Array(6);

  /** Writes p(· | ctx[at .. at + 5)) over all k codes into out[offset .. offset + k). */
  row(ctx: ArrayLike<number>, at: number, out: Float32Array, offset: number): void {
    mixRow(this.bigram, ctx[at], this.strength[0], out, offset, this.k, this.unigram);
    mixRow(this.spatial, this.contextId(ctx, at), this.strength[1], out, offset, this.k, null);
  }

  /**
   * The m largest p(· | ctx[at .. at + 5)) as [codes, values], by value descending (ties: lower code first): a
   * code seen after neither context has p ∝ u, so the best of them are among the m best of u.
   */
  topRow(ctx: ArrayLike<number>, at: number, m: number): { codes: Int32Array; values: Float64Array } {
    const codes = new Int32Array(m);
    const values = new Float64Array(m);
    this.topRowInto(ctx, at, m, codes, values, 0);
    return { codes, values };
  }

  /** {@link SpatialPrior.topRow} written into codes/values[base .. base + m). */
  topRowInto(ctx: ArrayLike<number>, at: number, m: number, codes: Int32Array, values: Float64Array, base: number): void {
    const { bigram, spatial } = this;
    const p = this.openRow(ctx, at);
    try {
      const a = ctx[at];
      const id = this.open[2];
      // the rows' codes (a code may be in both): a list of their own
      const rowM = Math.min(m, rowTypes(bigram, a) + rowTypes(spatial, id));
      const s = (this.topScratch ??= new TopScratch()).fit(m, rowM);
      for (let j = bigram.start[a]; j < bigram.start[a + 1]; j++) offerTopOnce(s.rowCodes, s.rowVals, 0, rowM, bigram.next[j], p(bigram.next[j]));
      if (id >= 0) for (let j = spatial.start[id]; j < spatial.start[id + 1]; j++) offerTopOnce(s.rowCodes, s.rowVals, 0, rowM, spatial.next[j], p(spatial.next[j]));
      const scratch = this.pairScratch!;
      s.merge(this.unigramOrder(), scratch[0], scratch[1], p, rowM, codes, values, base, m);
    } finally {
      this.closeRow();
    }
  }

  private topScratch: TopScratch | null = null;

  /**
   * Runs `fn` with p(· | ctx[at .. at + 5)) as a function of the code (the same values as {@link prob}) and the
   * context's row (−1 when never counted): both count rows are read once, so each call of p is O(1) rather than
   * a scan of the rows (for the top-M search, which scores dozens of codes per cell). Not reentrant.
   */
  withRow<T>(ctx: ArrayLike<number>, at: number, fn: (p: (b: number) => number, id: number) => T): T {
    const p = this.openRow(ctx, at);
    try {
      return fn(p, this.open[2]);
    } finally {
      this.closeRow();
    }
  }

  /**
   * {@link withRow} without the callback, for loops over many cells: reads the rows of ctx[at .. at + 5) and
   * returns p(· | them), one function per prior (it reads the open rows), valid until {@link closeRow}, which
   * every open must be paired with (try/finally). Allocates nothing. Not reentrant.
   */
  openRow(ctx: ArrayLike<number>, at: number): (b: number) => number {
    const o = this.open;
    if (o[0] === 1) fail('E_STATE', 'openRow', 'no row open (closeRow first)', 'an open row');
    const scratch = (this.pairScratch ??= [new Float64Array(this.k), new Float64Array(this.k)]);
    const a = ctx[at];
    const id = this.contextId(ctx, at);
    o[0] = 1;
    o[1] = a;
    o[2] = id;
    const stats = this.openStats;
    stats[0] = loadRow(this.bigram, a, scratch[0]);
    stats[1] = rowTypes(this.bigram, a);
    stats[2] = loadRow(this.spatial, id, scratch[1]);
    stats[3] = rowTypes(this.spatial, id);
    return this.rowP;
  }

  /** Ends an {@link openRow}: its count rows are cleared from the scratch (a no-op when none is open). */
  closeRow(): void {
    const o = this.open;
    if (o[0] === 0) return;
    const scratch = this.pairScratch!;
    clearRow(this.bigram, o[1], scratch[0]);
    clearRow(this.spatial, o[2], scratch[1]);
    o[0] = 0;
  }

  /** The row {@link openRow} read: [open (1) or not (0), context code, context id] (typed: no field changes representation). */
  private readonly open = new Int32Array(3);

  /** Each level's total and types of the open row: [bigram total, bigram types, spatial total, spatial types]. */
  private readonly openStats = new Float64Array(4);

  /** p(b) of the open row: made once, so an open row allocates no closure. */
  private readonly rowP = (b: number): number => {
    const t = this.openStats;
    const scratch = this.pairScratch!;
    return wittenBell(t[2], t[3], scratch[1][b], wittenBell(t[0], t[1], scratch[0][b], this.unigram[b], this.strength[0]), this.strength[1]);
  };

  /** Pair counts by code of the two rows {@link withRow} reads (zero outside it). */
  private pairScratch: [Float64Array, Float64Array] | null = null;

  private order: Int32Array | null = null;

  private unigramOrder(): Int32Array {
    this.order ??= Int32Array.from({ length: this.k }, (_, i) => i).sort((x, y) => this.unigram[y] - this.unigram[x] || x - y);
    return this.order;
  }

  /**
   * Chooses both strengths by the likelihood of (a subsample of) the cells of `volumes`: held-out cells as they
   * are, or the counted cells leave-one-out.
   */
  private tuneStrength(volumes: CodeVolume[], heldOut: boolean): void {
    const total = transitionCells(volumes);
    if (total === 0) return;
    const every = Math.max(1, Math.ceil(total / TUNE_CELLS));
    const stats: number[] = [];
    let i = 0;
    for (const v of volumes) {
      const n = v.rows * v.cols;
      for (let t = 1; t < v.frames; t++) {
        const ctx = spatialContext(v.codes.subarray((t - 1) * n, t * n), v.rows, v.cols, this.k);
        for (let c = 0; c < n; c++, i++) {
          if (i % every !== 0) continue;
          const b = v.codes[t * n + c];
          stats.push(this.unigram[b], ...this.levelStats(ctx, c * SPATIAL_WIDTH, b, !heldOut));
        }
      }
    }
    const s = [1, 1];
    const nll = () => {
      let sum = 0;
      for (let j = 0; j < stats.length; j += 7) {
        sum -= Math.log(wittenBell(stats[j + 4], stats[j + 5], stats[j + 6], wittenBell(stats[j + 1], stats[j + 2], stats[j + 3], stats[j], s[0]), s[1]));
      }
      return sum;
    };
    for (let round = 0; round < 2; round++) {
      for (let l = 0; l < 2; l++) {
        s[l] = Math.exp(
          goldenMin(
            (u) => {
              s[l] = Math.exp(u);
              return nll();
            },
            Math.log(1 / 32),
            Math.log(1024),
            40,
          ),
        );
      }
    }
    this.strength[0] = Math.fround(s[0]);
    this.strength[1] = Math.fround(s[1]);
  }
}
