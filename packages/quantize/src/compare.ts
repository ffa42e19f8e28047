import { Rng, assertInt, fail } from '@vqvid/core';
import { type AssignResult, type BackendName, type BackendRequest, assignNaive, checkAssignArgs, rowNorms } from './assign';
import { BACKEND_NAMES, type CreateBackendOptions, createBackend } from './backends';

/** Result of {@link assign}: labels and squared distances, and the backend that produced them. */
export interface AssignOutput extends AssignResult {
  /** Backend that ran the assignment. */
  backend: BackendName;
  /** Why it differs from the requested one (for 'auto': from the first preferred); null when it does not. */
  backendReason: string | null;
}

/**
 * One-shot nearest-centroid assignment on a chosen backend (starts it, runs, releases it); for benchmarks
 * and tools. For repeated calls use {@link createBackend} or {@link Quantizer}.
 * @param data n x dim row-major points; @param centroids k x dim row-major centroids.
 * @example
 * ```ts
 * const { labels, dist, backend } = await assign(points, 64, centroids, 1024, { backend: 'webasm' });
 * ```
 */
export async function assign(
  data: Float32Array, dim: number, centroids: Float32Array, k: number,
  opts: { backend?: BackendRequest } & CreateBackendOptions = {},
): Promise<AssignOutput> {
  assertInt(dim, 'dim', 1);
  if (!(data instanceof Float32Array)) fail('E_DTYPE', 'data', 'a Float32Array', data);
  const n = data.length / dim;
  if (!Number.isInteger(n)) fail('E_SHAPE', 'data.length', `a multiple of dim ${dim}`, data.length);
  checkAssignArgs(data, n, centroids, k, dim);
  const { backend, reason } = await createBackend(opts.backend ?? 'auto', opts);
  try {
    return { ...(await backend.assign(data, n, centroids, k, dim)), backend: backend.name, backendReason: reason };
  } finally {
    backend.dispose();
  }
}

/**
 * How far a result is from exact: over all points, the largest (d(x, chosen) − d(x, nearest)) divided by
 * (d(x, nearest) + eps·(||x||² + ||c_nearest||²)), so 0 means every choice is a true nearest centroid.
 * The eps term is the rounding floor of the float32 expansion ||x||² − 2x·c + ||c||².
 * @param labels the labels to judge; @param reference {@link assignNaive} on the same problem.
 * @example
 * ```ts
 * const want = assignNaive(data, n, centroids, k, dim);
 * const { labels } = await assign(data, dim, centroids, k, { backend: 'webasm' });
 * maxRelativeError(data, n, centroids, k, dim, labels, want) < 1e-4; // the package's tolerance
 * ```
 */
export function maxRelativeError(data: Float32Array, n: number, centroids: Float32Array, k: number, dim: number,
  labels: Int32Array, reference: AssignResult, eps = 1e-6): number {
  const norms = rowNorms(centroids, k, dim);
  const xn = rowNorms(data, n, dim);
  // both distances in float64, so a label equal to the reference's scores exactly 0
  const d2 = (i: number, j: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const t = data[i * dim + d] - centroids[j * dim + d];
      s += t * t;
    }
    return s;
  };
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const best = d2(i, reference.labels[i]);
    const err = (d2(i, labels[i]) - best) / (best + eps * (xn[i] + norms[reference.labels[i]]) + 1e-30);
    if (err > worst) worst = err;
  }
  return worst;
}

/** Per-backend line of {@link compareBackends}. */
export interface BackendComparison {
  /** Backend this line asked for. */
  requested: BackendName;
  /** Backend that actually ran (differs from requested after a fallback). */
  backend: BackendName;
  /** Why `backend` differs from `requested`; null when the requested backend started. */
  reason: string | null;
  /** {@link maxRelativeError} of its labels against the naive reference; 0 when every label is a true nearest centroid. */
  maxRelError: number;
  /** Share of points whose label equals the naive reference's. */
  labelAgreement: number;
  /** Milliseconds of one timed assignment of all n points, after an untimed warm-up call (kernel compilation). */
  ms: number;
  /** Point–centroid distance evaluations per second in that timed call: n * k / seconds. */
  evalsPerSec: number;
}

/**
 * Runs the same random clustered problem through each backend and the naive reference: max relative error
 * (see {@link maxRelativeError}), label agreement and timings. Free of Node-only imports, so a browser page
 * (with gpu-browser.js loaded) can call it to test webgl2/webgpu.
 * @example
 * ```ts
 * const report = await compareBackends({ n: 2000, k: 100, dim: 64, seed: 1, backends: ['webgl2', 'webasm', 'wasm-simd'] });
 * ```
 */
export async function compareBackends(opts: {
  n: number; k: number; dim: number; seed?: number; backends?: BackendName[];
} & CreateBackendOptions): Promise<{
  /** Milliseconds {@link assignNaive} took on the same problem. */
  naiveMs: number;
  /** One line per entry of `backends`, in that order. */
  results: BackendComparison[];
}> {
  const { n, k, dim, seed = 1, backends = [...BACKEND_NAMES] } = opts;
  assertInt(n, 'n', 1);
  assertInt(k, 'k', 1);
  assertInt(dim, 'dim', 1);
  const { data, centroids } = clusteredProblem(n, k, dim, seed);
  let t = performance.now();
  const reference = assignNaive(data, n, centroids, k, dim);
  const naiveMs = performance.now() - t;
  const results: BackendComparison[] = [];
  for (const requested of backends) {
    const { backend, reason } = await createBackend(requested, { ...opts, log: () => undefined });
    try {
      await backend.assign(data, Math.min(n, 64), centroids, k, dim); // warm-up: kernel compile
      t = performance.now();
      const got = await backend.assign(data, n, centroids, k, dim);
      const ms = performance.now() - t;
      let same = 0;
      for (let i = 0; i < n; i++) if (got.labels[i] === reference.labels[i]) same++;
      results.push({
        requested, backend: backend.name, reason, ms, evalsPerSec: (n * k) / (ms / 1000), labelAgreement: same / n,
        maxRelError: maxRelativeError(data, n, centroids, k, dim, got.labels, reference),
      });
    } finally {
      backend.dispose();
    }
  }
  return { naiveMs, results };
}

/**
 * A seeded test problem: `n` points of dimension `dim` scattered (std 0.3) around `k` random N(0,1) centers,
 * which are returned as the centroids; near-ties included.
 * @example
 * ```ts
 * const { data, centroids } = clusteredProblem(10000, 1024, 64, 1); // data: 10000 x 64, centroids: 1024 x 64
 * ```
 */
export function clusteredProblem(n: number, k: number, dim: number, seed: number): {
  /** Points as [n*dim] row-major floats. */
  data: Float32Array;
  /** The k cluster centers as [k*dim] row-major floats. */
  centroids: Float32Array;
} {
  const rng = new Rng(seed);
  const centroids = Float32Array.from({ length: k * dim }, () => rng.normal());
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const j = rng.int(k);
    for (let d = 0; d < dim; d++) data[i * dim + d] = centroids[j * dim + d] + 0.3 * rng.normal();
  }
  return { data, centroids };
}
