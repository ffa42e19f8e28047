import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@vqvid/core';
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
export class FactoredSoftmax implements OutputLayer {
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
