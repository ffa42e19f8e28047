/** Int32 array that grows by doubling; `fill` is the value of never-written slots. */
class GrowableInt32 {
  data: Int32Array;
  constructor(private readonly fill: number, capacity = 1024) {
    this.data = new Int32Array(capacity).fill(fill);
  }

  /** Makes index `i` addressable. */
  reserve(i: number): void {
    if (i < this.data.length) return;
    let n = this.data.length;
    while (n <= i) n *= 2;
    const next = new Int32Array(n).fill(this.fill);
    next.set(this.data);
    this.data = next;
  }
}

/**
 * Sparse counts of (context, code) pairs for every prefix length of a context, with numeric keys only.
 * Contexts are interned as a trie: the id of a one-symbol prefix is the symbol itself (< K), a longer
 * prefix gets a fresh id ≥ K from Map(parentId·(K+1) + symbol). Ids are unique across lengths, so one set
 * of per-context arrays serves every back-off level. Pairs live in flat arrays, found through
 * Map(contextId·K + code) and chained per context for enumeration. Keys stay below 2^53 for K ≤ 2^20 and
 * fewer than 2^32 distinct contexts.
 */
export class SparseCounts {
  private readonly trie = new Map<number, number>();
  private nextId: number;
  private readonly total = new GrowableInt32(0);
  private readonly head = new GrowableInt32(-1);
  private readonly types = new GrowableInt32(0);
  private readonly pairs = new Map<number, number>();
  private readonly pairCount = new GrowableInt32(0);
  private readonly pairCode = new GrowableInt32(0);
  private readonly pairNext = new GrowableInt32(-1);
  private nPairs = 0;

  constructor(private readonly k: number) {
    this.nextId = k;
  }

  /**
   * Ids of the prefixes of `ctx` of the lengths in `lengths` (ascending), written to `out`; −1 for a prefix
   * never interned. With `insert`, missing prefixes are interned.
   */
  prefixIds(ctx: ArrayLike<number>, lengths: readonly number[], insert: boolean, out: number[]): void {
    let id = ctx.length > 0 ? ctx[0] : -1;
    let depth = 1;
    for (let l = 0; l < lengths.length; l++) {
      for (; depth < lengths[l] && id >= 0; depth++) id = this.child(id, ctx[depth], insert);
      out[l] = id;
    }
  }

  private child(parent: number, symbol: number, insert: boolean): number {
    const key = parent * (this.k + 1) + symbol;
    const hit = this.trie.get(key);
    if (hit !== undefined || !insert) return hit ?? -1;
    const id = this.nextId++;
    this.trie.set(key, id);
    return id;
  }

  /** Adds one occurrence of `code` after context `id`. */
  add(id: number, code: number): void {
    this.total.reserve(id);
    this.head.reserve(id);
    this.types.reserve(id);
    this.total.data[id]++;
    const key = id * this.k + code;
    const p = this.pairs.get(key);
    if (p !== undefined) {
      this.pairCount.data[p]++;
      return;
    }
    const q = this.nPairs++;
    for (const a of [this.pairCount, this.pairCode, this.pairNext]) a.reserve(q);
    this.pairs.set(key, q);
    this.pairCount.data[q] = 1;
    this.pairCode.data[q] = code;
    this.pairNext.data[q] = this.head.data[id];
    this.head.data[id] = q;
    this.types.data[id]++;
  }

  /** Times context `id` was seen (0 when unseen or id < 0). */
  contextTotal(id: number): number {
    return id >= 0 && id < this.total.data.length ? this.total.data[id] : 0;
  }

  /** Distinct codes seen after context `id`. */
  contextTypes(id: number): number {
    return this.types.data[id];
  }

  /** Count of `code` after context `id`. */
  pair(id: number, code: number): number {
    const p = this.pairs.get(id * this.k + code);
    return p === undefined ? 0 : this.pairCount.data[p];
  }

  /** Calls visit(code, count) for every code seen after context `id`. */
  forEachPair(id: number, visit: (code: number, count: number) => void): void {
    for (let p = this.head.data[id]; p >= 0; p = this.pairNext.data[p]) visit(this.pairCode.data[p], this.pairCount.data[p]);
  }
}
