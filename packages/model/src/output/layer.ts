import * as tf from '@tensorflow/tfjs-core';
import { Rng, fail } from '@vqvid/core';
import { valuesInPlace } from '../kernels';

/**
 * A normalised output distribution over K codes given hidden states: the last layer of the language model.
 * Every method runs inside its own `tf.tidy`; the caller disposes what it gets back.
 */
export interface OutputLayer {
  /** 'full': one softmax over K; 'factored': p(class) · p(code | class). */
  readonly kind: 'full' | 'factored';
  /** Number of codes K. */
  readonly k: number;
  /** Width of the hidden state fed in. */
  readonly hidden: number;
  /**
   * Whether the logits also get direct connections from the present code of the cell (a learned same-cell
   * bigram table, as in Mikolov et al. 2011's RNNME); `present` is then required by both methods.
   */
  readonly direct: boolean;
  /**
   * Trainable weights, in a fixed order (full: [W, b], then [D] when direct; factored: [Wc, bc, Wx, bx],
   * then [Dc, Dx] when direct).
   */
  readonly variables: tf.Variable[];
  /**
   * ln p(target | h, present) for each row: h [n, hidden] float32, targets [n] int32 in [0, K) → [n];
   * `present` [n] int32, the code of each row's cell in the frame before the target (direct and mixture
   * layers; a mixture with a spatial prior takes [n, 5]: that code, then its 4 neighbours'); `leaveOneOut`: a mixture scores its counted prior as if each (present, target) pair had not been
   * counted (used on the training codes the prior was counted on; other layers ignore it).
   */
  logProb(h: tf.Tensor2D, targets: tf.Tensor1D, present?: tf.Tensor1D | tf.Tensor2D, leaveOneOut?: boolean): tf.Tensor1D;
  /** The whole log-distribution: h [n, hidden] → [n, K], each row's exp summing to 1 (`present` as in logProb). */
  logProbsAll(h: tf.Tensor2D, present?: tf.Tensor1D | tf.Tensor2D): tf.Tensor2D;
  /**
   * Direct layers: sets the direct tables so that, with W and b at zero, p(x | present = a) = exp(table[a·K + x])
   * exactly; `table` is a row-major [K, K] log-distribution per row (see bigramLogTable). E_STATE otherwise.
   */
  initDirect(table: Float32Array): void;
  /** Direct layers: whether every direct table entry is still zero (never initialised nor trained). */
  directIsZero(): boolean;
  /** Plain-JSON configuration (kind, sizes, class assignment); the weights live in `variables`. */
  toJSON(): Record<string, unknown>;
  /** Disposes the variables. */
  dispose(): void;
}

/** A trainable variable holding `init`, which is disposed (tf.variable keeps its own reference to the data). */
export function variableOf(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init, true);
  init.dispose();
  return v;
}

/** Xavier-like N(0, 1/hidden) matrix [rows, cols] drawn from `rng` (seeded, so layers are reproducible). */
export function randomVariable(rng: Rng, rows: number, cols: number): tf.Variable {
  const std = 1 / Math.sqrt(rows);
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return variableOf(tf.tensor2d(values, [rows, cols]));
}

/** Zeros of `shape`: a bias [n], a direct table [k, k], a gate matrix. */
export function zeroVariable(...shape: number[]): tf.Variable {
  return variableOf(tf.zeros(shape));
}

/** Checks h is float32 [n, hidden] with n >= 1; returns n. */
export function checkHidden(h: unknown, hidden: number): number {
  if (!(h instanceof tf.Tensor)) fail('E_DTYPE', 'h', 'a tf.Tensor2D', h);
  if (h.rank !== 2 || h.shape[1] !== hidden) fail('E_SHAPE', 'h.shape', `[n, ${hidden}]`, `[${h.shape.join(', ')}]`);
  if (h.dtype !== 'float32') fail('E_DTYPE', 'h.dtype', 'float32', h.dtype);
  if (h.shape[0] < 1) fail('E_SHAPE', 'h.shape[0]', 'at least one row', h.shape[0]);
  return h.shape[0];
}

