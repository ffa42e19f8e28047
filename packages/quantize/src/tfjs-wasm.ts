import type { KernelBackend, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { VqvidError } from '@vqvid/core';
import { type AssignBackend, type AssignResult, centerRows, centroidMean, labelDistances, mergeTile, rowNorms, selfTest } from './assign';

/** Tile sizes of {@link TfjsWasmBackend}; tests shrink them to exercise the tiling on tiny problems. */
export interface TfjsWasmLimits {
  /** Most floats of one [tileN, tileK] product, and of one GEMM argument, in wasm memory (16 Mi = 64 MiB). */
  maxTileFloats: number;
  /**
   * Points per GEMM. At K = 10,000, D = 64 tiles of 256–512 points measured fastest (the product is then
   * 10–20 MB); 1024 was ~10% slower.
   */
  pointTile: number;
  /** Fewest points per GEMM that K tiling may leave, so XNNPACK's packed centroid tile is reused enough. */
  minPointTile: number;
}

type TfCore = typeof import('@tensorflow/tfjs-core');

/**
 * Assignment by tfjs-backend-wasm's kernels (XNNPACK GEMM with WebAssembly SIMD, one thread in Node):
 * points, centred on the centroid mean and augmented with a constant 1, times a [D + 1, K] matrix of −2c
 * over ||c||² give y = ||c||² − 2x·c for a whole tile in one GEMM; ArgMin along K picks the first (lowest
 * index) minimum. The kernels run on tfjs's shared wasm backend instance, called directly: the caller's
 * active tfjs backend is never switched, no engine tensors are created, and every wasm buffer is freed
 * before assign returns. Construct with {@link TfjsWasmBackend.create}.
 */
export class TfjsWasmBackend implements AssignBackend {
  readonly name = 'tfjs-wasm' as const;
  readonly limits: TfjsWasmLimits = { maxTileFloats: 1 << 24, pointTile: 512, minPointTile: 256 };

  private constructor(
    private readonly tf: TfCore,
    private readonly wasm: KernelBackend,
    private readonly matMul: KernelConfig,
    private readonly argMin: KernelConfig,
  ) {}

  /**
   * Loads tfjs-core and tfjs-backend-wasm (dynamic imports, so bundles that never ask for this backend do
   * not pull them in), finds or initialises tfjs's wasm backend without activating it, and runs the
   * self-test. Throws E_BACKEND with the reason when a module is missing or the wasm binary fails to load.
   */
  static async create(): Promise<TfjsWasmBackend> {
    let backend: TfjsWasmBackend;
    try {
      const tf: TfCore = await import('@tensorflow/tfjs-core');
      await import('@tensorflow/tfjs-backend-wasm');
      const wasm = await sharedWasmBackend(tf);
      const kernel = (name: string) => {
        const k = tf.getKernel(name, 'wasm');
        if (!k) throw new Error(`tfjs-backend-wasm registers no ${name} kernel`);
        return k;
      };
      backend = new TfjsWasmBackend(tf, wasm, kernel(tf.BatchMatMul), kernel(tf.ArgMin));
    } catch (e) {
      throw new VqvidError('E_BACKEND', `backend tfjs-wasm: cannot start it here (${(e as Error).message})`);
    }
    await selfTest(backend);
    return backend;
  }

  /** The tfjs backend instance the kernels run on (tests count its buffers with `numDataIds()`). */
  get tfBackend(): KernelBackend {
    return this.wasm;
  }

  async assign(data: Float32Array, n: number, centroids: Float32Array, k: number, dim: number): Promise<AssignResult> {
    if (this.tf.engine().registry.wasm !== this.wasm) {
      throw new VqvidError('E_BACKEND', 'backend tfjs-wasm: the tfjs wasm backend was removed or replaced since this backend started');
    }
    // The kernels bind their wasm functions in module variables; binding them again to the same shared
    // instance is idempotent and covers an engine that never activated 'wasm'.
    this.matMul.setupFunc?.(this.wasm);
    this.argMin.setupFunc?.(this.wasm);
    const w = dim + 1;
    const { maxTileFloats: most, pointTile, minPointTile } = this.limits;
    const tileK = Math.max(1, Math.min(k, Math.floor(most / minPointTile), Math.floor(most / w)));
    const tileN = Math.max(1, Math.min(n, pointTile, Math.floor(most / tileK), Math.floor(most / w)));
    const mean = centroidMean(centroids, k, dim);
    const result = { labels: new Int32Array(n), dist: new Float32Array(n) };
    const points = new Float32Array(tileN * w);
    for (let k0 = 0; k0 < k; k0 += tileK) {
      const count = Math.min(tileK, k - k0);
      const b = this.upload(centroidMatrix(centroids, k0, count, dim, mean), [w, count]);
      try {
        for (let p0 = 0; p0 < n; p0 += tileN) {
          const rows = Math.min(tileN, n - p0);
          const cand = this.argminTile(augmentedPoints(points, data, p0, rows, dim, mean), rows, b);
          if (k0) for (let i = 0; i < rows; i++) cand[i] += k0;
          mergeTile(cand, p0, k0, data, centroids, dim, result, k > tileK);
        }
      } finally {
        this.free(b);
      }
    }
    return k > tileK ? result : { labels: result.labels, dist: labelDistances(data, n, centroids, dim, result.labels) };
  }

  /** Nothing of its own to release: the wasm backend instance belongs to tfjs (and maybe to @vqvid/model). */
  dispose(): void {}

  /** argmin over the columns of points[0..rows] · b, as tile-relative centroid indices. */
  private argminTile(points: Float32Array, rows: number, b: TensorInfo): Int32Array {
    const a = this.upload(points.subarray(0, rows * b.shape[0]), [rows, b.shape[0]]);
    try {
      const y = this.matMul.kernelFunc({ inputs: { a, b }, backend: this.wasm, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
      try {
        const idx = this.argMin.kernelFunc({ inputs: { x: y }, backend: this.wasm, attrs: { axis: 1 } }) as TensorInfo;
        try {
          return Int32Array.from(this.wasm.readSync(idx.dataId) as Int32Array);
        } finally {
          this.free(idx);
        }
      } finally {
        this.free(y);
      }
    } finally {
      this.free(a);
    }
  }

  private upload(values: Float32Array, shape: number[]): TensorInfo {
    return { dataId: this.wasm.write(values, shape, 'float32'), shape, dtype: 'float32' };
  }

  private free(t: TensorInfo): void {
    this.wasm.disposeData(t.dataId, true);
  }
}

/**
 * tfjs's one wasm backend instance, initialised through the engine when nobody has yet, but not made the
 * active backend. One instance matters: the wasm kernels keep their bound functions in module variables, so
 * a second instance would make the kernels of the first write into the wrong memory. While tfjs initialises
 * a backend it refuses other ops, so this first start should not overlap other tfjs work.
 */
async function sharedWasmBackend(tf: TfCore): Promise<KernelBackend> {
  if (!tf.findBackend('wasm')) await tf.ready(); // findBackend started the initialisation; ready() awaits it
  const wasm = tf.engine().registry.wasm;
  if (!wasm) throw new Error('the tfjs wasm backend did not initialise (see tfjs\'s warning for why)');
  return wasm;
}

/** Points p0..p0+rows minus `mean`, each followed by a 1, as rows of dim + 1 floats in `out`. */
function augmentedPoints(out: Float32Array, data: Float32Array, p0: number, rows: number, dim: number, mean: Float64Array): Float32Array {
  const w = dim + 1;
  for (let i = 0; i < rows; i++) {
    const o = (p0 + i) * dim;
    for (let d = 0; d < dim; d++) out[i * w + d] = data[o + d] - mean[d];
    out[i * w + dim] = 1;
  }
  return out;
}

/**
 * The [dim + 1, count] matrix whose column j is −2(c − mean) over ||c − mean||² for centroid k0 + j, so that
 * a point row [x − mean, 1] times it is ||c||² − 2x·c in centred coordinates.
 */
function centroidMatrix(centroids: Float32Array, k0: number, count: number, dim: number, mean: Float64Array): Float32Array {
  const m = new Float32Array((dim + 1) * count);
  const c = centerRows(new Float32Array(count * dim), centroids, k0, count, dim, mean);
  const norms = rowNorms(c, count, dim);
  for (let j = 0; j < count; j++) {
    for (let d = 0; d < dim; d++) m[d * count + j] = -2 * c[j * dim + d];
    m[dim * count + j] = norms[j];
  }
  return m;
}
