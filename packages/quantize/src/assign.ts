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
  /**
   * Optional: the two smallest scores per row and column segment of each task (see {@link Top2Task}), for
   * k-means loops with bounds that search only some centroids of some points (kmeans-yinyang.ts). Backends
   * without it are served by `top2Reference`.
   */
  top2?(tasks: Top2Task[]): Promise<Top2Result[]>;
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

/**
 * One block of work for a top-2 search: `rows` points against `cols` centroids whose columns are cut into
 * segments. Scores are y = ||c − m||² − 2(x − m)·(c − m) (squared distance minus ||x − m||²), the tfjs-wasm
 * GEMM layout: `a` is [rows, dim + 1] (see `augmentedRows`), `b` is [dim + 1, cols] (see
 * `scoreMatrix`).
 */
export interface Top2Task {
  /** The points, [rows, dim + 1] row-major. */
  a: Float32Array;
  /** Number of points. */
  rows: number;
  /** The centroids, [dim + 1, cols] row-major. */
  b: Float32Array;
  /** Number of centroid columns. */
  cols: number;
  /** First column of each segment, ascending from 0; a segment ends where the next begins (the last at cols). */
  starts: Int32Array;
}

/**
 * Per row r and segment s (index r·segments + s): the column of the smallest score within the segment, relative
 * to the segment's start (`best`, first of equal scores on the reference; any of them on a backend), the
 * smallest score `v1` and the second smallest `v2` (Infinity for a one-column segment).
 */
export interface Top2Result {
  /** [rows · segments] the best column of each segment, relative to its start. */
  best: Int32Array;
  /** [rows · segments] the smallest score of each segment. */
  v1: Float32Array;
  /** [rows · segments] the second smallest score of each segment (Infinity for a one-column segment). */
  v2: Float32Array;
}

/** Points p0..p0+rows minus `mean`, each followed by a 1, as rows of dim + 1 floats (the `a` of a {@link Top2Task}). */
export function augmentedRows(data: Float32Array, p0: number, rows: number, dim: number, mean: Float64Array): Float32Array {
  const w = dim + 1;
  const out = new Float32Array(rows * w);
  for (let i = 0; i < rows; i++) {
    const o = (p0 + i) * dim;
    for (let d = 0; d < dim; d++) out[i * w + d] = data[o + d] - mean[d];
    out[i * w + dim] = 1;
  }
  return out;
}

/**
 * The [dim + 1, count] matrix whose column j is −2(c − mean) over ||c − mean||² for centroid k0 + j, so that
 * a point row [x − mean, 1] times it is ||c||² − 2x·c in centred coordinates (the `b` of a {@link Top2Task}).
 */
export function scoreMatrix(centroids: Float32Array, k0: number, count: number, dim: number, mean: Float64Array): Float32Array {
  const m = new Float32Array((dim + 1) * count);
  const c = centerRows(new Float32Array(count * dim), centroids, k0, count, dim, mean);
  const norms = rowNorms(c, count, dim);
  for (let j = 0; j < count; j++) {
    for (let d = 0; d < dim; d++) m[d * count + j] = -2 * c[j * dim + d];
    m[dim * count + j] = norms[j];
  }
  return m;
}

/**
 * The slow, obviously-correct top-2 search: every score of every task in float64 from the task's float32
 * inputs, strict `<` so the first of equal scores wins. Backends without `top2` use it.
 */
export async function top2Reference(tasks: Top2Task[]): Promise<Top2Result[]> {
  return tasks.map(({ a, rows, b, cols, starts }) => {
    const w = a.length / Math.max(rows, 1);
    const segs = starts.length;
    const out: Top2Result = { best: new Int32Array(rows * segs), v1: new Float32Array(rows * segs), v2: new Float32Array(rows * segs) };
    const y = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      y.fill(0);
      for (let d = 0; d < w; d++) {
        const x = a[r * w + d];
        for (let j = 0; j < cols; j++) y[j] += x * b[d * cols + j];
      }
      for (let s = 0; s < segs; s++) {
        const lo = starts[s], hi = s + 1 < segs ? starts[s + 1] : cols;
        let m1 = Infinity, m2 = Infinity, i1 = lo;
        for (let j = lo; j < hi; j++) {
          if (y[j] < m1) { m2 = m1; m1 = y[j]; i1 = j; } else if (y[j] < m2) m2 = y[j];
        }
        out.best[r * segs + s] = i1 - lo;
        out.v1[r * segs + s] = m1;
        out.v2[r * segs + s] = m2;
      }
    }
    return out;
  });
}
