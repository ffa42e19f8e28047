import { assertInt, assertNumber, fail } from '@vqvid/core';

/**
 * Samples as rows of a matrix: `data` [count, dims] row-major (features, or regression targets).
 * @example
 * ```ts
 * const x: SampleMatrix = { data: Float32Array.of(1, 2, 3, 4, 5, 6), count: 3, dims: 2 };
 * ```
 */
export interface SampleMatrix {
  /** The values, [count, dims] row-major. */
  data: ArrayLike<number>;
  /** Number of samples (rows). */
  count: number;
  /** Values per sample (columns). */
  dims: number;
}

/**
 * A fitted linear probe: on standardised features z = (x − mean) / scale, `ridge` predicts z·weights + bias and
 * `logistic` predicts σ(z·weights + bias), the probability of label 1. Plain data: JSON-serialisable after
 * `Array.from` of its arrays.
 * @example
 * ```ts
 * const probe: LinearProbe = fitRidge(x, y, { lambda: 10 });
 * const yHat = predictProbe(probe, xTest);
 * ```
 */
export interface LinearProbe {
  /** 'ridge' (least squares with an L2 penalty) or 'logistic' (L2-penalised logistic regression). */
  kind: 'ridge' | 'logistic';
  /** Feature dimensions. */
  dims: number;
  /** Outputs per sample (targets of a ridge probe; 1 for logistic). */
  outputs: number;
  /** Per-feature mean of the training features, [dims]. */
  mean: Float64Array;
  /** Per-feature scale: the training standard deviation (1 for constant features or without standardising), [dims]. */
  scale: Float64Array;
  /** Weights on the standardised features, [dims, outputs] row-major. */
  weights: Float64Array;
  /** Unpenalised intercepts, [outputs]. */
  bias: Float64Array;
  /** The L2 penalty λ used. */
  lambda: number;
  /** Newton (IRLS) steps taken (0 for ridge). */
  iterations: number;
  /** Whether the last Newton step was below the tolerance (true for ridge). */
  converged: boolean;
}

/**
 * Options of {@link fitRidge} and {@link fitLogistic}; every field has a default in {@link DEFAULT_PROBE_OPTIONS}.
 * @example
 * ```ts
 * const opts: ProbeOptions = { lambda: 1, standardize: true, maxIterations: 25 };
 * ```
 */
export interface ProbeOptions {
  /** L2 penalty λ ≥ 0 on the weights (not on the intercept), in units of the standardised features. */
  lambda?: number;
  /** Scale each feature to unit training variance before fitting, so λ means the same for every feature. */
  standardize?: boolean;
  /** Logistic only: the most Newton (IRLS) steps. */
  maxIterations?: number;
  /** Logistic only: stop when no coefficient moves by more than this in a Newton step. */
  tolerance?: number;
  /**
   * Logistic only: start Newton from this probe's coefficients instead of zero — a probe fitted on the same
   * features with another λ, so a path of penalties converges in a few steps each (no default).
   */
  init?: LinearProbe;
}

/**
 * The defaults of {@link ProbeOptions}.
 * @example
 * ```ts
 * fitLogistic(x, labels, { lambda: DEFAULT_PROBE_OPTIONS.lambda * 10 });
 * ```
 */
export const DEFAULT_PROBE_OPTIONS: Readonly<Required<Omit<ProbeOptions, 'init'>>> = Object.freeze({ lambda: 1, standardize: true, maxIterations: 25, tolerance: 1e-8 });

/**
 * Ridge regression of `y` on `x`: w minimises ‖y − z·w − b‖² + λ‖w‖² on standardised features z, solved in
 * closed form, (zᵀz + λI) w = zᵀ(y − ȳ), by Cholesky; the intercept b = ȳ is not penalised. Several target
 * columns share one factorisation.
 * @param x features [count, dims]; y targets [count, outputs].
 * @example
 * ```ts
 * const probe = fitRidge(features, { data: flowUV, count: n, dims: 2 }, { lambda: 10 });
 * ```
 */
