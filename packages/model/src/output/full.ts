import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@vqvid/core';
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

/**
 * One softmax over all K codes: p(x | h) = softmax(h·W + b)[x]; O(n·K·hidden) per call. With direct
 * connections the logits get D[present, x] added, D a learned [K, K] table (zero at the start).
 */
export class FullSoftmax implements OutputLayer {
  readonly kind = 'full' as const;
  readonly variables: tf.Variable[];
  private readonly w: tf.Variable;
  private readonly b: tf.Variable;
  private readonly d: tf.Variable | null;

  constructor(
    readonly k: number,
    readonly hidden: number,
    seed: number,
    readonly direct = false,
  ) {
    this.w = randomVariable(new Rng(seed), hidden, k);
    this.b = zeroVariable(k);
    this.d = direct ? zeroVariable(k, k) : null;
    this.variables = this.d ? [this.w, this.b, this.d] : [this.w, this.b];
  }

  logProb(h: tf.Tensor2D, targets: tf.Tensor1D, present?: tf.Tensor1D): tf.Tensor1D {
    const n = checkHidden(h, this.hidden);
    const t = checkTargets(targets, n, this.k);
    const p = checkPresent(present, this.direct, n, this.k);
    return tf.tidy(() => {
      const w = this.w as tf.Tensor2D;
      const b = this.b as tf.Tensor1D;
      let chosen = chosenLogit(h, w, b, targets);
      let z = logits(h, w, b);
      if (p) {
        const d = this.d as tf.Tensor2D;
        chosen = tf.add(chosen, pickEntries(d, p, t));
        z = tf.add(z, tf.gather(d, present!));
      }
      return tf.sub(chosen, logNormaliser(z));
    });
  }

  logProbsAll(h: tf.Tensor2D, present?: tf.Tensor1D): tf.Tensor2D {
    const n = checkHidden(h, this.hidden);
    const p = checkPresent(present, this.direct, n, this.k);
    return tf.tidy(() => {
      const z = logits(h, this.w as tf.Tensor2D, this.b as tf.Tensor1D);
      return tf.logSoftmax(p ? (tf.add(z, tf.gather(this.d!, present!)) as tf.Tensor2D) : z);
    });
  }

  initDirect(table: Float32Array): void {
    checkDirectTable(this.direct, table, this.k);
    tf.tidy(() => this.d!.assign(tf.tensor2d(table, [this.k, this.k])));
  }

  directIsZero(): boolean {
    return this.d !== null && allZero([this.d]);
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, k: this.k, hidden: this.hidden, direct: this.direct };
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}
