/**
 * Adaptive integer frequencies over n symbols in a Fenwick tree: O(log n) cumulative counts, updates and
 * symbol search, with halving when the total passes a limit (so recent symbols weigh more and totals stay
 * small for the range coder).
 */
export class AdaptiveFrequencies {
  // int32: every count and partial sum stays below the limit plus one increment (callers keep that < 2^31)
  private readonly tree: Int32Array;
  private readonly counts: Int32Array;
  total = 0;
  private readonly topBit: number;

  /**
   * @param n number of symbols.
   * @param initial starting count of every symbol (0 allowed: such a symbol must not be coded until counted).
   * @param limit halve every count (rounding up nonzero ones) when the total exceeds this.
   */
  constructor(readonly n: number, initial: number, private readonly limit: number) {
    this.tree = new Int32Array(n + 1);
    this.counts = new Int32Array(n).fill(initial);
    this.topBit = 2 ** Math.floor(Math.log2(Math.max(1, n)));
    this.rebuild();
  }

  private rebuild(): void {
    this.tree.fill(0);
    this.total = 0;
    for (let i = 0; i < this.n; i++) {
      this.total += this.counts[i];
      for (let j = i + 1; j <= this.n; j += j & -j) this.tree[j] += this.counts[i];
    }
  }

  /** Count of symbol s. */
  freq(s: number): number {
    return this.counts[s];
  }

  /** Sum of the counts of symbols below s. */
  cum(s: number): number {
    let sum = 0;
    for (let j = s; j > 0; j -= j & -j) sum += this.tree[j];
    return sum;
  }

  /** The symbol s with cum(s) ≤ target < cum(s) + freq(s), for 0 ≤ target < total. */
  find(target: number): number {
    let pos = 0;
    let rest = target;
    for (let step = this.topBit; step > 0; step = Math.floor(step / 2)) {
      const next = pos + step;
      if (next <= this.n && this.tree[next] <= rest) {
        pos = next;
        rest -= this.tree[next];
      }
    }
    return pos; // symbols are 0-based: the largest prefix ≤ target ends right before symbol `pos`
  }

  /** Adds `by` to symbol s's count, halving everything when the total passes the limit. */
  add(s: number, by: number): void {
    this.counts[s] += by;
    this.total += by;
    for (let j = s + 1; j <= this.n; j += j & -j) this.tree[j] += by;
    if (this.total > this.limit) {
      for (let i = 0; i < this.n; i++) this.counts[i] = Math.ceil(this.counts[i] / 2);
      this.rebuild();
    }
  }
}