export function fitRidge(x: SampleMatrix, y: SampleMatrix, opts: ProbeOptions = {}): LinearProbe {
  const { lambda, standardize } = resolveOptions(opts);
  assertMatrix(x, 'x');
  assertMatrix(y, 'y');
  if (y.count !== x.count) fail('E_SHAPE', 'y.count', `${x.count} (x.count)`, y.count);
  const { dims: d, count: n } = x;
  const m = y.dims;
  const { mean, scale, z } = standardise(x, standardize);
  const ym = columnMeans(y);
  const g = gram(z, n, d);
  for (let i = 0; i < d; i++) g[i * d + i] += lambda;
  const rhs = new Float64Array(d * m);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < d; i++) {
      const zi = z[s * d + i];
      for (let o = 0; o < m; o++) rhs[i * m + o] += zi * (y.data[s * m + o] - ym[o]);
    }
  }
  choleskySolve(cholesky(g, d), d, rhs, m);
  return { kind: 'ridge', dims: d, outputs: m, mean, scale, weights: rhs, bias: ym, lambda, iterations: 0, converged: true };
}

/**
 * L2-penalised logistic regression of binary `labels` (0 or 1) on `x`: minimises the negative log-likelihood
 * plus (λ/2)‖w‖² (intercept not penalised) by Newton steps (IRLS), each solving (zᵀWz + λI) δ = gradient by
 * Cholesky. Both classes must occur (E_RANGE otherwise).
 * @param x features [count, dims]; labels [count] of 0 and 1.
 * @example
 * ```ts
 * const probe = fitLogistic(features, changed, { lambda: 1 });
 * const p = predictProbe(probe, testFeatures); // probability of label 1 per sample
 * ```
 */
export function fitLogistic(x: SampleMatrix, labels: ArrayLike<number>, opts: ProbeOptions = {}): LinearProbe {
  const { lambda, standardize, maxIterations, tolerance } = resolveOptions(opts);
  assertMatrix(x, 'x');
  assertLabels(labels, x.count);
  const init = opts.init;
  if (init !== undefined && (init?.kind !== 'logistic' || init.dims !== x.dims)) fail('E_SHAPE', 'opts.init', `a logistic probe of ${x.dims} dims`, init?.kind);
  const { dims: d, count: n } = x;
  const { mean, scale, z } = standardise(x, standardize);
  // the design with a ones column for the intercept
  const a = new Float64Array(n * (d + 1));
  for (let s = 0; s < n; s++) {
    a.set(z.subarray(s * d, (s + 1) * d), s * (d + 1));
    a[s * (d + 1) + d] = 1;
  }
  let beta = new Float64Array(d + 1);
  if (init) {
    beta.set(init.weights);
    beta[d] = init.bias[0];
  }
  let loss = logisticLoss(a, n, d + 1, labels, beta, lambda);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations && !converged) {
    const { grad, hessian } = newtonSystem(a, n, d + 1, labels, beta, lambda);
    choleskySolve(cholesky(hessian, d + 1), d + 1, grad, 1);
    // Newton's step is exact near the optimum; far from it (nearly separable classes, small λ) it can overshoot,
    // so it is halved until the loss does not grow
    let step = 1;
    let next = beta.map((b, i) => b - grad[i]);
    let nextLoss = logisticLoss(a, n, d + 1, labels, next, lambda);
    while (nextLoss > loss && step > 1e-6) {
      step /= 2;
      next = beta.map((b, i) => b - step * grad[i]);
      nextLoss = logisticLoss(a, n, d + 1, labels, next, lambda);
    }
    converged = grad.reduce((m, g) => Math.max(m, Math.abs(step * g)), 0) < tolerance;
    beta = next;
    loss = nextLoss;
    iterations++;
  }
  return { kind: 'logistic', dims: d, outputs: 1, mean, scale, weights: beta.slice(0, d), bias: beta.slice(d), lambda, iterations, converged };
}

/**
 * What a probe predicts for each sample of `x` ([count, outputs] row-major): ridge targets, or the logistic
 * probe's probability of label 1.
 * @example
 * ```ts
 * const p = predictProbe(fitLogistic(x, labels), xTest);
 * ```
 */
