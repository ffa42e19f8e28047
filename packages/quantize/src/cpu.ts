import { type AssignBackend, type AssignResult, labelDistances, rowNorms } from './assign';
import { threadedRunner } from './simd-threads';
import { SimdKernel, localRunner } from './wasm-simd';

/** Centroids per cache tile: 128 x 64 floats = 32 KiB, the size of a typical L1 data cache. */
const CENTROID_TILE = 128;
/** Points per tile, so their running minima stay hot while a centroid tile streams past. */
const POINT_TILE = 256;

/**
 * Hand-written assignment of ||c||² − 2x·c (||x||² is constant per point): the WebAssembly SIMD kernel of
 * `wasm-simd.ts` (float32) on worker threads sharing its memory where possible, else on the calling thread;
 * blocked TypeScript (float64 accumulation) where the engine has no WebAssembly SIMD.
 */
export class CpuBackend implements AssignBackend {
  readonly name = 'wasm-simd' as const;
  private readonly kernels = new Map<number, Promise<SimdKernel | null>>();

  /**
   * @param mode 'auto': threaded SIMD, else single-thread SIMD, else TypeScript; the others force a path
   * (tests compare all of them).
   */
  constructor(private readonly mode: 'auto' | 'simd-1' | 'typescript' = 'auto') {}

  /** Which path assign() takes for this dim: 'wasm-simd x<threads>' or 'typescript'. */
  async path(dim: number): Promise<string> {
    const k = await this.kernel(dim);
    return k ? `wasm-simd x${k.threads}` : 'typescript';
  }

  async assign(data: Float32Array, n: number, centroids: Float32Array, k: number, dim: number): Promise<AssignResult> {
    const simd = await this.kernel(dim);
    const labels = simd ? await simd.argmin(data, n, centroids, k) : cpuArgmin(data, n, centroids, k, dim);
    return { labels, dist: labelDistances(data, n, centroids, dim, labels) };
  }

  dispose(): void {
    for (const k of this.kernels.values()) k.then((kern) => kern?.dispose(), () => undefined);
    this.kernels.clear();
  }

  private kernel(dim: number): Promise<SimdKernel | null> {
    let k = this.kernels.get(dim);
    if (!k) {
      k = (async () => {
        if (this.mode === 'typescript') return null;
        const runner = (this.mode === 'auto' ? await threadedRunner(dim).catch(() => null) : null) ?? localRunner(dim);
        return runner && new SimdKernel(runner, dim);
      })();
      this.kernels.set(dim, k);
    }
    return k;
  }
}

/** Nearest-centroid labels (lowest index on ties) by the tiled ||c||² − 2x·c search in TypeScript. */
export function cpuArgmin(data: Float32Array, n: number, centroids: Float32Array, k: number, dim: number): Int32Array {
  const norms = rowNorms(centroids, k, dim);
  const labels = new Int32Array(n);
  const best = new Float64Array(n).fill(Infinity);
  for (let p0 = 0; p0 < n; p0 += POINT_TILE) {
    const p1 = Math.min(n, p0 + POINT_TILE);
    for (let c0 = 0; c0 < k; c0 += CENTROID_TILE) {
      const c1 = Math.min(k, c0 + CENTROID_TILE);
      let i = p0;
      for (; i + 4 <= p1; i += 4) searchFour(data, i, centroids, norms, c0, c1, dim, best, labels);
      for (; i < p1; i++) searchOne(data, i, centroids, norms, c0, c1, dim, best, labels);
    }
  }
  return labels;
}

function searchFour(
  x: Float32Array, i: number, c: Float32Array, norms: Float64Array, c0: number, c1: number, dim: number,
  best: Float64Array, labels: Int32Array,
): void {
  const o0 = i * dim, o1 = o0 + dim, o2 = o1 + dim, o3 = o2 + dim;
  let b0 = best[i], b1 = best[i + 1], b2 = best[i + 2], b3 = best[i + 3];
  let l0 = labels[i], l1 = labels[i + 1], l2 = labels[i + 2], l3 = labels[i + 3];
  for (let j = c0; j < c1; j++) {
    const oc = j * dim;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let d = 0; d < dim; d++) {
      const cv = c[oc + d];
      s0 += x[o0 + d] * cv;
      s1 += x[o1 + d] * cv;
      s2 += x[o2 + d] * cv;
      s3 += x[o3 + d] * cv;
    }
    const nj = norms[j];
    const v0 = nj - 2 * s0, v1 = nj - 2 * s1, v2 = nj - 2 * s2, v3 = nj - 2 * s3;
    if (v0 < b0) { b0 = v0; l0 = j; }
    if (v1 < b1) { b1 = v1; l1 = j; }
    if (v2 < b2) { b2 = v2; l2 = j; }
    if (v3 < b3) { b3 = v3; l3 = j; }
  }
  best[i] = b0; best[i + 1] = b1; best[i + 2] = b2; best[i + 3] = b3;
  labels[i] = l0; labels[i + 1] = l1; labels[i + 2] = l2; labels[i + 3] = l3;
}

function searchOne(
  x: Float32Array, i: number, c: Float32Array, norms: Float64Array, c0: number, c1: number, dim: number,
  best: Float64Array, labels: Int32Array,
): void {
  const o = i * dim;
  let b = best[i];
  let l = labels[i];
  for (let j = c0; j < c1; j++) {
    const oc = j * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[o + d] * c[oc + d];
    const v = norms[j] - 2 * s;
    if (v < b) { b = v; l = j; }
  }
  best[i] = b;
  labels[i] = l;
}
