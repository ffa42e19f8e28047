import * as tf from '@tensorflow/tfjs-core';
import { fail } from '@vqvid/core';
import { type OutputLayer, allZero, checkHidden, checkTargets, logNormaliser, zeroVariable } from './layer';
import { readTidy } from '../read';
import { SparseBigram } from './prior';
import { SPATIAL_WIDTH, SpatialPrior } from './spatial-prior';
import { type AsyncSearchMemo, type AsyncTopSource, checkSource, checkTopOptions, type ExtraCodes, isTopSource, type LogCandidates, offerTopOnce, type SearchMemo, turnedAway, type TopCandidates, type TopSource } from './top';

/** What one pass of the mixture's top search asks the inner layer, and the prior's lists it was built from. */
interface MixturePass {
  extras: ExtraCodes;
  floor: Float64Array | undefined;
  /** The prior's `depth` best codes of each cell and their values (cell r's at [r·depth, (r + 1)·depth)), by value descending. */
  prior: PriorLists | null;
}

/** Each cell's top list of the counted prior, one cell after another. */
interface PriorLists {
  depth: number;
  codes: Int32Array;
  values: Float64Array;
}

/** A component of a {@link MixtureOutput}: the network's softmax, "same code as now", or the counted prior (bigram or spatial). */
export type MixtureComponent = 'net' | 'copy' | 'prior';

/** Log of a probability that is zero: finite, so that sums and gradients stay NaN-free (exp underflows to 0). */
export const LOG_ZERO = -1e30;

/** ln(e^a + e^b) elementwise, stable for any magnitudes. */
function logAddExp(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.add(tf.maximum(a, b), tf.log1p(tf.exp(tf.neg(tf.abs(tf.sub(a, b))))));
}

/** The counted prior of a {@link MixtureOutput}: a same-cell bigram, or the spatial n-gram over 5 present codes. */
export type CountedPrior = SparseBigram | SpatialPrior;

