import * as tf from '@tensorflow/tfjs-core';
import { fail, Rng } from '@vqvid/core';
import type { ClassAssignment } from './classes';
import {
  type OutputLayer,
  allZero,
  checkDirectTable,
  checkHidden,
  checkPresent,
  checkTargets,
  logits,
  pickedLogProb,
  randomVariable,
  zeroVariable,
} from './layer';
import { valuesInPlace } from '../kernels';
import { fusedMemberHeap, fusedMemberLogProb } from './member';
import { emptyLogCandidates, type ExtraCodes, type LogCandidates, offerTop, type SearchMemo, type TopSource } from './top';

/** Classes a cell visits in the first round of {@link FactoredSoftmax.logCandidates} (doubling each round after). */
const FIRST_CLASSES = 4;

/**
 * What one tfjs op chain costs in {@link FactoredSoftmax.logProb}, as (row, member) pairs of arithmetic: classes
 * whose rows are next to each other are scored together when the pairs this wastes cost less than the ops it
 * saves (about 17 small ops forward and backward per group since the chosen logit is read from the group's own
 * logits ({@link pickedLogProb}), some 30 µs each on wasm, against some 40 ns per pair). Measured on vtest codes
 * at K = 10,000 (100 classes), one factored layer's step at 2,048 and 4,096 rows: 12,288 was 1–1.5 ms faster than
 * 24,576 and than 3,072, and within noise of 6,144.
 */
export const MERGE_PAIRS = 12_288;

/**
 * A run of consecutive active classes scored with one product: rows [row, row + rows) of the grouped batch against
 * permuted columns [col, col + cols), every row's columns outside its own class masked to −∞ (`mask`, row-major
 * [rows, cols]; null when the run is one class and its columns are exactly that class's).
 */
export interface ClassRun {
  /** Index into `active` of the run's first class, and the number of active classes in it. */
  first: number;
  classes: number;
  row: number;
  rows: number;
  col: number;
  cols: number;
  mask: Float32Array | null;
}

/**
 * Cuts the active classes (ascending, `counts` rows each, class c's permuted columns [starts[c], starts[c] +
 * sizes[c])) into runs of consecutive ones that minimise Σ (mergePairs + rows·cols), by dynamic programming over
 * the cut points. mergePairs = 0 gives one run per class (merging only ever adds pairs).
 */
export function planClassRuns(active: number[], counts: number[], starts: number[], sizes: number[], mergePairs: number): ClassRun[] {
  const a = active.length;
  const rowsBefore = new Float64Array(a + 1);
  for (let i = 0; i < a; i++) rowsBefore[i + 1] = rowsBefore[i] + counts[i];
  const best = new Float64Array(a + 1).fill(Infinity);
  const from = new Int32Array(a + 1);
  best[0] = 0;
  for (let j = 1; j <= a; j++) {
    const end = starts[active[j - 1]] + sizes[active[j - 1]];
    for (let i = j - 1; i >= 0; i--) {
      const cost = best[i] + mergePairs + (rowsBefore[j] - rowsBefore[i]) * (end - starts[active[i]]);
      if (cost < best[j]) {
        best[j] = cost;
        from[j] = i;
      }
    }
  }
  const runs: ClassRun[] = [];
  for (let j = a; j > 0; j = from[j]) {
    const i = from[j];
    const col = starts[active[i]];
    const cols = starts[active[j - 1]] + sizes[active[j - 1]] - col;
    const rows = rowsBefore[j] - rowsBefore[i];
    let mask: Float32Array | null = null;
    if (j - i > 1 || cols !== sizes[active[i]]) {
      mask = new Float32Array(rows * cols).fill(-Infinity);
      for (let c = i, r = 0; c < j; c++) {
        const own = starts[active[c]] - col;
        for (let e = 0; e < counts[c]; e++, r++) mask.fill(0, r * cols + own, r * cols + own + sizes[active[c]]);
      }
    }
    runs.push({ first: i, classes: j - i, row: rowsBefore[i], rows, col, cols, mask });
  }
  return runs.reverse();
}

/** Rows of a batch grouped by the class of their target (a stable counting sort done in JS). */
interface Grouping {
  /** order[j] = original row of the j-th sorted row. */
  order: Int32Array;
  /** inverse[i] = sorted position of original row i. */
  inverse: Int32Array;
  /** Classes that occur, ascending, and how many rows each has (sum = n). */
  active: number[];
  counts: number[];
}

