import { GPU } from 'gpu.js';
import { VqvidError } from '@vqvid/core';
import { type AssignBackend, type AssignResult, type BackendName, centerRows, centroidMean, labelDistances, mergeTile, rowNorms, selfTest } from './assign';

/** Centroids handled per inner step of a kernel thread. */
export const CENTROID_BLOCK = 4;
/** Points handled by one kernel thread (returned as an Array(4) of labels). */
export const POINTS_PER_THREAD = 4;
/**
 * Norm given to padding centroids (k rounded up to a multiple of the block): no real squared distance
 * reaches it, so padding never wins; the search starts from the same value with a strict `<`.
 */
const PAD_NORM = 3.4e38;

/** Per-backend tiling limits, in floats per kernel argument and centroids per kernel call. */
export interface TileLimits {
  /** Most floats one kernel argument (a tile of points, or of centroids) may hold. */
  maxFloatsPerArg: number;
  /** Most points per call. */
  maxPointsPerCall: number;
  /** Most centroids per call; GPU drivers kill shaders that loop too long (watchdog). */
  maxCentroidsPerCall: number;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Kernel source, generated so the register block is unrolled without copy-paste. Thread t owns the points
 * t, t + part, t + 2·part, t + 3·part of the tile (part = tile / 4) and walks the centroids 4 at a time:
 * for each coordinate d it reads 4 point values and 4 centroid values once and does 16 multiply-adds, so
 * every load feeds 4 accumulators (on webasm, four threads also form one f32x4 SIMD group). Each block is
 * folded into the running argmin of ||c||² − 2x·c in increasing index order with a strict `<`: the lowest
 * index wins ties. Measured on webasm, 4 x 4 is ~1.5x faster than 1 point x 8 centroids.
 */
export function assignKernelSource(points = POINTS_PER_THREAD, block = CENTROID_BLOCK): string {
  const P = range(points);
  const B = range(block);
  const line = (f: (p: number, b: number) => string) => B.map((b) => P.map((p) => f(p, b)).join(' ')).join('\n      ');
  return `function assignTile(x, c, cn) {
  const D = this.constants.dim;
  const part = this.constants.part;
  ${P.map((p) => `const x${p} = (this.thread.x + ${p} * part) * D; let best${p} = ${PAD_NORM}; let bi${p} = 0;`).join('\n  ')}
  for (let j = 0; j < this.constants.k; j += ${block}) {
    ${line((p, b) => `let s${p}_${b} = 0;`)}
    const cb = j * D;
    for (let d = 0; d < this.constants.dim; d++) {
      ${P.map((p) => `const v${p} = x[x${p} + d];`).join(' ')}
      const o = cb + d;
      ${B.map((b) => `const c${b} = c[o + ${b} * D]; ${P.map((p) => `s${p}_${b} += v${p} * c${b};`).join(' ')}`).join('\n      ')}
    }
    ${B.map((b) => `const n${b} = cn[j + ${b}];`).join(' ')}
    ${line((p, b) => `const e${p}_${b} = n${b} - 2 * s${p}_${b}; if (e${p}_${b} < best${p}) { best${p} = e${p}_${b}; bi${p} = j + ${b}; }`)}
  }
  return [${P.map((p) => `bi${p}`).join(', ')}];
}`;
}

type GpuKernel = ((...args: unknown[]) => Promise<ArrayLike<ArrayLike<number>>>) & {
  kernel?: { constructor: { mode?: string; features?: { maxTextureSize?: number | null } }; fallbackReason?: string | null; _lastRunPath?: string | null };
  destroy?: () => void;
};

/** Modes whose gpu.js kernels are GL kernels (their class reports mode 'gpu'). */
const GL_MODES: ReadonlySet<string> = new Set(['webgl2', 'headlessgl']);

interface GpuInstance {
  /** The kernel class gpu.js selected for this instance's mode. */
  Kernel?: unknown;
  createKernel(source: string, settings: Record<string, unknown>): GpuKernel;
  destroy(): void;
}

/** The gpu.js constructor; a browser page may hand in the one from `gpu.js/dist/gpu-browser.js`. */
export type GpuConstructor = new (settings: Record<string, unknown>) => unknown;

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/**
 * Assignment on gpu.js kernels (`webasm`, `webgl2`, `webgpu`, `headlessgl`): points and centroids are cut
 * into tiles that respect the backend's limits, each tile pair is one asynchronous kernel call, and tiles
 * over k are merged on the host with exact distances (strict `<`, earlier tile first, so ties still go to
 * the lowest index). Construct with {@link GpuJsBackend.create}, which proves the backend really runs.
 */
export class GpuJsBackend implements AssignBackend {
  private readonly kernels = new Map<string, GpuKernel>();
  /** How gpu.js ran the last kernel call on webasm ('threaded', 'simd', ...); null elsewhere. For tests. */
  lastRunPath: string | null = null;

  private constructor(
    readonly name: BackendName,
    private readonly gpu: GpuInstance,
    readonly limits: TileLimits,
  ) {}

  /**
   * Creates the backend and runs a small known problem through it; throws E_BACKEND (with gpu.js's reason)
   * when the mode is unsupported here or gpu.js silently degraded the kernel to another mode.
   */
  static async create(mode: Exclude<BackendName, 'wasm-simd' | 'tfjs-wasm'>, Ctor: GpuConstructor = GPU as unknown as GpuConstructor): Promise<GpuJsBackend> {
    let gpu: GpuInstance;
    try {
      gpu = new Ctor({ mode }) as GpuInstance;
    } catch (e) {
      throw new VqvidError('E_BACKEND', `backend ${mode}: gpu.js cannot start it here (${(e as Error).message})`);
    }
    const backend = new GpuJsBackend(mode, gpu, defaultLimits(mode));
    try {
      await backend.selfTest();
    } catch (e) {
      backend.dispose();
      throw e instanceof VqvidError ? e : new VqvidError('E_BACKEND', `backend ${mode}: self-test failed (${(e as Error).message})`);
    }
    return backend;
  }

