import * as tf from '@tensorflow/tfjs-core';
import { fail } from '@vqvid/core';
import { type OutputLayer, allZero, checkHidden, checkTargets, logNormaliser, zeroVariable } from './layer';
import type { SparseBigram } from './prior';
import { checkTopOptions, type ExtraCodes, isTopSource, offerTopOnce, type TopCandidates, type TopSource } from './top';

/** A component of a {@link MixtureOutput}: the network's softmax, "same code as now", or the counted bigram. */
export type MixtureComponent = 'net' | 'copy' | 'prior';

/** Log of a probability that is zero: finite, so that sums and gradients stay NaN-free (exp underflows to 0). */
const LOG_ZERO = -1e30;

/** ln(e^a + e^b) elementwise, stable for any magnitudes. */
function logAddExp(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.add(tf.maximum(a, b), tf.log1p(tf.exp(tf.neg(tf.abs(tf.sub(a, b))))));
}

/**
 * A copy-aware output: a per-cell mixture of the inner softmax q, the event "the same code as this cell's
 * present code" and, optionally, a counted same-cell bigram b:
 *
 *   p(c | h, x) = π_net·q(c | h) + π_copy·[c = x] + π_prior·b(c | x),   π = softmax(h·Wg + bg).
 *
 * It is the pointer/copy idea of pointer-generator networks (See et al. 2017) and of n-gram interpolation in
 * RNNME (Mikolov et al. 2011), in probability space, so it stays exact and normalised for either softmax at
 * any K. The gate starts (Wg = 0) at the mixture weights that best explain the training codes with q uniform
 * ({@link MixtureOutput.initGates}), so training starts near the copy/bigram model's bits instead of log2 K.
 * Before a prior is set (an unfitted model) the prior component is the uniform distribution.
 */
export class MixtureOutput implements OutputLayer {
  readonly kind: 'full' | 'factored';
  readonly k: number;
  readonly hidden: number;
  readonly direct: boolean;
  readonly variables: tf.Variable[];
  /** Components in gate order; 'net' first. */
  readonly components: MixtureComponent[];
  private readonly wg: tf.Variable;
  private readonly bg: tf.Variable;
  private priorTable: SparseBigram | null = null;

  constructor(
    readonly inner: OutputLayer,
    readonly copy: boolean,
    readonly priorKind: 'bigram' | 'none',
  ) {
    this.kind = inner.kind;
    this.k = inner.k;
    this.hidden = inner.hidden;
    this.direct = inner.direct;
    this.components = ['net', ...(copy ? ['copy' as const] : []), ...(priorKind === 'bigram' ? ['prior' as const] : [])];
    if (this.components.length < 2) fail('E_RANGE', 'mixture', 'copy or a prior (else use the plain layer)', this.components);
    const m = this.components.length;
    this.wg = zeroVariable(this.hidden, m);
    this.bg = zeroVariable(m);
    this.variables = [...inner.variables, this.wg, this.bg];
  }

  /** The counted bigram of the prior component (null before it is set). */
  get prior(): SparseBigram | null {
    return this.priorTable;
  }

  /** Sets the counted bigram of the prior component (E_STATE when this mixture has none, E_SHAPE on another k). */
  setPrior(table: SparseBigram): void {
    if (this.priorKind !== 'bigram') fail('E_STATE', 'setPrior', 'a mixture with a prior component', 'one without');
    if (table.k !== this.k) fail('E_SHAPE', 'prior.k', `${this.k}`, table.k);
    this.priorTable = table;
  }

  /** Sets the gate biases to ln(weights) (one per component, in {@link components} order), Wg to zero. */
  initGates(weights: ArrayLike<number>): void {
    if (weights.length !== this.components.length) fail('E_SHAPE', 'weights', `${this.components.length} mixture weights`, weights.length);
    for (let i = 0; i < weights.length; i++) if (!(weights[i] > 0)) fail('E_RANGE', `weights[${i}]`, 'a positive weight', weights[i]);
    tf.tidy(() => {
      this.bg.assign(tf.log(tf.tensor1d(Array.from(weights))));
      this.wg.assign(tf.zerosLike(this.wg));
    });
  }

  /** Whether the gate is still at its construction state (both gate weights zero). */
  gatesAreFresh(): boolean {
    return allZero([this.wg, this.bg]);
  }

  /** Mixture weights π [n, m] as logs. */
  private logGates(h: tf.Tensor2D): tf.Tensor2D {
    return tf.logSoftmax(tf.add(tf.matMul(h, this.wg as tf.Tensor2D), this.bg)) as tf.Tensor2D;
  }

  /** p of the prior component for each (present, target) pair. */
  private priorProb(a: number, b: number, leaveOneOut: boolean): number {
    return this.priorTable ? this.priorTable.prob(a, b, leaveOneOut) : 1 / this.k;
  }