/**
 * Class-factored softmax (Goodman 2001; Mikolov et al. 2011): p(x | h) = p(c(x) | h) · p(x | c(x), h), the
 * second factor a softmax over the members of c(x) only. Member weights are one [hidden, K] matrix whose
 * columns are permuted so each class's members are contiguous, so a class's slice is one `tf.split` part.
 * `logProb` costs O(n·(C + largest class)·hidden) plus O(K·hidden) for splitting the weights. It scores classes
 * with few rows together, masked to each row's own members, in runs ({@link planClassRuns}): fewer tfjs ops, and
 * the values of one product per class up to float rounding (the normaliser's softmax sums a row in SIMD lanes, and
 * masked columns move members between lanes). On the wasm backend (without direct connections, hidden a multiple
 * of 4) the members are scored by fused SIMD kernels instead ({@link fusedMemberLogProb}): each class's rows against
 * its columns where they lie, one op for the batch, a cost that scales with the (row, member) pairs alone.
 * With direct connections both levels get a learned table entry for (present code, output): Dc [K, C] on
 * the class logits and Dx [K, K] (columns permuted like Wx) on the member logits, zero at the start; a
 * training step reads only the Dx entries of each row's target class.
 */
export class FactoredSoftmax implements OutputLayer, TopSource {
  readonly kind = 'factored' as const;
  readonly variables: tf.Variable[];
  /** Class weights [hidden, C] and biases [C]. */
  private readonly wc: tf.Variable;
  private readonly bc: tf.Variable;
  /** Member weights [hidden, K] and biases [K], in permuted (class-contiguous) column order. */
  private readonly wx: tf.Variable;
  private readonly bx: tf.Variable;
  /** column[x] = column of code x in the permuted matrices. */
  private readonly column: Int32Array;
  /** classOfColumn[j] = class of the code in permuted column j. */
  private readonly classOfColumn: Int32Array;
  private readonly sizes: number[];
  /** First permuted column of each class. */
  private readonly starts: number[];
  /** Direct tables (present code → class logits, → member logits), when direct. */
  private readonly dc: tf.Variable | null;
  private readonly dx: tf.Variable | null;
  /** Wx and bx split by class for {@link FactoredSoftmax.logCandidates}, with the dataIds they were split from. */
  private partsCache: { w: object; b: object; wParts: tf.Tensor2D[]; bParts: tf.Tensor1D[] } | null = null;
  /** Rows of h gathered by class for {@link FactoredSoftmax.logCandidates}, reused between calls (tens of MB a frame). */
  private rowScratch = new Float32Array(0);

  constructor(
    readonly k: number,
    readonly hidden: number,
    seed: number,
    private readonly classes: ClassAssignment,
    readonly direct = false,
    /** See {@link MERGE_PAIRS}; 0 scores every class of a batch with its own product (for tests). */
    private readonly mergePairs = MERGE_PAIRS,
    /**
     * Score the members with the fused kernels ({@link fusedMemberLogProb}) where they can run (the wasm backend,
     * no direct connections); false keeps the tfjs products in runs everywhere (for tests).
     */
    private readonly fused = true,
  ) {
    this.sizes = classes.members.map((m) => m.length);
    this.starts = [];
    this.sizes.reduce((at, size) => (this.starts.push(at), at + size), 0);
    this.column = new Int32Array(k);
    this.classOfColumn = new Int32Array(k);
    let j = 0;
    classes.members.forEach((members, c) => {
      for (const code of members) {
        this.column[code] = j;
        this.classOfColumn[j++] = c;
      }
    });
    const rng = new Rng(seed);
    this.wc = randomVariable(rng, hidden, this.sizes.length);
    this.bc = zeroVariable(this.sizes.length);
    this.wx = randomVariable(rng, hidden, k);
    this.bx = zeroVariable(k);
    this.dc = direct ? zeroVariable(k, this.sizes.length) : null;
    this.dx = direct ? zeroVariable(k, k) : null;
    this.variables = [this.wc, this.bc, this.wx, this.bx, ...(direct ? [this.dc!, this.dx!] : [])];
  }

