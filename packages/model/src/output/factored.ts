import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@vqvid/core';
import type { ClassAssignment } from './classes';
import { type OutputLayer, checkHidden, checkTargets, chosenLogit, logNormaliser, logits, randomVariable, zeroVariable } from './layer';

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

  constructor(
    readonly k: number,
    readonly hidden: number,
    seed: number,
    private readonly classes: ClassAssignment,
  ) {
    this.sizes = classes.members.map((m) => m.length);
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
    this.variables = [this.wc, this.bc, this.wx, this.bx];
  }

  logProb(h: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
    const t = checkTargets(targets, checkHidden(h, this.hidden), this.k);
    const g = this.group(t);
    const sortedColumn = Int32Array.from(g.order, (i) => this.column[t[i]]);
    const targetClass = Int32Array.from(t, (x) => this.classes.classOf[x]);
    return tf.tidy(() => {
      const [wc, bc, wx, bx] = this.weights();
      const classPart = tf.sub(chosenLogit(h, wc, bc, tf.tensor1d(targetClass, 'int32')), logNormaliser(logits(h, wc, bc)));
      const hs = tf.gather(h, tf.tensor1d(g.order, 'int32'));
      // split (not slice): its gradient is one concat, where each slice's would be a full-size pad.
      const hParts = (g.active.length > 1 ? tf.split(hs, g.counts) : [hs]) as tf.Tensor2D[];
      const wParts = tf.split(wx, this.sizes, 1) as tf.Tensor2D[];
      const bParts = tf.split(bx, this.sizes) as tf.Tensor1D[];
      const normalisers = g.active.map((c, i) => logNormaliser(logits(hParts[i], wParts[c], bParts[c])));
      const lse = normalisers.length > 1 ? tf.concat(normalisers) : normalisers[0];
      const within = tf.sub(chosenLogit(hs, wx, bx, tf.tensor1d(sortedColumn, 'int32')), lse);
      return tf.add(classPart, tf.gather(within, tf.tensor1d(g.inverse, 'int32'))) as tf.Tensor1D;
    });
  }

  logProbsAll(h: tf.Tensor2D): tf.Tensor2D {
    checkHidden(h, this.hidden);
    return tf.tidy(() => {
      const [wc, bc, wx, bx] = this.weights();
      const classLp = tf.logSoftmax(logits(h, wc, bc));
      const parts = (tf.split(logits(h, wx, bx), this.sizes, 1) as tf.Tensor2D[]).map((z) => tf.logSoftmax(z));
      const within = parts.length > 1 ? tf.concat(parts, 1) : parts[0];
      const permuted = tf.add(within, tf.gather(classLp, tf.tensor1d(this.classOfColumn, 'int32'), 1));
      return tf.gather(permuted, tf.tensor1d(this.column, 'int32'), 1) as tf.Tensor2D;
    });
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: this.kind,
      k: this.k,
      hidden: this.hidden,
      classes: this.sizes.length,
      classOf: Array.from(this.classes.classOf),
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
