import { VqvidError, fail } from '@vqvid/core';

/**
 * Names of the assignment backends: gpu.js modes (`webgpu`, `webgl2`, `headlessgl`, `webasm`), tfjs's
 * WebAssembly backend (`tfjs-wasm`, one XNNPACK GEMM per tile) and the hand-written WebAssembly SIMD kernel on
 * worker threads (`wasm-simd`, called `cpu` before; that name stays an alias).
 */
export type BackendName = 'webgpu' | 'webgl2' | 'headlessgl' | 'tfjs-wasm' | 'webasm' | 'wasm-simd';

/** What a backend request may say: a name, `'cpu'` (the old name of `wasm-simd`), or `'auto'` for the fastest that works here. */
export type BackendRequest = BackendName | 'cpu' | 'auto';

/**
 * Result of one assignment step: `labels[i]` is the index of the nearest centroid of point i (lowest index on
 * ties) and `dist[i]` its squared Euclidean distance, recomputed exactly as Σ(x − c)² for the chosen centroid.
 */
export interface AssignResult {
  /** [n] index of the nearest centroid of each point, lowest index on ties. */
  labels: Int32Array;
  /** [n] squared Euclidean distance of each point to its labelled centroid. */
  dist: Float32Array;
}

/**
 * The one interface every assignment backend implements (internal to the package, exported for benchmarks).
 * `data` holds `n` rows of `dim` floats, `centroids` holds `k` rows of `dim` floats.
 */
export interface AssignBackend {
  /** Which backend this is. */
  readonly name: BackendName;
  /**
   * Nearest centroid of each of `n` points: `data` is [n*dim] row-major, `centroids` [k*dim] row-major;
   * resolves to labels and squared Euclidean distances.
   */
  assign(data: Float32Array, n: number, centroids: Float32Array, k: number, dim: number): Promise<AssignResult>;
  /** Releases kernels, contexts and worker pools. */
  dispose(): void;
}

/**
 * The slow, obviously-correct reference: for every point, every centroid, Σ(x − c)² in float64; strict `<`
 * so the lowest index wins ties.
 * @param data n x dim row-major points. @param centroids k x dim row-major centroids.
 * @example
 * ```ts
 * const { labels, dist } = assignNaive(new Float32Array([0, 0, 5, 5]), 2, new Float32Array([1, 1, 4, 4]), 2, 2);
 * // labels = [0, 1], dist = [2, 2]
 * ```
 */
export function assignNaive(data: Float32Array, n: number, centroids: Float32Array, k: number, dim: number): AssignResult {
  const labels = new Int32Array(n);
  const dist = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    let bestJ = 0;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const t = data[i * dim + d] - centroids[j * dim + d];
        s += t * t;
      }
      if (s < best) {
        best = s;
        bestJ = j;
      }
    }
    labels[i] = bestJ;
    dist[i] = best;
  }
  return { labels, dist };
}

/** Squared norms of `k` rows of `dim` floats, accumulated in float64. */
export function rowNorms(rows: Float32Array, k: number, dim: number): Float64Array {
  const out = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let d = j * dim, e = d + dim; d < e; d++) s += rows[d] * rows[d];
    out[j] = s;
  }
  return out;
}

/**
 * Mean of the `k` centroid rows, rounded to integers. Backends subtract it from points and centroids before
 * the float32 search: distances do not change, but the norms that set the rounding floor of
 * ||x||² − 2x·c + ||c||² shrink to the data's spread instead of its distance from the origin. Integer
 * rounding keeps integer-valued data exact, so exact ties still go to the lowest index on every backend.
 */
export function centroidMean(centroids: Float32Array, k: number, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let j = 0; j < k; j++) for (let d = 0; d < dim; d++) mean[d] += centroids[j * dim + d];
  for (let d = 0; d < dim; d++) mean[d] = Math.round(mean[d] / k);
  return mean;
}