  logProb(h: tf.Tensor2D, targets: tf.Tensor1D, present?: tf.Tensor1D): tf.Tensor1D {
    const n = checkHidden(h, this.hidden);
    const t = checkTargets(targets, n, this.k);
    const p = checkPresent(present, this.direct, n, this.k);
    const g = this.group(t);
    // index loops, not Int32Array.from with a map (an iterator step a target, every training step)
    const sortedColumn = new Int32Array(n);
    for (let j = 0; j < n; j++) sortedColumn[j] = this.column[t[g.order[j]]];
    const targetClass = new Int32Array(n);
    for (let j = 0; j < n; j++) targetClass[j] = this.classes.classOf[t[j]];
    return tf.tidy(() => {
      const [wc, bc, wx, bx] = this.weights();
      let classZ = logits(h, wc, bc);
      if (p) classZ = tf.add(classZ, tf.gather(this.dc!, present!));
      // the chosen logits are read from the logits (pickedLogProb): no gather of weight columns, nor its gradient
      const classPart = pickedLogProb(classZ, targetClass);
      const hs = tf.gather(h, tf.tensor1d(g.order, 'int32'));
      const heap = this.fused && !p ? fusedMemberHeap(this.hidden) : null;
      if (heap) {
        const own = new Int32Array(n);
        let row = 0;
        g.active.forEach((c, a) => {
          for (let j = row; j < row + g.counts[a]; j++) own[j] = sortedColumn[j] - this.starts[c];
          row += g.counts[a];
        });
        const within = fusedMemberLogProb(heap, hs, wx, bx, { active: g.active, counts: g.counts, starts: this.starts, sizes: this.sizes, own });
        if (within) return tf.add(classPart, tf.gather(within, tf.tensor1d(g.inverse, 'int32'))) as tf.Tensor1D;
      }
      // runs of classes scored together, each class's rows masked to its own members (see planClassRuns)
      const runs = planClassRuns(g.active, g.counts, this.starts, this.sizes, this.mergePairs);
      // split (not slice): its gradient is one concat, where each slice's would be a full-size pad.
      const hParts = (runs.length > 1 ? tf.split(hs, runs.map((r) => r.rows)) : [hs]) as tf.Tensor2D[];
      // Wx and bx cut at the runs' column ranges (and the gaps between them, classes no row is in)
      const cuts: number[] = [];
      const piece: number[] = [];
      let at = 0;
      for (const r of runs) {
        if (r.col > at) cuts.push(r.col - at);
        piece.push(cuts.length);
        cuts.push(r.cols);
        at = r.col + r.cols;
      }
      if (at < this.k) cuts.push(this.k - at);
      const wParts = (cuts.length > 1 ? tf.split(wx, cuts, 1) : [wx]) as tf.Tensor2D[];
      const bParts = (cuts.length > 1 ? tf.split(bx, cuts) : [bx]) as tf.Tensor1D[];
      const dParts = p ? this.directParts(p, g.order, runs) : null;
      const parts = runs.map((r, i) => {
        // each row's target among the run's columns (its own class's, never masked); + 0 leaves a member's logit as
        // it is, exp(−∞) = 0 adds nothing to the sum nor to any gradient
        const own = new Int32Array(r.rows);
        for (let j = 0; j < r.rows; j++) own[j] = sortedColumn[r.row + j] - r.col;
        let z = logits(hParts[i], wParts[piece[i]], bParts[piece[i]]);
        if (dParts) z = tf.add(z, dParts[i]);
        if (r.mask) z = tf.add(z, tf.tensor2d(r.mask, [r.rows, r.cols]));
        return pickedLogProb(z, own);
      });
      const within = parts.length > 1 ? tf.concat(parts) : parts[0];
      return tf.add(classPart, tf.gather(within, tf.tensor1d(g.inverse, 'int32'))) as tf.Tensor1D;
    });
  }

  logProbsAll(h: tf.Tensor2D, present?: tf.Tensor1D): tf.Tensor2D {
    const n = checkHidden(h, this.hidden);
    const p = checkPresent(present, this.direct, n, this.k);
    return tf.tidy(() => {
      const [wc, bc, wx, bx] = this.weights();
      let classZ = logits(h, wc, bc);
      let memberZ = logits(h, wx, bx);
      if (p) {
        classZ = tf.add(classZ, tf.gather(this.dc!, present!));
        memberZ = tf.add(memberZ, tf.gather(this.dx!, present!));
      }
      const classLp = tf.logSoftmax(classZ);
      const parts = (tf.split(memberZ, this.sizes, 1) as tf.Tensor2D[]).map((z) => tf.logSoftmax(z));
      const within = parts.length > 1 ? tf.concat(parts, 1) : parts[0];
      const permuted = tf.add(within, tf.gather(classLp, tf.tensor1d(this.classOfColumn, 'int32'), 1));
      return tf.gather(permuted, tf.tensor1d(this.column, 'int32'), 1) as tf.Tensor2D;
    });
  }

