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
  chosenLogit,
  logNormaliser,
  logits,
  pickEntries,
  randomVariable,
  zeroVariable,
} from './layer';
import { emptyLogCandidates, type ExtraCodes, type LogCandidates, offerTop, type TopSource } from './top';

/** Classes a cell visits in the first round of {@link FactoredSoftmax.logCandidates} (doubling each round after). */
const FIRST_CLASSES = 4;

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
 * `logProb` costs O(n·(C + largest class)·hidden) plus O(K·hidden) for splitting the weights.
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

  constructor(
    readonly k: number,
    readonly hidden: number,
    seed: number,
    private readonly classes: ClassAssignment,
    readonly direct = false,
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
    const sortedColumn = Int32Array.from(g.order, (i) => this.column[t[i]]);
    const targetClass = Int32Array.from(t, (x) => this.classes.classOf[x]);
    return tf.tidy(() => {
      const [wc, bc, wx, bx] = this.weights();
      const classTarget = tf.tensor1d(targetClass, 'int32');
      let classChosen = chosenLogit(h, wc, bc, classTarget);
      let classZ = logits(h, wc, bc);
      if (p) {
        classChosen = tf.add(classChosen, pickEntries(this.dc as tf.Tensor2D, p, targetClass));
        classZ = tf.add(classZ, tf.gather(this.dc!, present!));
      }
      const classPart = tf.sub(classChosen, logNormaliser(classZ));
      const hs = tf.gather(h, tf.tensor1d(g.order, 'int32'));
      // split (not slice): its gradient is one concat, where each slice's would be a full-size pad.
      const hParts = (g.active.length > 1 ? tf.split(hs, g.counts) : [hs]) as tf.Tensor2D[];
      const wParts = tf.split(wx, this.sizes, 1) as tf.Tensor2D[];
      const bParts = tf.split(bx, this.sizes) as tf.Tensor1D[];
      const dParts = p ? this.directParts(p, g) : null;
      const normalisers = g.active.map((c, i) => {
        const z = logits(hParts[i], wParts[c], bParts[c]);
        return logNormaliser(dParts ? tf.add(z, dParts[i]) : z);
      });
      const lse = normalisers.length > 1 ? tf.concat(normalisers) : normalisers[0];
      let withinChosen = chosenLogit(hs, wx, bx, tf.tensor1d(sortedColumn, 'int32'));
      if (p) withinChosen = tf.add(withinChosen, pickEntries(this.dx as tf.Tensor2D, Int32Array.from(g.order, (i) => p[i]), sortedColumn));
      const within = tf.sub(withinChosen, lse);
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
  logCandidates(h: tf.Tensor2D, present: tf.Tensor1D | undefined, m: number, extras: ExtraCodes, classBeam = Infinity, floor?: Float64Array): LogCandidates | null {
    const n = checkHidden(h, this.hidden);
    checkPresent(present, this.direct, n, this.k);
    if (floor !== undefined && floor.length !== n) fail('E_SHAPE', 'floor', `one ln q per cell (${n})`, floor.length);
    if (this.direct) return null;
    const nc = this.sizes.length;
    const lcT = tf.tidy(() => tf.logSoftmax(logits(h, this.wc as tf.Tensor2D, this.bc as tf.Tensor1D)));
    const lc = lcT.dataSync() as Float32Array;
    lcT.dispose();
    const out = emptyLogCandidates(n, m, extras.codes.length);
    const visited = new Uint8Array(n * nc);
    const visits = new Int32Array(n);
    const { classOf, members } = this.classes;
    // best ln p(class) among the classes a cell has not visited (−∞ when none is left)
    const bestUnvisited = (i: number): number => {
      let best = -Infinity;
      for (let c = 0; c < nc; c++) if (!visited[i * nc + c] && lc[i * nc + c] > best) best = lc[i * nc + c];
      return best;
    };
    const [wParts, bParts] = this.memberParts();
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
        const budget = Math.max(1, Math.min(width, classBeam - visits[i]));
        for (let b = 0; b < budget && visits[i] < nc; b++) {
          let best = -1;
          for (let c = 0; c < nc; c++) if (!visited[i * nc + c] && (best < 0 || lc[i * nc + c] > lc[i * nc + best])) best = c;
          visit(i, best);
        }
        // the extra codes' classes after the best ones (beyond the beam: their codes' ln q is needed)
        if (round === 0) for (let e = extras.start[i]; e < extras.start[i + 1]; e++) visit(i, classOf[extras.codes[e]]);
      }
      this.scorePairs(hData, pairCell, pairClass, wParts, bParts, (i, c, z, at) => {
        const size = this.sizes[c];
        const last = i * m + m - 1;
        // q(x) ≤ p(class): a class below a full list's m-th adds nothing, unless it holds an extra code
        if (lc[i * nc + c] < out.logq[last]) {
          let holds = false;
          for (let e = extras.start[i]; e < extras.start[i + 1] && !holds; e++) holds = classOf[extras.codes[e]] === c;
          if (!holds) return;
        }
        // ln Σ exp in JS: wasm's Exp is slower than Math.exp here
        let max = -Infinity;
        for (let j = 0; j < size; j++) if (z[at + j] > max) max = z[at + j];
        let sum = 0;
        for (let j = 0; j < size; j++) sum += Math.exp(z[at + j] - max);
        const shift = lc[i * nc + c] - (max + Math.log(sum));
        const list = members[c];
        // most members do not make the list: one compare with the list's m-th before the call
        let worst = out.logq[last];
        for (let j = 0; j < size; j++) {
          const v = z[at + j] + shift;
          if (v >= worst) {
            offerTop(out.codes, out.logq, i * m, m, list[j], v);
            worst = out.logq[last];
          }
        }
        for (let e = extras.start[i]; e < extras.start[i + 1]; e++) {
          const x = extras.codes[e];
          if (classOf[x] === c) out.extraLogq[e] = z[at + this.column[x] - this.starts[c]] + shift;
        }
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
   * in JS and uploaded per class, then one matMul per class that occurs, all read back at once;
   * `each(cell, class, z, at)` sees the class's logits at z[at .. at + size), pairs in the order given (each
   * cell's most probable classes first, so its list fills early and later classes can be skipped).
   */
  private scorePairs(
    hData: Float32Array,
    pairCell: number[],
    pairClass: number[],
    wParts: tf.Tensor2D[],
    bParts: tf.Tensor1D[],
    each: (i: number, c: number, z: Float32Array, at: number) => void,
  ): void {
    if (pairCell.length === 0) return;
    const nc = this.sizes.length;
    const hidden = this.hidden;
    const byClass: number[][] = Array.from({ length: nc }, () => []);
    pairClass.forEach((c, p) => byClass[c].push(p));
    const active = byClass.map((ps, c) => (ps.length > 0 ? c : -1)).filter((c) => c >= 0);
    const rows = new Float32Array(pairCell.length * hidden);
    let row = 0;
    for (const c of active) {
      for (const p of byClass[c]) rows.set(hData.subarray(pairCell[p] * hidden, (pairCell[p] + 1) * hidden), hidden * row++);
    }
    const zt = tf.tidy(() => {
      let from = 0;
      const flat = active.map((c) => {
        const count = byClass[c].length;
        const hs = tf.tensor2d(rows.subarray(from * hidden, (from + count) * hidden), [count, hidden]);
        from += count;
        return tf.reshape(logits(hs, wParts[c], bParts[c]), [-1]);
      });
      return active.length > 1 ? tf.concat(flat) : flat[0];
    });
    const z = zt.dataSync() as Float32Array;
    zt.dispose();
    const atOf = new Int32Array(pairCell.length);
    let at = 0;
    for (const c of active) {
      for (const p of byClass[c]) {
        atOf[p] = at;
        at += this.sizes[c];
      }
    }
    for (let p = 0; p < pairCell.length; p++) each(pairCell[p], pairClass[p], z, atOf[p]);
  }

  /**
   * Dx entries for the member logits of each active class: part i is [count_i, size of class active[i]],
   * rows in grouped order; one gather of n·(class size) entries, not of n·K.
   */
  private directParts(present: Int32Array, g: Grouping): tf.Tensor2D[] {
    let total = 0;
    g.active.forEach((c, i) => (total += g.counts[i] * this.sizes[c]));
    const idx = new Int32Array(total);
    let at = 0;
    let row = 0;
    g.active.forEach((c, i) => {
      const [start, size] = [this.starts[c], this.sizes[c]];
      for (let j = 0; j < g.counts[i]; j++, row++) {
        const base = present[g.order[row]] * this.k + start;
        for (let m = 0; m < size; m++) idx[at++] = base + m;
      }
    });
    const flat = tf.gather(tf.reshape(this.dx!, [-1]), tf.tensor1d(idx, 'int32'));
    const pieces = g.active.length > 1 ? tf.split(flat, g.active.map((c, i) => g.counts[i] * this.sizes[c])) : [flat];
    return pieces.map((piece, i) => tf.reshape(piece, [g.counts[i], this.sizes[g.active[i]]]) as tf.Tensor2D);
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
    for (const x of targets) start[classOf[x] + 1]++;
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
    targets.forEach((x, i) => {
      const j = start[classOf[x]]++;
      order[j] = i;
      inverse[i] = j;
    });
    return { order, inverse, active, counts };
  }
}