/** Checks targets is int32 [n] with values in [0, k); returns the values (read synchronously, n ints). */
export function checkTargets(targets: unknown, n: number, k: number, arg = 'targets'): Int32Array {
  if (!(targets instanceof tf.Tensor)) fail('E_DTYPE', arg, 'a tf.Tensor1D', targets);
  if (targets.rank !== 1 || targets.shape[0] !== n) fail('E_SHAPE', `${arg}.shape`, `[${n}]`, `[${targets.shape.join(', ')}]`);
  if (targets.dtype !== 'int32') fail('E_DTYPE', `${arg}.dtype`, 'int32', targets.dtype);
  const t = targets.dataSync() as Int32Array;
  for (let i = 0; i < n; i++) if (t[i] < 0 || t[i] >= k) fail('E_RANGE', `${arg}[${i}]`, `a code in [0, ${k})`, t[i]);
  return t;
}

/** Largest K a direct layer accepts: its [K, K] table and Adam's two moments take 192 MiB at 4096. */
export const MAX_DIRECT_K = 4096;

/**
 * Checks `present` for a layer: null for a layer without direct connections (it must then be absent), else
 * the values of an int32 [n] tensor of codes in [0, k).
 */
export function checkPresent(present: unknown, direct: boolean, n: number, k: number): Int32Array | null {
  if (!direct) {
    if (present !== undefined) fail('E_RANGE', 'present', 'nothing (this layer has no direct connections)', 'a tensor');
    return null;
  }
  if (present === undefined) fail('E_RANGE', 'present', 'the present codes [n] (this layer has direct connections)', present);
  return checkTargets(present, n, k, 'present');
}

/** Checks an initial direct table: a direct layer and k·k finite values. */
export function checkDirectTable(direct: boolean, table: unknown, k: number): Float32Array {
  if (!direct) fail('E_STATE', 'initDirect', 'a layer with direct connections', 'a layer without');
  if (!(table instanceof Float32Array) || table.length !== k * k) fail('E_SHAPE', 'table', `a Float32Array of ${k * k} (k·k) values`, table);
  for (let i = 0; i < table.length; i++) if (!Number.isFinite(table[i])) fail('E_RANGE', `table[${i}]`, 'a finite log-probability', table[i]);
  return table;
}

/** Whether every entry of the given variables is zero. */
export function allZero(vars: tf.Variable[]): boolean {
  return tf.tidy(() => vars.every((v) => tf.any(tf.notEqual(v, 0)).dataSync()[0] === 0));
}

/** Logits h·W + b: [n, hidden] × [hidden, m] → [n, m]. */
export function logits(h: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(h, w), b);
}

/**
 * ln Σ exp(z) per row, [n, m] → [n], from p = softmax(z) (computed here when not given): z_j − ln p_j at the row's
 * largest logit j, where p_j = 1 / Σ exp(z − z_j) ≥ 1/m (see {@link logNormaliser}). No gradient of its own.
 */
export function logSumExpOf(z: tf.Tensor2D, p?: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(tf.max(z, 1), tf.log(tf.max(p ?? tf.softmax(z), 1))) as tf.Tensor1D);
}

/**
 * ln Σ exp(logits) per row, [n, m] → [n], with its gradient given directly as dy·softmax(z): the factored
 * layer calls this once per class, and tf.logSumExp's recorded max/sub/exp/sum/log chain would add about
 * ten small backward ops per call, which dominate on wasm. The value comes from p = tf.softmax(z), one XNNPACK
 * operator on wasm with a vectorised exp (7 ms for [4096, 1024], where tf.logSumExp's exp alone takes 22): at the
 * row's largest logit z_j, p_j = 1 / Σ exp(z − z_j), so ln Σ exp(z) = z_j − ln p_j, and p_j ≥ 1/m keeps the log
 * well conditioned. The gradient is dy·p, from the same p (kept from the forward pass).
 */