  /**
   * Each cell's m codes of highest ln q without scoring all K: classes are visited in decreasing p(class), a
   * few per round (and the classes of the extra codes in the first), and within a visited class every member is
   * scored exactly (its own ln Σ exp). Since q(x) ≤ p(class of x), a cell is done once its m-th best ln q is at least
   * ln p of every class it has not visited: the list is then exact. `classBeam` (opt-in approximation) stops a
   * cell after that many classes; its list is then the best of the visited classes, marked not exact. With
   * `floor`, a cell also stops once ln p of every class it has not visited is at most floor[i] (a mixture needs
   * no code below it); its bound is then that class's ln p. Null with direct connections (their member tables
   * would need a gather per visited class; use logProbsAll).
   */
  logCandidates(h: tf.Tensor2D, present: tf.Tensor1D | undefined, m: number, extras: ExtraCodes, classBeam = Infinity, floor?: Float64Array, memo?: SearchMemo): LogCandidates | null {
    const n = checkHidden(h, this.hidden);
    checkPresent(present, this.direct, n, this.k);
    if (floor !== undefined && floor.length !== n) fail('E_SHAPE', 'floor', `one ln q per cell (${n})`, floor.length);
    if (memo !== undefined && memo.cells.length !== n) fail('E_SHAPE', 'memo.cells', `one cell per row of h (${n})`, memo.cells.length);
    if (this.direct) return null;
    const nc = this.sizes.length;
    const lcT = tf.tidy(() => tf.logSoftmax(logits(h, this.wc as tf.Tensor2D, this.bc as tf.Tensor1D)));
    const lc = lcT.dataSync() as Float32Array;
    lcT.dispose();
    const out = emptyLogCandidates(n, m, extras.codes.length);
    const visited = new Uint8Array(n * nc);
    const visits = new Int32Array(n);
    const { classOf, members } = this.classes;
    // a cell that goes on past the first round gets its classes sorted by ln p (most stop before: a few scans are
    // cheaper), then walks them: `passed` counts the sorted classes it is past
    const order = new Int32Array(n * nc);
    const sorted = new Uint8Array(n);
    const keys = new Float64Array(nc);
    const lcBits = new Uint32Array(lc.buffer, lc.byteOffset, lc.length);
    const passed = new Int32Array(n);
    // the cell's best class not visited yet (−1 when none is left); ties: the lower class
    const nextClass = (i: number): number => {
      if (!sorted[i]) {
        let best = -1;
        for (let c = 0; c < nc; c++) if (!visited[i * nc + c] && (best < 0 || lc[i * nc + c] > lc[i * nc + best])) best = c;
        return best;
      }
      while (passed[i] < nc && visited[i * nc + order[i * nc + passed[i]]]) passed[i]++;
      return passed[i] < nc ? order[i * nc + passed[i]] : -1;
    };
    // best ln p(class) among the classes a cell has not visited (−∞ when none is left)
    const bestUnvisited = (i: number): number => {
      const c = nextClass(i);
      return c < 0 ? -Infinity : lc[i * nc + c];
    };
    // each cell's extra codes chained by class: firstExtra[i·nc + c], then nextExtra[e] (−1 ends a chain)
    const firstExtra = new Int32Array(n * nc).fill(-1);
    const nextExtra = new Int32Array(extras.codes.length);
    for (let i = 0; i < n; i++) {
      for (let e = extras.start[i + 1] - 1; e >= extras.start[i]; e--) {
        const slot = i * nc + classOf[extras.codes[e]];
        nextExtra[e] = firstExtra[slot];
        firstExtra[slot] = e;
      }
    }
    const [wParts, bParts] = this.memberParts();
    const scored = memo ? this.scoredOf(memo) : null;
    // the rows of h are gathered in JS (a copy per pair): wasm's GatherV2 costs ~40 ns per value
    const hData = h.dataSync() as Float32Array;
    let pending = Int32Array.from({ length: n }, (_, i) => i);
    for (let round = 0, width = FIRST_CLASSES; pending.length > 0; round++, width *= 2) {
      // (cell, class) pairs of this round
      const pairCell: number[] = [];
      const pairClass: number[] = [];
      const visit = (i: number, c: number): void => {
        if (visited[i * nc + c]) return;
        visited[i * nc + c] = 1;
        visits[i]++;
        pairCell.push(i);
        pairClass.push(c);
      };
      for (const i of pending) {
        if (round > 0 && !sorted[i]) {
          sortClasses(lcBits, i, nc, keys, order);
          sorted[i] = 1;
        }
        const budget = Math.max(1, Math.min(width, classBeam - visits[i]));
        // q(x) ≤ p(class) and the list's m-th only rises: a class below it now adds nothing, nor does any after it
        // (they come in decreasing ln p)
        const mth = out.logq[i * m + m - 1];
        for (let b = 0; b < budget && visits[i] < nc; b++) {
          const c = nextClass(i);
          if (lc[i * nc + c] < mth) break;
          visit(i, c);
        }
        // the extra codes' classes after the best ones (beyond the beam: their codes' ln q is needed)
        if (round === 0) for (let e = extras.start[i]; e < extras.start[i + 1]; e++) visit(i, classOf[extras.codes[e]]);
      }
      this.scorePairs(hData, pairCell, pairClass, wParts, bParts, scored, memo?.cells, (i, c, z, p, at, slot) => {
        const size = this.sizes[c];
        const last = i * m + m - 1;
        // q(x) ≤ p(class): a class below a full list's m-th adds nothing, unless it holds an extra code
        if (lc[i * nc + c] < out.logq[last] && firstExtra[i * nc + c] < 0) return;
        // ln Σ exp from the class's softmax (the backend's) and the largest logit, or as an earlier search with the
        // memo found them
        let lse = scored && slot >= 0 ? scored.lse[slot] : NaN;
        let largest: number;
        if (Number.isNaN(lse)) {
          lse = classLse(z, p, at, size, LARGEST);
          largest = LARGEST[0];
          if (scored && slot >= 0) {
            scored.lse[slot] = lse;
            scored.largest[slot] = largest;
          }
        } else largest = scored!.largest[slot];
        const shift = lc[i * nc + c] - lse;
        const list = members[c];
        // most members do not make the list: one compare with the list's m-th before the call, and none at all when
        // the largest logit's ln q (the same sum as in the loop, so every member's is at most it) is below the m-th
        let worst = out.logq[last];
        if (largest + shift >= worst) {
          for (let j = 0; j < size; j++) {
            const v = z[at + j] + shift;
            if (v >= worst) {
              offerTop(out.codes, out.logq, i * m, m, list[j], v);
              worst = out.logq[last];
            }
          }
        }
        for (let e = firstExtra[i * nc + c]; e >= 0; e = nextExtra[e]) out.extraLogq[e] = z[at + this.column[extras.codes[e]] - this.starts[c]] + shift;
      });
      const next: number[] = [];
      for (const i of pending) {
        const unvisited = bestUnvisited(i);
        const mth = out.logq[i * m + m - 1];
        out.bound[i] = Math.max(mth, unvisited);
        // q(x) ≤ p(class of x): no code of an unvisited class can enter the list
        if (visits[i] === nc || mth >= unvisited || (floor !== undefined && unvisited <= floor[i])) continue;
        // the beam stops a cell only once its list is full
        if (visits[i] >= classBeam && mth > -Infinity) {
          out.exact[i] = 0;
          continue;
        }
        next.push(i);
      }
      pending = Int32Array.from(next);
    }
    out.classesVisited = visits;
    return out;
  }