  async assign(data: Float32Array, n: number, centroids: Float32Array, k: number, dim: number): Promise<AssignResult> {
    const q = 4 * POINTS_PER_THREAD; // whole SIMD quads of threads
    const tileN = Math.max(q, Math.min(roundUp(n, q), Math.floor(Math.min(this.limits.maxPointsPerCall, this.limits.maxFloatsPerArg / dim) / q) * q));
    const tileK = Math.min(roundUp(k, CENTROID_BLOCK), this.limits.maxCentroidsPerCall,
      Math.max(CENTROID_BLOCK, Math.floor(this.limits.maxFloatsPerArg / dim / CENTROID_BLOCK) * CENTROID_BLOCK));
    const kernel = this.kernelFor(tileK, dim, tileN);
    const result = { labels: new Int32Array(n), dist: new Float32Array(n) };
    const pointTile = new Float32Array(tileN * dim);
    const mean = centroidMean(centroids, k, dim);
    for (let k0 = 0; k0 < k; k0 += tileK) {
      const { c, cn } = centroidTile(centroids, k, dim, k0, tileK, mean);
      for (let p0 = 0; p0 < n; p0 += tileN) {
        const count = Math.min(tileN, n - p0);
        const x = centerRows(count < tileN ? pointTile.fill(0) : pointTile, data, p0, count, dim, mean);
        const out = await kernel(x, c, cn);
        this.lastRunPath = kernel.kernel?._lastRunPath ?? null;
        const part = out.length;
        const cand = Int32Array.from({ length: count }, (_, i) => Math.round(out[i % part][Math.floor(i / part)]) + k0);
        mergeTile(cand, p0, k0, data, centroids, dim, result, k > tileK);
      }
    }
    return k > tileK ? result : { labels: result.labels, dist: labelDistances(data, n, centroids, dim, result.labels) };
  }

  dispose(): void {
    for (const kern of this.kernels.values()) kern.destroy?.();
    this.kernels.clear();
    try {
      this.gpu.destroy();
    } catch {
      // a context that failed to start has nothing to release
    }
  }

  private kernelFor(tileK: number, dim: number, tileN: number): GpuKernel {
    const key = `${tileK}|${dim}|${tileN}`;
    let kernel = this.kernels.get(key);
    if (!kernel) {
      if (this.kernels.size >= 8) this.disposeKernels();
      kernel = this.gpu.createKernel(assignKernelSource(), {
        output: [tileN / POINTS_PER_THREAD],
        constants: { k: tileK, dim, part: tileN / POINTS_PER_THREAD },
        asyncMode: true,
        precision: 'single',
        tactic: 'precision',
      });
      this.kernels.set(key, kernel);
    }
    return kernel;
  }

  private disposeKernels(): void {
    for (const kern of this.kernels.values()) kern.destroy?.();
    this.kernels.clear();
  }

  /** The shared self-test, failing first when gpu.js silently ran the kernel on another mode. */
  private async selfTest(): Promise<void> {
    const ranKernel = () => [...this.kernels.values()][0]?.kernel;
    await selfTest(this, () => {
      const ran = ranKernel();
      const mode = ran?.constructor.mode;
      // gpu.js's GL kernel classes (webgl, webgl2, headlessgl) all report mode 'gpu'; the class gpu.js
      // chose for this instance tells which one actually ran.
      const glRan = mode === 'gpu' && GL_MODES.has(this.name) && ran?.constructor === this.gpu.Kernel;
      if (mode !== this.name && !glRan) {
        throw new VqvidError('E_BACKEND', `backend ${this.name}: gpu.js ran the kernel on ${mode ?? 'unknown'} (${ran?.fallbackReason ?? 'no reason given'})`);
      }
    });
    const tex = ranKernel()?.constructor.features?.maxTextureSize;
    if (tex) this.limits.maxFloatsPerArg = Math.min(this.limits.maxFloatsPerArg, tex * tex);
  }
}

/**
 * Starting limits per mode; GL modes are tightened to maxTextureSize² floats after the self-test reads the
 * real texture limit. webasm: one wasm memory is at most 4096 pages (256 MiB) holding all arguments and the
 * output, so each argument is kept to 32 MiB. webgpu: 32 MiB stays under the default 128 MiB
 * maxStorageBufferBindingSize. GPU modes cap centroids per call at 2048 so a call stays well under driver
 * watchdog timeouts.
 */
function defaultLimits(mode: BackendName): TileLimits {
  const gpu = mode !== 'webasm';
  return { maxFloatsPerArg: 8 << 20, maxPointsPerCall: gpu ? 1 << 18 : 1 << 20, maxCentroidsPerCall: gpu ? 2048 : 1 << 16 };
}

/** Centroids k0..k0+tileK minus `mean` as a kernel argument, padded with zero rows whose norm never wins. */
function centroidTile(centroids: Float32Array, k: number, dim: number, k0: number, tileK: number, mean: Float64Array): { c: Float32Array; cn: Float32Array } {
  const count = Math.min(tileK, k - k0);
  const c = centerRows(new Float32Array(tileK * dim), centroids, k0, count, dim, mean);
  const cn = new Float32Array(tileK).fill(PAD_NORM);
  cn.set(rowNorms(c, count, dim));
  return { c, cn };
}