export function predictProbe(probe: LinearProbe, x: SampleMatrix): Float64Array {
  assertMatrix(x, 'x');
  if (x.dims !== probe.dims) fail('E_SHAPE', 'x.dims', `${probe.dims} (the probe's dims)`, x.dims);
  const { dims: d, outputs: m, weights, bias, mean, scale } = probe;
  const out = new Float64Array(x.count * m);
  for (let s = 0; s < x.count; s++) {
    for (let o = 0; o < m; o++) {
      let v = bias[o];
      for (let i = 0; i < d; i++) v += ((x.data[s * d + i] - mean[i]) / scale[i]) * weights[i * m + o];
      out[s * m + o] = probe.kind === 'logistic' ? 1 / (1 + Math.exp(-v)) : v;
    }
  }
  return out;
}

/**
 * Area under the ROC curve of `scores` for binary `labels`, by ranks (the Mann–Whitney statistic): the
 * probability that a random positive scores above a random negative, ties counting one half. 1 = perfect
 * ranking, 0.5 = chance. Both classes must occur (E_RANGE otherwise).
 * @example
 * ```ts
 * rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]); // 0.75
 * ```
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  assertScores(scores, 'scores');
  const positives = assertLabels(labels, scores.length);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((i, j) => scores[i] - scores[j]);
  let rankSum = 0;
  for (let lo = 0; lo < order.length; ) {
    let hi = lo;
    while (hi + 1 < order.length && scores[order[hi + 1]] === scores[order[lo]]) hi++;
    // tied scores share the mean of their ranks (1-based)
    const rank = (lo + hi) / 2 + 1;
    for (let i = lo; i <= hi; i++) if (labels[order[i]] === 1) rankSum += rank;
    lo = hi + 1;
  }
  const negatives = scores.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Fraction in [0, 1] of samples whose probability `probs[i]` ≥ `threshold` (default 0.5) says the label is 1
 * exactly when `labels[i]` is 1.
 * @example
 * ```ts
 * binaryAccuracy([0.9, 0.2, 0.6], [1, 0, 0]); // 2/3
 * ```
 */
export function binaryAccuracy(probs: ArrayLike<number>, labels: ArrayLike<number>, threshold = 0.5): number {
  assertScores(probs, 'probs');
  assertLabels(labels, probs.length, false);
  assertNumber(threshold, 'threshold');
  let hits = 0;
  for (let i = 0; i < probs.length; i++) if ((probs[i] >= threshold ? 1 : 0) === labels[i]) hits++;
  return hits / probs.length;
}

/**
 * Coefficient of determination of predictions against the truth: 1 − Σ(t − p)² / Σ(t − t̄)²; 1 is perfect,
 * 0 is as good as predicting the mean, below 0 is worse. E_RANGE when the truth is constant.
 * @example
 * ```ts
 * rSquared([1, 2, 3.5], [1, 2, 3]); // 0.875
 * ```
 */
export function rSquared(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  assertScores(predicted, 'predicted');
  assertScores(truth, 'truth');
  if (predicted.length !== truth.length) fail('E_SHAPE', 'predicted.length', `${truth.length} (truth.length)`, predicted.length);
  let mean = 0;
  for (let i = 0; i < truth.length; i++) mean += truth[i] / truth.length;
  let res = 0;
  let tot = 0;
  for (let i = 0; i < truth.length; i++) {
    res += (truth[i] - predicted[i]) ** 2;
    tot += (truth[i] - mean) ** 2;
  }
  if (!(tot > 0)) fail('E_RANGE', 'truth', 'values that are not all equal', truth[0]);
  return 1 - res / tot;
}

function resolveOptions(opts: ProbeOptions): Required<Omit<ProbeOptions, 'init'>> {
  if (opts === null || typeof opts !== 'object') fail('E_RANGE', 'opts', 'an options object', opts);
  const o = { ...DEFAULT_PROBE_OPTIONS, ...opts };
  assertNumber(o.lambda, 'opts.lambda', 0);
  if (typeof o.standardize !== 'boolean') fail('E_RANGE', 'opts.standardize', 'true or false', o.standardize);
  assertInt(o.maxIterations, 'opts.maxIterations', 1);
  assertNumber(o.tolerance, 'opts.tolerance', 0);
  return o;
}