  /** The member logits (and ln Σ exp) of the (cell, class) pairs scored by earlier searches with this memo. */
  private scoredOf(memo: SearchMemo): ScoredPairs {
    const nc = this.sizes.length;
    let s = memo.kept as ScoredPairs | undefined;
    if (!(s instanceof ScoredPairs) || s.w !== this.wx.dataId || s.b !== this.bx.dataId || s.classes !== nc) {
      if (s instanceof ScoredPairs) s.dispose();
      const kept = new ScoredPairs(this.wx.dataId, this.bx.dataId, nc);
      s = kept;
      memo.kept = kept;
      memo.release = () => kept.dispose();
    }
    let most = -1;
    for (const cell of memo.cells) {
      if (cell < 0) fail('E_RANGE', 'memo.cells', 'integers ≥ 0', cell);
      if (cell > most) most = cell;
    }
    s.reserve(most + 1);
    return s;
  }

  /** Wx and bx split by class, kept until the weights change (an assign gives a variable a new dataId). */
  private memberParts(): [tf.Tensor2D[], tf.Tensor1D[]] {
    const c = this.partsCache;
    if (c && c.w === this.wx.dataId && c.b === this.bx.dataId) return [c.wParts, c.bParts];
    if (c) tf.dispose([...c.wParts, ...c.bParts]);
    const [wParts, bParts] = tf.tidy(() => [tf.split(this.wx, this.sizes, 1) as tf.Tensor2D[], tf.split(this.bx, this.sizes) as tf.Tensor1D[]]);
    this.partsCache = { w: this.wx.dataId, b: this.bx.dataId, wParts, bParts };
    return [wParts, bParts];
  }