  logProb(h: tf.Tensor2D, targets: tf.Tensor1D, present?: tf.Tensor1D, leaveOneOut = false): tf.Tensor1D {
    const n = checkHidden(h, this.hidden);
    const t = checkTargets(targets, n, this.k);
    if (present === undefined) fail('E_RANGE', 'present', 'the present codes [n] (a copy-aware output reads them)', present);
    const x = checkTargets(present, n, this.k, 'present');
    const m = this.components.length;
    const extra = new Float32Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 1; j < m; j++) {
        const comp = this.components[j];
        extra[i * m + j] = comp === 'copy' ? (t[i] === x[i] ? 0 : LOG_ZERO) : Math.log(this.priorProb(x[i], t[i], leaveOneOut));
      }
    }
    return tf.tidy(() => {
      const lq = this.inner.logProb(h, targets, this.direct ? present : undefined);
      const netColumn = tf.oneHot(tf.zeros([n], 'int32'), m) as tf.Tensor2D; // [n, m], 1 in column 0
      const comps = tf.add(tf.mul(netColumn, tf.expandDims(lq, 1)), tf.tensor2d(extra, [n, m]));
      return logNormaliser(tf.add(this.logGates(h), comps) as tf.Tensor2D);
    });
  }

  logProbsAll(h: tf.Tensor2D, present?: tf.Tensor1D): tf.Tensor2D {
    const n = checkHidden(h, this.hidden);
    if (present === undefined) fail('E_RANGE', 'present', 'the present codes [n] (a copy-aware output reads them)', present);
    const x = checkTargets(present, n, this.k, 'present');
    let priorRows: Float32Array | null = null;
    if (this.priorKind === 'bigram') {
      priorRows = new Float32Array(n * this.k);
      if (this.priorTable) for (let i = 0; i < n; i++) this.priorTable.row(x[i], priorRows, i * this.k);
      else priorRows.fill(1 / this.k);
    }
    return tf.tidy(() => {
      const gates = tf.split(this.logGates(h), this.components.length, 1) as tf.Tensor2D[];
      let out: tf.Tensor = tf.add(gates[0], this.inner.logProbsAll(h, this.direct ? present : undefined));
      this.components.forEach((comp, j) => {
        if (comp === 'copy') {
          const at = tf.mul(tf.sub(1, tf.oneHot(present, this.k)), LOG_ZERO);
          out = logAddExp(out, tf.add(gates[j], at));
        } else if (comp === 'prior') {
          out = logAddExp(out, tf.add(gates[j], tf.log(tf.tensor2d(priorRows!, [n, this.k]))));
        }
      });
      return out as tf.Tensor2D;
    });
  }

  /**
   * Each cell's m most probable codes of the mixture without all K probabilities. Of the inner layer's top d codes
   * by q (d = m first), the present code and the prior's d best codes, each is scored exactly; no other code can
   * beat π_net·q̄ + π_prior·b̄ (q̄ and b̄ the d-th values of the two lists), so a cell whose m-th probability
   * reaches that is exact. The other cells are searched again with 4d (up to K, where every code is scored).
   * Null when the inner layer cannot find its top codes.
   */
  topCandidates(h: tf.Tensor2D, present: Int32Array, presentTensor: tf.Tensor1D | undefined, m: number, classBeam = Infinity): TopCandidates | null {
    const n = checkHidden(h, this.hidden);
    checkTopOptions(m, this.k, classBeam);
    if (!isTopSource(this.inner)) return null;
    const gt = tf.tidy(() => tf.exp(this.logGates(h)));
    const gates = gt.dataSync() as Float32Array;
    gt.dispose();
    const out: TopCandidates = { m, codes: new Int32Array(n * m).fill(-1), probs: new Float32Array(n * m), presentProbs: new Float32Array(n), exact: new Uint8Array(n) };
    let cells: Int32Array = Int32Array.from({ length: n }, (_, i) => i);
    for (let depth = m; cells.length > 0; depth = Math.min(this.k, 4 * depth)) {
      const sub = cells.length === n ? null : tf.tensor1d(cells, 'int32');
      const hs = sub ? (tf.gather(h, sub) as tf.Tensor2D) : h;
      const ps = this.direct && presentTensor ? (sub ? (tf.gather(presentTensor, sub) as tf.Tensor1D) : presentTensor) : undefined;
      try {
        const rest = this.scoreCells(hs, ps, cells, present, gates, depth, classBeam, out);
        if (rest === null) return null;
        cells = rest;
      } finally {
        if (sub) tf.dispose([sub, hs, ...(ps ? [ps] : [])]);
      }
    }
    return out;
  }

  /**
   * One pass of {@link MixtureOutput.topCandidates} over `cells` (hs: their hidden rows) at depth d: writes their
   * lists into `out`; returns the cells whose lists are not proven yet (null when the inner layer cannot).
   */
  private scoreCells(hs: tf.Tensor2D, ps: tf.Tensor1D | undefined, cells: Int32Array, present: Int32Array, gates: Float32Array, depth: number, classBeam: number, out: TopCandidates): Int32Array | null {
    const { m } = out;
    const table = this.priorTable;
    const hasPrior = this.components.includes('prior');
    // extras per cell: the present code, then the prior's best codes
    const rowsOfPrior = hasPrior && table ? Array.from(cells, (i) => table.topRow(present[i], depth)) : null;
    const start = new Int32Array(cells.length + 1);
    for (let r = 0; r < cells.length; r++) start[r + 1] = start[r] + 1 + (rowsOfPrior ? depth : 0);
    const extraCodes = new Int32Array(start[cells.length]);
    cells.forEach((i, r) => {
      extraCodes[start[r]] = present[i];
      if (rowsOfPrior) extraCodes.set(rowsOfPrior[r].codes, start[r] + 1);
    });
    const extras: ExtraCodes = { start, codes: extraCodes };
    const found = (this.inner as unknown as TopSource).logCandidates(hs, ps, depth, extras, classBeam);
    if (!found) return null;
    const nm = this.components.length;
    const copyAt = this.components.indexOf('copy');
    const priorAt = this.components.indexOf('prior');
    const vals = new Float64Array(m);
    const codes = new Int32Array(m);
    const again: number[] = [];
    cells.forEach((i, r) => {
      const x = present[i];
      const net = gates[i * nm];
      const copy = copyAt > 0 ? gates[i * nm + copyAt] : 0;
      const prior = priorAt > 0 ? gates[i * nm + priorAt] : 0;
      const p = (c: number, logq: number): number => net * Math.exp(logq) + (c === x ? copy : 0) + (hasPrior ? prior * (table ? table.prob(x, c) : 1 / this.k) : 0);
      vals.fill(-Infinity);
      codes.fill(-1);
      for (let j = r * depth; j < (r + 1) * depth; j++) if (found.codes[j] >= 0) offerTopOnce(codes, vals, 0, m, found.codes[j], p(found.codes[j], found.logq[j]));
      for (let e = start[r]; e < start[r + 1]; e++) offerTopOnce(codes, vals, 0, m, extraCodes[e], p(extraCodes[e], found.extraLogq[e]));
      out.codes.set(codes, i * m);
      for (let j = 0; j < m; j++) out.probs[i * m + j] = vals[j];
      out.presentProbs[i] = p(x, found.extraLogq[start[r]]);
      // no code outside the lists can beat π_net·q̄ + π_prior·b̄; at depth K every code was scored
      const priorBound = !hasPrior ? 0 : rowsOfPrior ? rowsOfPrior[r].values[depth - 1] : 1 / this.k;
      const proven = depth >= this.k || vals[m - 1] >= net * Math.exp(found.bound[r]) + prior * priorBound;
      out.exact[i] = proven && found.exact[r] === 1 ? 1 : 0;
      // a list a class beam cut short stays as it is (the approximation asked for)
      if (!proven && found.exact[r] === 1) again.push(i);
    });
    return Int32Array.from(again);
  }

  initDirect(table: Float32Array): void {
    this.inner.initDirect(table);
  }

  directIsZero(): boolean {
    return this.inner.directIsZero();
  }

  toJSON(): Record<string, unknown> {
    return { ...this.inner.toJSON(), mixture: { copy: this.copy, prior: this.priorKind } };
  }

  dispose(): void {
    this.inner.dispose();
    this.wg.dispose();
    this.bg.dispose();
  }
}