export const logNormaliser: (z: tf.Tensor2D) => tf.Tensor1D = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [z, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const p = tf.softmax(z);
  const value = logSumExpOf(z as tf.Tensor2D, p as tf.Tensor2D);
  save([p]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], tf.expandDims(dy, 1)),
  };
}) as unknown as (z: tf.Tensor2D) => tf.Tensor1D;

/** flat[i] = i·m + cols[i]: each row's chosen entry in a row-major [n, m] matrix. */
function chosenEntries(cols: Int32Array, m: number): Int32Array {
  const flat = new Int32Array(cols.length);
  for (let i = 0; i < cols.length; i++) flat[i] = i * m + cols[i];
  return flat;
}

/** Whether the backend's tensors can be written in place by {@link pickGradient} (wasm and cpu). */
function writableInPlace(): boolean {
  return tf.getBackend() === 'wasm' || tf.getBackend() === 'cpu';
}

/** z[flat[i]] − ln Σ_j exp(z[i, j]) per row, from p = softmax(z) ({@link logSumExpOf}). */
function pickValue(z: tf.Tensor2D, p: tf.Tensor2D, flat: Int32Array): tf.Tensor1D {
  return tf.sub(tf.gather(tf.reshape(z, [-1]), tf.tensor1d(flat, 'int32')), logSumExpOf(z, p));
}

/**
 * The gradient of {@link pickValue} with respect to z: dy·(onehot − p), [n, m]. In place: the n chosen entries
 * are added into the fresh product −dy·p (no [n, m] one-hot); otherwise through a scatter (the same values).
 */
function pickGradient(p: tf.Tensor2D, dy: tf.Tensor, flat: Int32Array, inPlace: boolean): tf.Tensor2D {
  const [n, m] = p.shape;
  if (!inPlace) return tf.reshape(tf.sub(tf.scatterND(tf.tensor2d(flat, [n, 1], 'int32'), dy, [n * m]), tf.reshape(tf.mul(p, tf.expandDims(dy, 1)), [-1])), [n, m]);
  const d = dy.dataSync() as Float32Array;
  const g = tf.mul(p, tf.expandDims(tf.neg(dy), 1)) as tf.Tensor2D;
  // g is a fresh tensor no one has read: its n chosen entries are completed in place (on wasm a heap view, taken
  // after the last allocation)
  const v = valuesInPlace(g);
  for (let i = 0; i < n; i++) v[flat[i]] += d[i];
  return g;
}

/**
 * ln softmax(z)[i, cols[i]] per row, [n, m] → [n]: z[i, cols[i]] − ln Σ_j exp(z[i, j]), with its gradient given
 * directly as dy·(onehot(cols) − softmax(z)). One op where a chosen logit computed apart (a gather of the weight
 * columns, and in the backward pass a scatter into a weight-sized gradient, its transposes and an add) costs
 * passes over the whole weight matrix: the chosen logit is read from z, which the layer computes anyway, so its
 * gradient goes back through z's own matMul. The value comes from {@link logSumExpOf} and one gather of the n
 * chosen entries. `inPlace` (default: on wasm and cpu, whose tensors' values can be reached in place) adds the
 * gradient's n chosen entries into the fresh product −dy·softmax(z), no [n, m] one-hot; otherwise they go in
 * through a scatter (the same values). `cols` must lie in [0, m): callers pass columns they built.
 */
export function pickedLogProb(z: tf.Tensor2D, cols: Int32Array, inPlace = writableInPlace()): tf.Tensor1D {
  const [n, m] = z.shape;
  if (cols.length !== n) fail('E_SHAPE', 'cols', `one column per row of z (${n})`, cols.length);
  const flat = chosenEntries(cols, m);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const p = tf.softmax(x) as tf.Tensor2D;
    save([p]);
    return { value: pickValue(x, p, flat), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => pickGradient(saved[0] as tf.Tensor2D, dy, flat, inPlace) };
  });
  return op(z) as tf.Tensor1D;
}
