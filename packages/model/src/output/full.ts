import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@vqvid/core';
import {
  type OutputLayer,
  allZero,
  checkDirectTable,
  checkHidden,
  checkPresent,
  checkTargets,
  logSumExpOf,
  logits,
  pickedLogProb,
  randomVariable,
  zeroVariable,
} from './layer';
import { valuesInPlace } from '../kernels';
import { emptyLogCandidates, type ExtraCodes, type LogCandidates, topOfRows, type TopSource } from './top';

/**
 * One softmax over all K codes: p(x | h) = softmax(h·W + b)[x]; O(n·K·hidden) per call. With direct
 * connections the logits get D[present, x] added, D a learned [K, K] table (zero at the start).
 */
export class FullSoftmax implements OutputLayer, TopSource {
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
      let z = logits(h, this.w as tf.Tensor2D, this.b as tf.Tensor1D);
      if (p) z = tf.add(z, tf.gather(this.d!, present!));
      // the chosen logit read from z (D[present, target] included): no gather of W's columns, nor its gradient
      return pickedLogProb(z, t);
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

  /**
   * Each cell's m codes of highest ln q, exactly: the K logits (one matMul) and their ln Σ exp per row (from the
   * backend's softmax, {@link logSumExpOf}) are computed by the backend and read once, the logits in place; the top
   * lists are taken in JS, which reads no [n, K] probabilities.
   */
  logCandidates(h: tf.Tensor2D, present: tf.Tensor1D | undefined, m: number, extras: ExtraCodes): LogCandidates {
    const n = checkHidden(h, this.hidden);
    const p = checkPresent(present, this.direct, n, this.k);
    const [zt, lset] = tf.tidy(() => {
      let z = logits(h, this.w as tf.Tensor2D, this.b as tf.Tensor1D);
      if (p) z = tf.add(z, tf.gather(this.d!, present!));
      return [z, logSumExpOf(z)];
    });
    const lse = lset.dataSync() as Float32Array;
    // the [n, K] logits read in place (on wasm a view of the heap, valid until the next tfjs allocation: none below
    // before the dispose), not copied out: 4.9 MB a frame at 320x240, K = 1024
    const z = valuesInPlace(zt);
    const k = this.k;
    const out = emptyLogCandidates(n, m, extras.codes.length);
    const { codes, logq } = out;
    topOfRows(z as Float32Array, n, k, m, codes, logq);
    for (let i = 0; i < n; i++) {
      const row = i * k;
      const base = i * m;
      const last = base + m - 1;
      for (let j = base; j < base + m; j++) out.logq[j] -= lse[i];
      for (let e = extras.start[i]; e < extras.start[i + 1]; e++) out.extraLogq[e] = z[row + extras.codes[e]] - lse[i];
      out.bound[i] = m < k ? out.logq[last] : -Infinity;
    }
    tf.dispose([zt, lset]);
    return out;
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