/**
 * Mixture weights (one per component of `components`, summing to 1) maximising the likelihood of the
 * (present, next) pairs with the network component uniform over k codes: a few EM steps. `pairs` are
 * [present, next] interleaved; `priorProb` gives the prior component's probability of a pair (held out).
 */
export function emGateWeights(
  components: MixtureComponent[],
  pairs: Int32Array,
  k: number,
  priorProb: (a: number, b: number) => number,
  iterations = 30,
): Float64Array {
  const m = components.length;
  const n = pairs.length / 2;
  const like = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const a = pairs[2 * i];
    const b = pairs[2 * i + 1];
    components.forEach((comp, j) => {
      like[i * m + j] = comp === 'net' ? 1 / k : comp === 'copy' ? (a === b ? 1 : 0) : priorProb(a, b);
    });
  }
  const w = new Float64Array(m).fill(1 / m);
  const acc = new Float64Array(m);
  for (let it = 0; it < iterations; it++) {
    acc.fill(0);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += w[j] * like[i * m + j];
      for (let j = 0; j < m; j++) acc[j] += (w[j] * like[i * m + j]) / s;
    }
    // keep every component alive (a zero weight would be a -Infinity gate bias)
    for (let j = 0; j < m; j++) w[j] = Math.max(acc[j] / n, 1e-4);
    const total = w.reduce((s, v) => s + v, 0);
    for (let j = 0; j < m; j++) w[j] /= total;
  }
  return w;
}