/** Rows `from..from+count` of `src` minus `mean`, written into `dst` at row 0 (rows past count untouched). */
export function centerRows(dst: Float32Array, src: Float32Array, from: number, count: number, dim: number, mean: Float64Array): Float32Array {
  for (let i = 0; i < count; i++) {
    const o = (from + i) * dim;
    for (let d = 0; d < dim; d++) dst[i * dim + d] = src[o + d] - mean[d];
  }
  return dst;
}

/**
 * Exact squared distance of each point to its labelled centroid; every backend reports these, so distances
 * agree across backends whenever labels do (O(n·dim), cheap next to the O(n·k·dim) search).
 */
export function labelDistances(data: Float32Array, n: number, centroids: Float32Array, dim: number, labels: Int32Array): Float32Array {
  const dist = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const xo = i * dim;
    const co = labels[i] * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const t = data[xo + d] - centroids[co + d];
      s += t * t;
    }
    dist[i] = s;
  }
  return dist;
}

/**
 * Folds the labels `cand` (absolute centroid indices) of points p0..p0+cand.length, found in one centroid
 * tile starting at k0, into the running result. With several centroid tiles the choice is by exact distance,
 * strict `<` with earlier tiles first, so ties still go to the lowest index.
 */
export function mergeTile(
  cand: Int32Array, p0: number, k0: number, data: Float32Array, centroids: Float32Array, dim: number,
  result: AssignResult, tiled: boolean,
): void {
  if (!tiled) {
    result.labels.set(cand, p0);
    return;
  }
  const count = cand.length;
  const cd = labelDistances(data.subarray(p0 * dim, (p0 + count) * dim), count, centroids, dim, cand);
  for (let i = 0; i < count; i++) {
    if (k0 === 0 || cd[i] < result.dist[p0 + i]) {
      result.dist[p0 + i] = cd[i];
      result.labels[p0 + i] = cand[i];
    }
  }
}

/**
 * The start-up check of a backend: an integer-valued problem (exact in float32) with a duplicated centroid,
 * so the lowest-index tie rule is tested too, and k not a multiple of any block. `before` runs between the
 * assignment and the label check (gpu.js checks which mode really ran). Throws E_BACKEND on a wrong label.
 */
export async function selfTest(backend: AssignBackend, before?: () => void): Promise<void> {
  const n = 13, k = 11, dim = 3;
  const data = new Float32Array(n * dim).map((_, i) => (i * 7) % 11);
  const cents = new Float32Array(k * dim).map((_, i) => (i * 5) % 9);
  cents.copyWithin(3 * dim, 0, dim); // centroid 3 duplicates centroid 0: lowest index must win
  const got = await backend.assign(data, n, cents, k, dim);
  before?.();
  const want = assignNaive(data, n, cents, k, dim);
  for (let i = 0; i < n; i++) {
    if (got.labels[i] !== want.labels[i]) {
      throw new VqvidError('E_BACKEND', `backend ${backend.name}: self-test label ${i} is ${got.labels[i]}, expected ${want.labels[i]}`);
    }
  }
}

/** Validates the raw arguments shared by every assignment entry point. */
export function checkAssignArgs(data: unknown, n: number, centroids: unknown, k: number, dim: number): void {
  if (!(data instanceof Float32Array)) fail('E_DTYPE', 'data', 'a Float32Array', data);
  if (!(centroids instanceof Float32Array)) fail('E_DTYPE', 'centroids', 'a Float32Array', centroids);
  if (!Number.isInteger(dim) || dim < 1) fail('E_RANGE', 'dim', 'an integer >= 1', dim);
  if (!Number.isInteger(k) || k < 1) fail('E_RANGE', 'k', 'an integer >= 1', k);
  if (data.length !== n * dim) fail('E_SHAPE', 'data.length', `n * dim = ${n * dim}`, data.length);
  if (centroids.length !== k * dim) fail('E_SHAPE', 'centroids.length', `k * dim = ${k * dim}`, centroids.length);
}