function assertMatrix(x: SampleMatrix, arg: string): void {
  if (x === null || typeof x !== 'object') fail('E_SHAPE', arg, 'a SampleMatrix { data, count, dims }', x);
  assertInt(x.count, `${arg}.count`, 1);
  assertInt(x.dims, `${arg}.dims`, 1);
  assertScores(x.data, `${arg}.data`);
  if (x.data.length !== x.count * x.dims) fail('E_SHAPE', `${arg}.data.length`, `${x.count * x.dims} (count × dims)`, x.data.length);
}

function assertScores(a: ArrayLike<number>, arg: string): void {
  if (a === null || typeof a !== 'object' || typeof a.length !== 'number') fail('E_DTYPE', arg, 'an array of numbers', a);
  if (a.length === 0) fail('E_SHAPE', `${arg}.length`, 'at least 1', 0);
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) fail('E_RANGE', `${arg}[${i}]`, 'a finite number', a[i]);
}

/** Checks labels are 0 or 1 (and, if asked, that both occur); returns the count of 1s. */
function assertLabels(labels: ArrayLike<number>, count: number, bothClasses = true): number {
  if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') fail('E_DTYPE', 'labels', 'an array of 0 and 1', labels);
  if (labels.length !== count) fail('E_SHAPE', 'labels.length', `${count}`, labels.length);
  let ones = 0;
  for (let i = 0; i < count; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) fail('E_RANGE', `labels[${i}]`, '0 or 1', labels[i]);
    ones += labels[i];
  }
  if (bothClasses && (ones === 0 || ones === count)) fail('E_RANGE', 'labels', 'both classes (some 0s and some 1s)', `${ones} of ${count} ones`);
  return ones;
}

function columnMeans(x: SampleMatrix): Float64Array {
  const mean = new Float64Array(x.dims);
  for (let s = 0; s < x.count; s++) for (let i = 0; i < x.dims; i++) mean[i] += x.data[s * x.dims + i];
  return mean.map((v) => v / x.count);
}

/** Centred (and, if asked, unit-variance) copies of the features, with the mean and scale used. */
function standardise(x: SampleMatrix, standardize: boolean): { mean: Float64Array; scale: Float64Array; z: Float64Array } {
  const { count: n, dims: d } = x;
  const mean = columnMeans(x);
  const z = new Float64Array(n * d);
  for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) z[s * d + i] = x.data[s * d + i] - mean[i];
  const scale = new Float64Array(d).fill(1);
  if (standardize) {
    const sq = new Float64Array(d);
    for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) sq[i] += z[s * d + i] ** 2;
    // a constant feature is all zeros after centring: leave its scale at 1
    for (let i = 0; i < d; i++) if (sq[i] > 0) scale[i] = Math.sqrt(sq[i] / n);
    for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) z[s * d + i] /= scale[i];
  }
  return { mean, scale, z };
}

/** Samples per block of {@link gram}: a block's columns stay in cache while every entry of the result is updated once. */
const GRAM_BLOCK = 256;

/** aᵀ diag(w) a of a [n, d] row-major matrix (w = 1 without weights), [d, d]. */
function gram(a: Float64Array, n: number, d: number, w?: Float64Array): Float64Array {
  const g = new Float64Array(d * d);
  // column-major copies of a block of rows (one weighted), so each entry is a dot product of two contiguous
  // vectors and the [d, d] result is swept once per block instead of once per sample (~3x faster at d = 640)
  const B = GRAM_BLOCK;
  const plain = new Float64Array(d * B);
  const weighted = w ? new Float64Array(d * B) : plain;
  for (let s0 = 0; s0 < n; s0 += B) {
    const b = Math.min(B, n - s0);
    for (let s = 0; s < b; s++) {
      for (let i = 0; i < d; i++) {
        const v = a[(s0 + s) * d + i];
        plain[i * B + s] = v;
        if (w) weighted[i * B + s] = v * w[s0 + s];
      }
    }
    for (let i = 0; i < d; i++) {
      const wi = i * B;
      let j = i;
      // four columns at a time share each load of the weighted column
      for (; j + 3 < d; j += 4) {
        const p = j * B;
        let s0j = 0;
        let s1j = 0;
        let s2j = 0;
        let s3j = 0;
        for (let s = 0; s < b; s++) {
          const x = weighted[wi + s];
          s0j += x * plain[p + s];
          s1j += x * plain[p + B + s];
          s2j += x * plain[p + 2 * B + s];
          s3j += x * plain[p + 3 * B + s];
        }
        g[i * d + j] += s0j;
        g[i * d + j + 1] += s1j;
        g[i * d + j + 2] += s2j;
        g[i * d + j + 3] += s3j;
      }
      for (; j < d; j++) {
        let sum = 0;
        for (let s = 0; s < b; s++) sum += weighted[wi + s] * plain[j * B + s];
        g[i * d + j] += sum;
      }
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) g[i * d + j] = g[j * d + i];
  return g;
}

/** a·beta per row of a [n, d] design (the log-odds). */
function logits(a: Float64Array, n: number, d: number, beta: Float64Array): Float64Array {
  const v = new Float64Array(n);
  for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) v[s] += a[s * d + i] * beta[i];
  return v;
}

