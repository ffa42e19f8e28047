import { VqvidError } from '@vqvid/core';
import type { CodeVolume, StoredArray } from '@vqvid/core';
import { offerTop, offerTopOnce } from './top';

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
    /** rowStart[a] .. rowStart[a+1]: the entries of context a in `next`/`count`. */
    private readonly rowStart: Int32Array,
    private readonly next: Int32Array,
    private readonly count: Float32Array,
    /** Smoothed unigram u, [k]. */
    private readonly unigram: Float32Array,
  ) {}

  /** Counts the pairs (frame t−1, frame t) of every cell of `volumes`. */
  static fit(volumes: CodeVolume[], k: number): SparseBigram {
    const rowTotal = new Int32Array(k + 1);
    const uni = new Float64Array(k);
    let cells = 0;
    const keyed = new Map<number, number>();
    for (const v of volumes) {
      const n = v.rows * v.cols;
      for (let i = 0; i < v.codes.length; i++) uni[v.codes[i]]++;
      cells += v.codes.length;
      for (let t = 1; t < v.frames; t++) {
        for (let i = 0; i < n; i++) {
          const key = v.codes[(t - 1) * n + i] * k + v.codes[t * n + i];
          keyed.set(key, (keyed.get(key) ?? 0) + 1);
        }
      }
    }
    const keys = Float64Array.from(keyed.keys()).sort();
    const rowStart = new Int32Array(k + 1);
    const next = new Int32Array(keys.length);
    const count = new Float32Array(keys.length);
    keys.forEach((key, j) => {
      const a = Math.floor(key / k);
      rowTotal[a + 1]++;
      next[j] = key - a * k;
      count[j] = keyed.get(key)!;
    });
    for (let a = 0; a < k; a++) rowStart[a + 1] = rowStart[a] + rowTotal[a + 1];
    const unigram = Float32Array.from(uni, (c) => (c + 0.5) / (cells + 0.5 * k));
    return new SparseBigram(k, rowStart, next, count, unigram);
  }

  /** Restores a table written by {@link SparseBigram.toArrays}; E_FORMAT when the arrays do not fit. */
  static fromArrays(arrays: Record<string, StoredArray>, k: number, prefix: string, source: string): SparseBigram {
    const bad = (what: string) => {
      throw new VqvidError('E_FORMAT', `${source}: prior ${what}`, { source });
    };
    const rowStart = arrays[`${prefix}rowStart`];
    const next = arrays[`${prefix}next`];
    const count = arrays[`${prefix}count`];
    const unigram = arrays[`${prefix}unigram`];
    if (!(rowStart instanceof Int32Array) || rowStart.length !== k + 1) return bad(`rowStart missing or not ${k + 1} int32`);
    if (!(next instanceof Int32Array) || !(count instanceof Float32Array) || next.length !== count.length) return bad('next/count missing or of different lengths');
    if (!(unigram instanceof Float32Array) || unigram.length !== k) return bad(`unigram missing or not ${k} floats`);
    if (rowStart[0] !== 0 || rowStart[k] !== next.length) return bad('rowStart does not span next');
    for (let a = 0; a < k; a++) if (rowStart[a + 1] < rowStart[a]) return bad(`rowStart decreases at ${a}`);
    for (let j = 0; j < next.length; j++) {
      if (!(next[j] >= 0 && next[j] < k) || !(count[j] >= 1)) return bad(`entry ${j} out of range`);
    }
    for (let b = 0; b < k; b++) if (!(unigram[b] > 0)) return bad(`unigram[${b}] not positive`);
    return new SparseBigram(k, rowStart, next, count, unigram);
  }

  /** The table as named arrays for a model file. */
  toArrays(prefix: string): Record<string, StoredArray> {
    return { [`${prefix}rowStart`]: this.rowStart, [`${prefix}next`]: this.next, [`${prefix}count`]: this.count, [`${prefix}unigram`]: this.unigram };
  }

  /** p(b | a); with `leaveOneOut` the pair (a, b) is first taken out of the counts once. */
  prob(a: number, b: number, leaveOneOut = false): number {
    const s = this.rowStart[a];
    const e = this.rowStart[a + 1];
    let total = 0;
    let pair = 0;
    for (let j = s; j < e; j++) {
      total += this.count[j];
      if (this.next[j] === b) pair = this.count[j];
    }
    let types = e - s;
    if (leaveOneOut && pair > 0) {
      total--;
      if (pair === 1) types--;
      pair--;
    }
    if (total <= 0) return this.unigram[b];
    return (pair + types * this.unigram[b]) / (total + types);
  }

  /** Writes p(· | a) over all k codes into out[offset .. offset + k). */
  row(a: number, out: Float32Array, offset: number): void {
    const s = this.rowStart[a];
    const e = this.rowStart[a + 1];
    let total = 0;
    for (let j = s; j < e; j++) total += this.count[j];
    const types = e - s;
    if (total === 0) {
      out.set(this.unigram, offset);
      return;
    }
    const scale = types / (total + types);
    for (let b = 0; b < this.k; b++) out[offset + b] = scale * this.unigram[b];
    for (let j = s; j < e; j++) out[offset + this.next[j]] += this.count[j] / (total + types);
  }

  /**
   * The m largest p(· | a) as [codes, values], by value descending (ties: lower code first): a code never seen
   * after a has p = scale·u, so the best of them are among the m best of u.
   */
  topRow(a: number, m: number): { codes: Int32Array; values: Float64Array } {
    const codes = new Int32Array(m).fill(-1);
    const values = new Float64Array(m).fill(-Infinity);
    const order = this.unigramOrder();
    const s = this.rowStart[a];
    const e = this.rowStart[a + 1];
    for (let j = s; j < e; j++) offerTop(codes, values, 0, m, this.next[j], this.prob(a, this.next[j]));
    for (let j = 0; j < Math.min(m, this.k); j++) offerTopOnce(codes, values, 0, m, order[j], this.prob(a, order[j]));
    return { codes, values };
  }

  private order: Int32Array | null = null;

  /** Codes by unigram probability descending (ties: lower code first), computed once. */
  private unigramOrder(): Int32Array {
    this.order ??= Int32Array.from({ length: this.k }, (_, i) => i).sort((x, y) => this.unigram[y] - this.unigram[x] || x - y);
    return this.order;
  }

  /** Number of distinct pairs stored. */
  get pairs(): number {
    return this.next.length;
  }
}