/**
 * A copy-aware output: a per-cell mixture of the inner softmax q, the event "the same code as this cell's
 * present code" and, optionally, a counted prior b: a same-cell bigram b(c | x) ('bigram') or the spatial
 * n-gram b(c | x and its 4 neighbours' present codes) ('spatial', {@link SpatialPrior}):
 *
 *   p(c | h, x) = π_net·q(c | h) + π_copy·[c = x] + π_prior·b(c | context),   π = softmax(h·Wg + bg).
 *
 * With a spatial prior, `present` is the [n, 5] int32 context (the cell's code first, K outside the grid; see
 * `spatialContext`); otherwise [n] codes.
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
  private priorTable: CountedPrior | null = null;
  /**
   * How much deeper than the network's lists {@link topCandidatesAsync} asks for the prior's (1 or 3): 3 once a
   * search needed a second pass for more than 1/8 of its cells, back to 1 when fewer than 1/32 need one. A cell
   * left unproven mostly waits on the prior's bound, which deeper lists in the same pass lower for the price of
   * more extra codes (at K = 10,000 a second pass for 16% of the cells instead of 37%). The lists are the same either way.
   */
  private asyncPriorDepth = 1;
  /** Symbols per cell of `present`: 5 with a spatial prior, else 1. */
  readonly width: number;

  constructor(
    readonly inner: OutputLayer,
    readonly copy: boolean,
    readonly priorKind: 'bigram' | 'spatial' | 'none',
  ) {
    this.width = priorKind === 'spatial' ? SPATIAL_WIDTH : 1;
    this.kind = inner.kind;
    this.k = inner.k;
    this.hidden = inner.hidden;
    this.direct = inner.direct;
    this.components = ['net', ...(copy ? ['copy' as const] : []), ...(priorKind !== 'none' ? ['prior' as const] : [])];
    if (this.components.length < 2) fail('E_RANGE', 'mixture', 'copy or a prior (else use the plain layer)', this.components);
    const m = this.components.length;
    this.wg = zeroVariable(this.hidden, m);
    this.bg = zeroVariable(m);
    this.variables = [...inner.variables, this.wg, this.bg];
  }

  /** The counted table of the prior component (null before it is set). */
  get prior(): CountedPrior | null {
    return this.priorTable;
  }

  /**
   * Sets the counted table of the prior component: a {@link SparseBigram} for 'bigram', a {@link SpatialPrior}
   * for 'spatial' (E_STATE when this mixture has no prior or the table is of the other kind, E_SHAPE on another k).
   */
  setPrior(table: CountedPrior): void {
    if (this.priorKind === 'none') fail('E_STATE', 'setPrior', 'a mixture with a prior component', 'one without');
    const kind = table instanceof SpatialPrior ? 'spatial' : 'bigram';
    if (kind !== this.priorKind) fail('E_STATE', 'setPrior', `a ${this.priorKind} prior table`, `a ${kind} one`);
    if (table.k !== this.k) fail('E_SHAPE', 'prior.k', `${this.k}`, table.k);
    this.priorTable = table;
  }

  /** p of the prior component for the cell whose context starts at ctx[at] (uniform before the table is set). */
  priorProbAt(ctx: ArrayLike<number>, at: number, b: number, leaveOneOut = false): number {
    const t = this.priorTable;
    if (t === null) return 1 / this.k;
    return t instanceof SpatialPrior ? t.prob(ctx, at, b, leaveOneOut) : t.prob(ctx[at], b, leaveOneOut);
  }

  /**
   * The prior component's p(· | the cell whose context starts at ctx[at]) as a function of the code, its row read
   * once (the priors' openRow; uniform before the table is set): the same values as {@link priorProbAt}. Valid
   * until {@link closePriorRow}, which every open must be paired with (try/finally); allocates nothing.
   */
  private openPriorRow(ctx: ArrayLike<number>, at: number): (b: number) => number {
    const t = this.priorTable;
    if (t === null) return this.uniformP;
    return t instanceof SpatialPrior ? t.openRow(ctx, at) : t.openRow(ctx[at]);
  }

  /** Ends an {@link openPriorRow}. */
  private closePriorRow(): void {
    this.priorTable?.closeRow();
  }

  /** The prior component's p before a table is set: uniform. */
  private readonly uniformP = (): number => 1 / this.k;

  /** The prior component's whole distribution for the cell whose context starts at ctx[at], into out[offset ..). */
  private priorRow(ctx: ArrayLike<number>, at: number, out: Float32Array, offset: number): void {
    const t = this.priorTable;
    if (t === null) out.fill(1 / this.k, offset, offset + this.k);
    else if (t instanceof SpatialPrior) t.row(ctx, at, out, offset);
    else t.row(ctx[at], out, offset);
  }

  /** The prior's m best codes for the cell whose context starts at ctx[at], into codes/values[base .. base + m). */
  private priorTop(ctx: ArrayLike<number>, at: number, m: number, codes: Int32Array, values: Float64Array, base: number): void {
    const t = this.priorTable!;
    if (t instanceof SpatialPrior) t.topRowInto(ctx, at, m, codes, values, base);
    else t.topRowInto(ctx[at], m, codes, values, base);
  }

  /**
   * Reads `present` (E_SHAPE/E_DTYPE/E_RANGE when it is not [n] codes, or [n, 5] contexts with a spatial prior):
   * the context data, n·width int32, and the cells' own codes as an int32 tensor [n] (the caller disposes it
   * when it differs from `present`).
   */
  private readPresent(present: tf.Tensor | undefined, n: number): { ctx: Int32Array; codes: tf.Tensor1D } {
    if (present === undefined) fail('E_RANGE', 'present', 'the present codes [n] (a copy-aware output reads them)', present);
    if (this.width === 1) return { ctx: checkTargets(present, n, this.k, 'present'), codes: present as tf.Tensor1D };
    if (!(present instanceof tf.Tensor)) fail('E_DTYPE', 'present', 'a tf.Tensor2D', present);
    if (present.rank !== 2 || present.shape[0] !== n || present.shape[1] !== this.width) {
      fail('E_SHAPE', 'present.shape', `[${n}, ${this.width}] (each cell's code and its neighbours')`, `[${present.shape.join(', ')}]`);
    }
    if (present.dtype !== 'int32') fail('E_DTYPE', 'present.dtype', 'int32', present.dtype);
    const ctx = present.dataSync() as Int32Array;
    for (let i = 0; i < ctx.length; i++) {
      const top = i % this.width === 0 ? this.k - 1 : this.k;
      if (!(ctx[i] >= 0 && ctx[i] <= top)) fail('E_RANGE', `present[${Math.floor(i / this.width)}][${i % this.width}]`, `a code in [0, ${top}]`, ctx[i]);
    }
    return { ctx, codes: tf.tidy(() => tf.reshape(tf.slice(present, [0, 0], [n, 1]), [n]) as tf.Tensor1D) };
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
    return tf.logSoftmax(this.gateLogits(h)) as tf.Tensor2D;
  }

  /** The gate's logits h·Wg + bg [n, m], before the softmax, plus the offsets of a {@link withOffsets} scope unless `raw`. */
  private gateLogits(h: tf.Tensor2D, raw = false): tf.Tensor2D {
    return tf.tidy(() => {
      const a = tf.add(tf.matMul(h, this.wg as tf.Tensor2D), this.bg) as tf.Tensor2D;
      return raw || this.active === null ? a : (tf.add(a, tf.tensor1d(this.active)) as tf.Tensor2D);
    });
  }

  private active: Float32Array | null = null;

  /**
   * Runs `fn` with `offsets` (one per component, {@link components} order; null = none) added to the gate logits
   * of every distribution this layer computes inside it ({@link gateTerms} excepted: they stay the trained
   * gate's), then removes them: the online adaptation of {@link OnlineGateOffsets}. Training never runs in one.
   */
  withOffsets<T>(offsets: ArrayLike<number> | null, fn: () => T): T {
    if (offsets !== null && offsets.length !== this.components.length) fail('E_SHAPE', 'offsets', `${this.components.length} gate offsets`, offsets.length);
    const before = this.active;
    this.active = offsets === null ? null : Float32Array.from(offsets);
    try {
      return fn();
    } finally {
      this.active = before;
    }
  }

  logProb(h: tf.Tensor2D, targets: tf.Tensor1D, present?: tf.Tensor1D | tf.Tensor2D, leaveOneOut = false): tf.Tensor1D {
    return this.withComponents(h, targets, present, leaveOneOut, (comps) => logNormaliser(tf.add(this.logGates(h), comps) as tf.Tensor2D));
  }

  /**
   * Per cell, the gate logits h·Wg + bg and each component's log-likelihood of the cell's target (ln of a zero
   * probability is a huge negative number), both [n, m] row-major in {@link components} order: what
   * {@link fitGateOffsets} reads to refit the gate biases on held-out cells.
   */
  gateTerms(h: tf.Tensor2D, targets: tf.Tensor1D, present?: tf.Tensor1D | tf.Tensor2D): { logits: Float32Array; comps: Float32Array } {
    const comps = this.withComponents(h, targets, present, false, (c) => c);
    const logits = this.gateLogits(h, true);
    try {
      return { logits: logits.dataSync() as Float32Array, comps: comps.dataSync() as Float32Array };
    } finally {
      tf.dispose([comps, logits]);
    }
  }

  /** Adds `offsets` (one per component, {@link components} order) to the gate biases. */
  shiftGates(offsets: ArrayLike<number>): void {
    if (offsets.length !== this.components.length) fail('E_SHAPE', 'offsets', `${this.components.length} gate offsets`, offsets.length);
    for (let i = 0; i < offsets.length; i++) if (!Number.isFinite(offsets[i])) fail('E_RANGE', `offsets[${i}]`, 'a finite number', offsets[i]);
    tf.tidy(() => this.bg.assign(tf.add(this.bg, tf.tensor1d(Array.from(offsets)))));
  }

  /** Runs `fn` on each cell's component log-likelihoods of its target, [n, m], inside a tidy. */
  private withComponents<T extends tf.Tensor>(h: tf.Tensor2D, targets: tf.Tensor1D, present: tf.Tensor1D | tf.Tensor2D | undefined, leaveOneOut: boolean, fn: (comps: tf.Tensor2D) => T): T {
    const n = checkHidden(h, this.hidden);
    const t = checkTargets(targets, n, this.k);
    const { ctx, codes } = this.readPresent(present, n);
    const w = this.width;
    const m = this.components.length;
    const extra = new Float32Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 1; j < m; j++) {
        const comp = this.components[j];
        extra[i * m + j] = comp === 'copy' ? (t[i] === ctx[i * w] ? 0 : LOG_ZERO) : Math.log(this.priorProbAt(ctx, i * w, t[i], leaveOneOut));
      }
    }
    try {
      return tf.tidy(() => {
        const lq = this.inner.logProb(h, targets, this.direct ? codes : undefined);
        const netColumn = tf.oneHot(tf.zeros([n], 'int32'), m) as tf.Tensor2D; // [n, m], 1 in column 0
        return fn(tf.add(tf.mul(netColumn, tf.expandDims(lq, 1)), tf.tensor2d(extra, [n, m])) as tf.Tensor2D);
      });
    } finally {
      if (codes !== present) codes.dispose();
    }
  }

  logProbsAll(h: tf.Tensor2D, present?: tf.Tensor1D | tf.Tensor2D): tf.Tensor2D {
    const n = checkHidden(h, this.hidden);
    const { ctx, codes } = this.readPresent(present, n);
    let priorRows: Float32Array | null = null;
    if (this.priorKind !== 'none') {
      priorRows = new Float32Array(n * this.k);
      for (let i = 0; i < n; i++) this.priorRow(ctx, i * this.width, priorRows, i * this.k);
    }
    try {
      return tf.tidy(() => {
        const gates = tf.split(this.logGates(h), this.components.length, 1) as tf.Tensor2D[];
        let out: tf.Tensor = tf.add(gates[0], this.inner.logProbsAll(h, this.direct ? codes : undefined));
        this.components.forEach((comp, j) => {
          if (comp === 'copy') {
            const at = tf.mul(tf.sub(1, tf.oneHot(codes, this.k)), LOG_ZERO);
            out = logAddExp(out, tf.add(gates[j], at));
          } else if (comp === 'prior') {
            out = logAddExp(out, tf.add(gates[j], tf.log(tf.tensor2d(priorRows!, [n, this.k]))));
          }
        });
        return out as tf.Tensor2D;
      });
    } finally {
      if (codes !== present) codes.dispose();
    }
  }

  /**
   * Each cell's m most probable codes of the mixture without all K probabilities. Of the inner layer's top d codes
   * by q (d = 2m first), the present code and the prior's d best codes, each is scored exactly; no other code can
   * beat π_net·q̄ + π_prior·b̄ (q̄ and b̄ the d-th values of the two lists), so a cell whose m-th probability
   * reaches that is exact. The other cells are searched again with 4d (up to K, where every code is scored).
   * (With d = m first, a trained vtest model at K = 1024 left 61% of the cells for a second pass, which cost more
   * than the first; with 2m, one cell in 1200.)
   * Null when the inner layer cannot find its top codes.
   */
  topCandidates(h: tf.Tensor2D, present: Int32Array, presentTensor: tf.Tensor1D | tf.Tensor2D | undefined, m: number, classBeam = Infinity): TopCandidates | null {
    const n = checkHidden(h, this.hidden);
    checkTopOptions(m, this.k, classBeam);
    if (!isTopSource(this.inner)) return null;
    if (this.width === 1) return this.topOf(h, present, present, presentTensor as tf.Tensor1D | undefined, m, classBeam);
    // a spatial prior reads each cell's context from the [n, 5] present tensor
    const { ctx, codes } = this.contextOf(presentTensor, present, n);
    try {
      return this.topOf(h, present, ctx, codes, m, classBeam);
    } finally {
      if (codes !== presentTensor) codes.dispose();
    }
  }

  /** {@link readPresent} of a spatial prior's [n, 5] contexts, each cell's own code checked against `present` (E_RANGE). */
  private contextOf(presentTensor: tf.Tensor1D | tf.Tensor2D | undefined, present: Int32Array, n: number): { ctx: Int32Array; codes: tf.Tensor1D } {
    const read = this.readPresent(presentTensor, n);
    for (let i = 0; i < n; i++) {
      if (read.ctx[i * this.width] !== present[i]) {
        if (read.codes !== presentTensor) read.codes.dispose();
        fail('E_RANGE', `present[${i}]`, `the code in presentTensor (${read.ctx[i * this.width]})`, present[i]);
      }
    }
    return read;
  }

  /** Each cell's mixture weights π [n, m] (with the offsets of a {@link withOffsets} scope), read to the host. */
  private gateWeights(h: tf.Tensor2D): Float32Array {
    return readTidy(() => tf.exp(this.logGates(h)));
  }

  /** An empty list of m candidates for each of n cells (codes −1, nothing proven yet). */
  private static emptyTop(n: number, m: number): TopCandidates {
    return { m, codes: new Int32Array(n * m).fill(-1), probs: new Float32Array(n * m), presentProbs: new Float32Array(n), exact: new Uint8Array(n) };
  }

  private topOf(h: tf.Tensor2D, present: Int32Array, ctx: Int32Array, presentTensor: tf.Tensor1D | undefined, m: number, classBeam: number): TopCandidates | null {
    const n = h.shape[0];
    const gates = this.gateWeights(h);
    const out = MixtureOutput.emptyTop(n, m);
    let cells: Int32Array = Int32Array.from({ length: n }, (_, i) => i);
    // the deeper passes reuse what the inner layer scored for the same cells before
    const memo: SearchMemo = { cells };
    try {
      for (let depth = Math.min(this.k, 2 * m); cells.length > 0; depth = Math.min(this.k, 4 * depth)) {
        memo.cells = cells;
        const sub = cells.length === n ? null : tf.tensor1d(cells, 'int32');
        const hs = sub ? (tf.gather(h, sub) as tf.Tensor2D) : h;
        const ps = this.direct && presentTensor ? (sub ? (tf.gather(presentTensor, sub) as tf.Tensor1D) : presentTensor) : undefined;
        try {
          const rest = this.scoreCells(hs, ps, cells, present, ctx, gates, depth, classBeam, out, memo);
          if (rest === null) return null;
          cells = rest;
        } finally {
          if (sub) tf.dispose([sub, hs, ...(ps ? [ps] : [])]);
        }
      }
    } finally {
      memo.release?.();
    }
    return out;
  }

  /**
   * One pass of {@link MixtureOutput.topCandidates} over `cells` (hs: their hidden rows) at depth d: writes their
   * lists into `out`; returns the cells whose lists are not proven yet (null when the inner layer cannot).
   */
  private scoreCells(hs: tf.Tensor2D, ps: tf.Tensor1D | undefined, cells: Int32Array, present: Int32Array, ctx: Int32Array, gates: Float32Array, depth: number, classBeam: number, out: TopCandidates, memo: SearchMemo): Int32Array | null {
    const pass = this.passRequest(cells, present, ctx, gates, depth, out.m);
    const found = (this.inner as unknown as TopSource).logCandidates(hs, ps, depth, pass.extras, classBeam, pass.floor, memo);
    return found ? this.passLists(found, pass, cells, present, ctx, gates, depth, out) : null;
  }

  /** What one pass asks the inner layer at depth d: the extra codes of each cell (its present code, then the prior's d best) and the search floor (unless `withFloor` is false: an async source scores every code anyway). */
  private passRequest(cells: Int32Array, present: Int32Array, ctx: Int32Array, gates: Float32Array, depth: number, m: number, withFloor = true, priorDepth = depth): MixturePass {
    const table = this.priorTable;
    const w = this.width;
    const hasPrior = this.components.includes('prior');
    // extras per cell: the present code, then the prior's best codes
    const pd = hasPrior && table ? Math.min(this.k, priorDepth) : 0;
    const prior = pd > 0 ? { depth: pd, codes: new Int32Array(cells.length * pd), values: new Float64Array(cells.length * pd) } : null;
    const start = new Int32Array(cells.length + 1);
    for (let r = 0; r < cells.length; r++) start[r + 1] = start[r] + 1 + pd;
    const extraCodes = new Int32Array(start[cells.length]);
    for (let r = 0; r < cells.length; r++) {
      const i = cells[r];
      extraCodes[start[r]] = present[i];
      if (prior) {
        this.priorTop(ctx, i * w, pd, prior.codes, prior.values, r * pd);
        for (let j = 0; j < pd; j++) extraCodes[start[r] + 1 + j] = prior.codes[r * pd + j];
      }
    }
    const floor = withFloor && prior && depth < this.k ? this.searchFloor(cells, present, gates, prior, m) : undefined;
    return { extras: { start, codes: extraCodes }, floor, prior };
  }

  /** Merges what the inner layer found in one pass into the cells' mixture lists (in `out`); returns the cells not proven yet. */
  private passLists(found: LogCandidates, pass: MixturePass, cells: Int32Array, present: Int32Array, ctx: Int32Array, gates: Float32Array, depth: number, out: TopCandidates): Int32Array {
    const { m } = out;
    const w = this.width;
    const hasPrior = this.components.includes('prior');
    const { prior: lists } = pass;
    const { start, codes: extraCodes } = pass.extras;
    const vals = new Float64Array(m);
    const codes = new Int32Array(m);
    const again = new Int32Array(cells.length);
    let nAgain = 0;
    const weights = this.weightScratch;
    for (let r = 0; r < cells.length; r++) {
      const i = cells[r];
      const b = this.openPriorRow(ctx, i * w);
      try {
        const x = present[i];
        this.weightsAt(gates, i, weights);
        const net = weights[0];
        const copy = weights[1];
        const prior = weights[2];
        vals.fill(-Infinity);
        codes.fill(-1);
        for (let j = r * depth; j < (r + 1) * depth; j++) {
          const c = found.codes[j];
          if (c < 0) continue;
          const v = net * Math.exp(found.logq[j]) + (c === x ? copy : 0) + (hasPrior ? prior * b(c) : 0);
          // tested here first: the call would box v (a heap number a candidate, most of them turned away)
          if (!turnedAway(codes, vals, m - 1, c, v)) offerTopOnce(codes, vals, 0, m, c, v);
        }
        const px = net * Math.exp(found.extraLogq[start[r]]) + copy + (hasPrior ? prior * b(x) : 0);
        offerTopOnce(codes, vals, 0, m, x, px);
        // the prior's codes, by prior descending: one outside the network's list has p ≤ π_net·q̄ + π_prior·b (+ copy
        // for the present code, offered above), so where that falls below the list's last, so does every later one
        // (their prior values are the lists', the same numbers b gives)
        const netBound = found.exact[r] === 1 ? net * Math.exp(found.bound[r]) : Infinity;
        for (let e = start[r] + 1; e < start[r + 1]; e++) {
          const c = extraCodes[e];
          const b0 = lists!.values[r * lists!.depth + e - start[r] - 1];
          if (c < 0 || netBound + prior * b0 < vals[m - 1]) break;
          const v = net * Math.exp(found.extraLogq[e]) + (c === x ? copy : 0) + prior * b0;
          if (!turnedAway(codes, vals, m - 1, c, v)) offerTopOnce(codes, vals, 0, m, c, v);
        }
        out.codes.set(codes, i * m);
        for (let j = 0; j < m; j++) out.probs[i * m + j] = vals[j];
        out.presentProbs[i] = px;
        // no code outside the lists can beat π_net·q̄ + π_prior·b̄; at depth K every code was scored
        const priorBound = !hasPrior ? 0 : lists ? lists.values[(r + 1) * lists.depth - 1] : 1 / this.k;
        const proven = depth >= this.k || vals[m - 1] >= net * Math.exp(found.bound[r]) + prior * priorBound;
        out.exact[i] = proven && found.exact[r] === 1 ? 1 : 0;
        // a list a class beam cut short stays as it is (the approximation asked for)
        if (!proven && found.exact[r] === 1) again[nAgain++] = i;
      } finally {
        this.closePriorRow();
      }
    }
    return again.slice(0, nAgain);
  }

  /**
   * {@link MixtureOutput.topCandidates} with the inner layer's lists from `source` (e.g. an ONNX runtime), which
   * scores the rows of `h` ([n, hidden] row-major) it is given: the same passes, the same proofs. `offsets` are
   * the gate offsets of a {@link withOffsets} scope (a scope cannot span an await, so they come as an argument).
   */
  async topCandidatesAsync(h: tf.Tensor2D, present: Int32Array, presentTensor: tf.Tensor1D | tf.Tensor2D | undefined, m: number, source: AsyncTopSource, offsets: ArrayLike<number> | null = null): Promise<TopCandidates> {
    const n = checkHidden(h, this.hidden);
    checkTopOptions(m, this.k, Infinity);
    checkSource(source, this);
    let ctx = present;
    if (this.width > 1) {
      // only the contexts are read here: the source scores h alone
      const read = this.contextOf(presentTensor, present, n);
      if (read.codes !== presentTensor) read.codes.dispose();
      ctx = read.ctx;
    }
    const gates = this.withOffsets(offsets, () => this.gateWeights(h));
    const hData = h.dataSync() as Float32Array;
    const out = MixtureOutput.emptyTop(n, m);
    let cells: Int32Array = Int32Array.from({ length: n }, (_, i) => i);
    // the passes of this search share what the source keeps of its first run
    const memo: AsyncSearchMemo = {};
    // depth doubles (the tfjs search's quadruples): a source's selections cost in proportion to the depth, and at
    // K = 10,000 a third of the cells need a second pass but only a twelfth a third (1.06x a frame, same lists)
    const deep = this.asyncPriorDepth;
    for (let depth = Math.min(this.k, 2 * m); cells.length > 0; depth = Math.min(this.k, 2 * depth)) {
      const pass = this.passRequest(cells, present, ctx, gates, depth, m, false, deep * depth);
      const found = await source.logCandidatesAsync(hData, cells, depth, pass.extras, memo);
      const before = cells.length;
      cells = this.passLists(found, pass, cells, present, ctx, gates, depth, out);
      if (before === n && n > 0) this.asyncPriorDepth = cells.length * 8 > n ? 3 : cells.length * 32 < n ? 1 : deep;
    }
    return out;
  }

  /**
   * Per cell, the ln q below which the inner layer's search may stop: copy·[c = present] + π_prior·b(c) over the
   * prior's top codes and the present code is a lower bound on p(c), so the m-th largest of them, L, is at most the
   * mixture's m-th probability; a code outside the prior's list (b ≤ b̄, its last value) with
   * π_net·q + π_prior·b̄ ≤ L cannot enter the top m. So q ≤ (L − π_prior·b̄) / π_net needs no search
   * (−∞ where that is not positive).
   */
  private searchFloor(cells: Int32Array, present: Int32Array, gates: Float32Array, lists: PriorLists, m: number): Float64Array {
    const floor = new Float64Array(cells.length).fill(-Infinity);
    const codes = new Int32Array(m);
    const vals = new Float64Array(m);
    const weights = this.weightScratch;
    const d = lists.depth;
    for (let r = 0; r < cells.length; r++) {
      const i = cells[r];
      const x = present[i];
      this.weightsAt(gates, i, weights);
      const net = weights[0];
      const copy = weights[1];
      const prior = weights[2];
      codes.fill(-1);
      vals.fill(-Infinity);
      for (let j = r * d; j < (r + 1) * d; j++) if (lists.codes[j] >= 0) offerTopOnce(codes, vals, 0, m, lists.codes[j], prior * lists.values[j] + (lists.codes[j] === x ? copy : 0));
      // after the prior's codes: when the present code is among them it is already there with its prior term
      offerTopOnce(codes, vals, 0, m, x, copy);
      const room = vals[m - 1] - prior * lists.values[(r + 1) * d - 1];
      if (room > 0 && net > 0) floor[r] = Math.log(room / net);
    }
    return floor;
  }

  /** Cell i's mixture weights [π_net, π_copy, π_prior] from its row of `gates`, into `out` (0 for a component this mixture lacks). */
  private weightsAt(gates: Float32Array, i: number, out: Float64Array): void {
    const nm = this.components.length;
    const copyAt = this.components.indexOf('copy');
    const priorAt = this.components.indexOf('prior');
    out[0] = gates[i * nm];
    out[1] = copyAt > 0 ? gates[i * nm + copyAt] : 0;
    out[2] = priorAt > 0 ? gates[i * nm + priorAt] : 0;
  }

  /** {@link weightsAt}'s scratch for the per-cell loops. */
  private readonly weightScratch = new Float64Array(3);

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
 * [present, next] interleaved; `priorProb(a, b, i)` gives the prior component's probability of pair i (held
 * out; a spatial prior reads the pair's context by its index).
 */
export function emGateWeights(
  components: MixtureComponent[],
  pairs: Int32Array,
  k: number,
  priorProb: (a: number, b: number, pair: number) => number,
  iterations = 30,
): Float64Array {
  const m = components.length;
  const n = pairs.length / 2;
  const like = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const a = pairs[2 * i];
    const b = pairs[2 * i + 1];
    components.forEach((comp, j) => {
      like[i * m + j] = comp === 'net' ? 1 / k : comp === 'copy' ? (a === b ? 1 : 0) : priorProb(a, b, i);
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