  /**
   * Member logits of each (cell, class) pair: the pairs' rows of h (`hData`, [n, hidden]) are grouped by class
   * in JS and uploaded per class, then one matMul per class that occurs and the backend's softmax of its rows (a
   * vectorised exp: the ln Σ exp from it, {@link classLse}, takes a fraction of the time of Math.exp in JS), each
   * read in place; `each(cell, class, z, p, at, slot)` sees the class's logits at z[at .. at + size) and their
   * softmax at p[at .. at + size), pairs in the order given (each
   * cell's most probable classes first, so its list fills early and later classes can be skipped). With `scored`
   * (and `cells`, the memo's names of the rows), pairs an earlier search scored are not scored again, new ones are
   * kept, and `slot` is the pair's place in `scored` (−1 without).
   */
  private scorePairs(
    hData: Float32Array,
    pairCell: number[],
    pairClass: number[],
    wParts: tf.Tensor2D[],
    bParts: tf.Tensor1D[],
    scored: ScoredPairs | null,
    cells: Int32Array | undefined,
    each: (i: number, c: number, z: Float32Array, p: Float32Array, at: number, slot: number) => void,
  ): void {
    if (pairCell.length === 0) return;
    const nc = this.sizes.length;
    const hidden = this.hidden;
    // each pair's place in `scored` (−1 without)
    const slots = Int32Array.from(pairCell, (i, p) => (scored && cells ? cells[i] * nc + pairClass[p] : -1));
    const byClass: number[][] = Array.from({ length: nc }, () => []);
    // pairs scored here (the others an earlier search with the memo scored)
    const scoredHere = new Uint8Array(pairCell.length);
    pairClass.forEach((c, p) => {
      const slot = slots[p];
      if (slot < 0 || scored!.chunk[slot] < 0) {
        byClass[c].push(p);
        scoredHere[p] = 1;
      }
    });
    const active = byClass.map((ps, c) => (ps.length > 0 ? c : -1)).filter((c) => c >= 0);
    // the logits stay in the backend's tensors and are read in place once all are made (no copy of them)
    const chunkOf = new Int32Array(pairCell.length);
    const atOf = new Int32Array(pairCell.length);
    const own: tf.Tensor[] = [];
    const ownProbs: tf.Tensor[] = [];
    try {
      if (active.length > 0) {
        let total = 0;
        for (const c of active) total += byClass[c].length;
        if (this.rowScratch.length < total * hidden) this.rowScratch = new Float32Array(total * hidden);
        const rows = this.rowScratch;
        let to = 0;
        for (const c of active) {
          for (const p of byClass[c]) {
            const from = pairCell[p] * hidden;
            rows.set(hData.subarray(from, from + hidden), to);
            to += hidden;
          }
        }
        const parts = tf.tidy(() => {
          let from = 0;
          return active.map((c) => {
            const count = byClass[c].length;
            const hs = tf.tensor2d(rows.subarray(from * hidden, (from + count) * hidden), [count, hidden]);
            from += count;
            const z = logits(hs, wParts[c], bParts[c]);
            return [z, tf.softmax(z)] as const;
          });
        });
        active.forEach((c, a) => {
          const chunk = scored ? scored.keep(parts[a][0], parts[a][1]) : own.push(parts[a][0]) - 1;
          if (!scored) ownProbs.push(parts[a][1]);
          byClass[c].forEach((p, r) => {
            chunkOf[p] = chunk;
            atOf[p] = r * this.sizes[c];
            const slot = slots[p];
            if (slot >= 0) {
              scored!.chunk[slot] = chunk;
              scored!.at[slot] = atOf[p];
            }
          });
        });
      }
      // views of the chunks this call reads, taken after the last allocation (which may move the heap)
      const chunks = scored ? scored.chunks : own;
      const probs = scored ? scored.probs : ownProbs;
      const views = new Map<number, [Float32Array, Float32Array]>();
      for (let p = 0; p < pairCell.length; p++) {
        if (!scoredHere[p]) {
          chunkOf[p] = scored!.chunk[slots[p]];
          atOf[p] = scored!.at[slots[p]];
        }
        if (!views.has(chunkOf[p])) views.set(chunkOf[p], [valuesInPlace(chunks[chunkOf[p]]), valuesInPlace(probs[chunkOf[p]])]);
      }
      for (let p = 0; p < pairCell.length; p++) {
        const [z, pz] = views.get(chunkOf[p])!;
        each(pairCell[p], pairClass[p], z, pz, atOf[p], slots[p]);
      }
    } finally {
      tf.dispose([...own, ...ownProbs]);
    }
  }

