import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@vqvid/core';
import { type OutputLayer, checkHidden, checkTargets, chosenLogit, logNormaliser, logits, randomVariable, zeroVariable } from './layer';

/** One softmax over all K codes: p(x | h) = softmax(h·W + b)[x]; O(n·K·hidden) per call. */
export class FullSoftmax implements OutputLayer {
  readonly kind = 'full' as const;
  readonly variables: tf.Variable[];
  private readonly w: tf.Variable;
  private readonly b: tf.Variable;

  constructor(
    readonly k: number,
    readonly hidden: number,
    seed: number,
  ) {
    this.w = randomVariable(new Rng(seed), hidden, k);
    this.b = zeroVariable(k);
    this.variables = [this.w, this.b];
  }

  logProb(h: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
    checkTargets(targets, checkHidden(h, this.hidden), this.k);
    return tf.tidy(() => {
      const w = this.w as tf.Tensor2D;
      const b = this.b as tf.Tensor1D;
      return tf.sub(chosenLogit(h, w, b, targets), logNormaliser(logits(h, w, b)));
    });
  }

  logProbsAll(h: tf.Tensor2D): tf.Tensor2D {
    checkHidden(h, this.hidden);
    return tf.tidy(() => tf.logSoftmax(logits(h, this.w as tf.Tensor2D, this.b as tf.Tensor1D)));
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, k: this.k, hidden: this.hidden };
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}