/** The penalised negative log-likelihood: Σ ln(1 + e^v) − y·v + (λ/2)‖w‖² (the intercept, last, unpenalised). */
function logisticLoss(a: Float64Array, n: number, d: number, labels: ArrayLike<number>, beta: Float64Array, lambda: number): number {
  const v = logits(a, n, d, beta);
  let loss = 0;
  // ln(1 + e^v) without overflow
  for (let s = 0; s < n; s++) loss += Math.max(v[s], 0) + Math.log1p(Math.exp(-Math.abs(v[s]))) - labels[s] * v[s];
  for (let i = 0; i < d - 1; i++) loss += (lambda / 2) * beta[i] ** 2;
  return loss;
}

/** Gradient and Hessian of {@link logisticLoss} at beta. */
function newtonSystem(a: Float64Array, n: number, d: number, labels: ArrayLike<number>, beta: Float64Array, lambda: number): { grad: Float64Array; hessian: Float64Array } {
  const p = logits(a, n, d, beta).map((v) => 1 / (1 + Math.exp(-v)));
  const grad = new Float64Array(d);
  for (let s = 0; s < n; s++) {
    const r = p[s] - labels[s];
    for (let i = 0; i < d; i++) grad[i] += a[s * d + i] * r;
  }
  const hessian = gram(a, n, d, p.map((v) => v * (1 - v)));
  for (let i = 0; i < d - 1; i++) {
    grad[i] += lambda * beta[i];
    hessian[i * d + i] += lambda;
  }
  return { grad, hessian };
}

/** Lower Cholesky factor of a symmetric positive-definite [d, d] matrix (overwrites it); E_RANGE if it is (numerically) not. */
function cholesky(g: Float64Array, d: number): Float64Array {
  for (let j = 0; j < d; j++) {
    let diag = g[j * d + j];
    // a pivot that cancels to rounding noise of the diagonal means a singular matrix, not a tiny positive one
    const noise = diag * 1e-12;
    for (let k = 0; k < j; k++) diag -= g[j * d + k] ** 2;
    if (!(diag > noise)) fail('E_RANGE', 'opts.lambda', 'a penalty > 0 (the features are collinear or the classes separable, so the system is singular)', diag);
    const l = Math.sqrt(diag);
    g[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let v = g[i * d + j];
      for (let k = 0; k < j; k++) v -= g[i * d + k] * g[j * d + k];
      g[i * d + j] = v / l;
    }
  }
  return g;
}

/** Solves L Lᵀ X = B in place for `m` right-hand sides (B [d, m] row-major), L from {@link cholesky}. */
function choleskySolve(l: Float64Array, d: number, b: Float64Array, m: number): void {
  for (let o = 0; o < m; o++) {
    for (let i = 0; i < d; i++) {
      let v = b[i * m + o];
      for (let k = 0; k < i; k++) v -= l[i * d + k] * b[k * m + o];
      b[i * m + o] = v / l[i * d + i];
    }
    for (let i = d - 1; i >= 0; i--) {
      let v = b[i * m + o];
      for (let k = i + 1; k < d; k++) v -= l[k * d + i] * b[k * m + o];
      b[i * m + o] = v / l[i * d + i];
    }
  }
}