  /**
   * Dx entries for the member logits of each run of classes: part i is [rows, cols] of run i, rows in grouped
   * order (`order`); one gather of Σ rows·cols entries, not of n·K.
   */
  private directParts(present: Int32Array, order: Int32Array, runs: ClassRun[]): tf.Tensor2D[] {
    let total = 0;
    for (const r of runs) total += r.rows * r.cols;
    const idx = new Int32Array(total);
    let at = 0;
    for (const r of runs) {
      for (let row = r.row; row < r.row + r.rows; row++) {
        const base = present[order[row]] * this.k + r.col;
        for (let m = 0; m < r.cols; m++) idx[at++] = base + m;
      }
    }
    const flat = tf.gather(tf.reshape(this.dx!, [-1]), tf.tensor1d(idx, 'int32'));
    const pieces = runs.length > 1 ? tf.split(flat, runs.map((r) => r.rows * r.cols)) : [flat];
    return pieces.map((piece, i) => tf.reshape(piece, [runs[i].rows, runs[i].cols]) as tf.Tensor2D);
  }

  /** Dc[a, c] = ln Σ_{x∈c} p(x | a); Dx[a, column(x)] = ln p(x | a) − Dc[a, c(x)]: both levels normalised. */
  initDirect(table: Float32Array): void {
    checkDirectTable(this.direct, table, this.k);
    const { k } = this;
    const nc = this.sizes.length;
    const dc = new Float32Array(k * nc);
    const dx = new Float32Array(k * k);
    const mass = new Float64Array(nc);
    for (let a = 0; a < k; a++) {
      mass.fill(0);
      for (let x = 0; x < k; x++) mass[this.classes.classOf[x]] += Math.exp(table[a * k + x]);
      for (let c = 0; c < nc; c++) dc[a * nc + c] = Math.log(mass[c]);
      for (let x = 0; x < k; x++) dx[a * k + this.column[x]] = table[a * k + x] - dc[a * nc + this.classes.classOf[x]];
    }
    tf.tidy(() => {
      this.dc!.assign(tf.tensor2d(dc, [k, nc]));
      this.dx!.assign(tf.tensor2d(dx, [k, k]));
    });
  }

  directIsZero(): boolean {
    return this.dc !== null && allZero([this.dc, this.dx!]);
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: this.kind,
      k: this.k,
      hidden: this.hidden,
      classes: this.sizes.length,
      classOf: Array.from(this.classes.classOf),
      direct: this.direct,
    };
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
    if (this.partsCache) tf.dispose([...this.partsCache.wParts, ...this.partsCache.bParts]);
    this.partsCache = null;
  }

  private weights(): [tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D] {
    return [this.wc as tf.Tensor2D, this.bc as tf.Tensor1D, this.wx as tf.Tensor2D, this.bx as tf.Tensor1D];
  }

  private group(targets: Int32Array): Grouping {
    const classOf = this.classes.classOf;
    const start = new Int32Array(this.sizes.length + 1);
    for (let i = 0; i < targets.length; i++) start[classOf[targets[i]] + 1]++;
    const active: number[] = [];
    const counts: number[] = [];
    for (let c = 0; c < this.sizes.length; c++) {
      if (start[c + 1] > 0) {
        active.push(c);
        counts.push(start[c + 1]);
      }
      start[c + 1] += start[c];
    }
    const order = new Int32Array(targets.length);
    const inverse = new Int32Array(targets.length);
    for (let i = 0; i < targets.length; i++) {
      const j = start[classOf[targets[i]]]++;
      order[j] = i;
      inverse[i] = j;
    }
    return { order, inverse, active, counts };
  }
}

/**
 * Per row of `lc` ([n, nc]), the classes by value descending, ties by lower class first (row-major [n, nc]); see
 * {@link sortClasses}.
 */
export function classOrder(lc: Float32Array, n: number, nc: number): Int32Array {
  const order = new Int32Array(n * nc);
  const keys = new Float64Array(nc);
  const bits = new Uint32Array(lc.buffer, lc.byteOffset, lc.length);
  for (let i = 0; i < n; i++) sortClasses(bits, i, nc, keys, order);
  return order;
}

/**
 * Writes row i's classes by value descending (ties, −0 and 0 among them: the lower class first) into order[i·nc ..],
 * from `bits`, the float32 values of the [n, nc] rows seen as uint32. Each class becomes one number that sorts as
 * wanted (the value's bits mapped to an order-preserving integer, reversed, then the class), so a row is one native
 * sort of `keys` (scratch of nc).
 */
function sortClasses(bits: Uint32Array, i: number, nc: number, keys: Float64Array, order: Int32Array): void {
  if (nc > CLASS_KEY) fail('E_RANGE', 'nc', `at most ${CLASS_KEY} classes`, nc);
  const row = i * nc;
  for (let c = 0; c < nc; c++) {
    const u = bits[row + c] === 0x80000000 ? 0 : bits[row + c]; // −0 as 0: they tie
    // ascending order of the floats as unsigned integers: negative values flipped, positive ones above them
    const ordered = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
    keys[c] = (0xffffffff - ordered) * CLASS_KEY + c;
  }
  keys.sort();
  for (let c = 0; c < nc; c++) order[row + c] = keys[c] % CLASS_KEY;
}

/**
 * ln Σ exp of a class's logits z[at .. at + size) from p, their softmax (the backend's): at the member j of largest
 * logit (the first), p[j] = exp(z[j] − ln Σ exp) up to rounding, so ln Σ exp = z[j] + ln(Σ p / p[j]), with Σ p in
 * float64 (p[j] ≥ 1/size: no underflow). Within about 1e-7 of the float64 sum of exp; and since Σ p ≥ p[j], never
 * below the largest logit, so ln q(x) ≤ ln p(class) holds exactly, as the search's bounds need. With `largest`, also
 * writes that logit to largest[0].
 */
export function classLse(z: Float32Array, p: Float32Array, at: number, size: number, largest?: Float64Array): number {
  let j = at;
  let total = 0;
  for (let x = at; x < at + size; x++) {
    total += p[x];
    if (z[x] > z[j]) j = x;
  }
  if (largest) largest[0] = z[j];
  return z[j] + Math.log(total / p[j]);
}

/** Where {@link classLse} leaves the class's largest logit for the search. */
const LARGEST = new Float64Array(1);

/** Classes per key of {@link classOrder} (2^32 · 2^20 < 2^53: the keys are exact). */
const CLASS_KEY = 2 ** 20;

/**
 * What the searches sharing one {@link SearchMemo} have scored, per (cell, class) slot (cell · classes + class):
 * the chunk of member logits (and their softmax) holding it (−1: not scored yet) and where in it, and its ln Σ exp
 * (NaN: not yet).
 */
class ScoredPairs {
  chunk = new Int32Array(0);
  at = new Int32Array(0);
  lse = new Float64Array(0);
  /** The largest member logit of each scored pair (with its ln Σ exp). */
  largest = new Float64Array(0);
  /** The member logits' tensors and their softmax, alike (owned: {@link ScoredPairs.dispose} frees them). */
  readonly chunks: tf.Tensor[] = [];
  readonly probs: tf.Tensor[] = [];

  constructor(
    readonly w: object,
    readonly b: object,
    readonly classes: number,
  ) {}

  /** Makes room for cells [0, cells). */
  reserve(cells: number): void {
    const size = cells * this.classes;
    if (size <= this.chunk.length) return;
    const chunk = new Int32Array(size).fill(-1);
    chunk.set(this.chunk);
    const at = new Int32Array(size);
    at.set(this.at);
    const lse = new Float64Array(size).fill(NaN);
    lse.set(this.lse);
    const largest = new Float64Array(size);
    largest.set(this.largest);
    this.chunk = chunk;
    this.at = at;
    this.lse = lse;
    this.largest = largest;
  }

  /** Keeps a chunk of member logits and their softmax (taking ownership of the tensors); returns its index. */
  keep(z: tf.Tensor, p: tf.Tensor): number {
    this.probs.push(p);
    return this.chunks.push(z) - 1;
  }

  /** Frees the kept logits and softmax. */
  dispose(): void {
    tf.dispose([...this.chunks, ...this.probs]);
    this.chunks.length = 0;
    this.probs.length = 0;
    this.chunk.fill(-1);
    this.lse.fill(NaN);
  }
}
