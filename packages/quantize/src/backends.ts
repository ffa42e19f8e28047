import { VqvidError, fail } from '@vqvid/core';
import type { AssignBackend, BackendName, BackendRequest } from './assign';
import { CpuBackend } from './cpu';
import { type GpuConstructor, GpuJsBackend } from './gpujs';
import { TfjsWasmBackend } from './tfjs-wasm';

/**
 * Every backend name, fastest first: gpu.js 'webgpu', 'webgl2' (browsers) and 'headlessgl' (Node, the native
 * `gl` module); 'tfjs-wasm' (tfjs-backend-wasm's XNNPACK GEMM on worker threads); gpu.js 'webasm'; and 'wasm-simd' (formerly 'cpu'),
 * the hand-written WebAssembly SIMD kernel on worker threads. `'auto'` tries {@link autoOrder}.
 * @example
 * ```ts
 * for (const name of BACKEND_NAMES) console.log(name);
 * ```
 */
export const BACKEND_NAMES: readonly BackendName[] = ['webgpu', 'webgl2', 'headlessgl', 'tfjs-wasm', 'webasm', 'wasm-simd'];

/**
 * One row of {@link BACKENDS}.
 * @example
 * ```ts
 * const { name, runs }: BackendInfo = BACKENDS[0];
 * ```
 */
export interface BackendInfo {
  /** The backend's name, as requests and `quantizer.backend` say it. */
  readonly name: BackendName;
  /** Where it runs and what computes there, in a phrase. */
  readonly runs: string;
}

/**
 * Every backend with where it runs, in {@link BACKEND_NAMES} order: the table the docs show (the guide's
 * backend table is checked against it by a test, so the two cannot drift).
 * @example
 * ```ts
 * for (const { name, runs } of BACKENDS) console.log(`${name}: ${runs}`);
 * ```
 */
export const BACKENDS: ReadonlyArray<BackendInfo> = Object.freeze([
  { name: 'webgpu', runs: 'browsers with WebGPU (gpu.js compute kernel)' },
  { name: 'webgl2', runs: 'browsers with WebGL2 (gpu.js fragment-shader kernel)' },
  { name: 'headlessgl', runs: "Node with the native `gl` module (not installed in this repository's environment)" },
  { name: 'tfjs-wasm', runs: "Node (and browsers that serve tfjs's .wasm files): one XNNPACK GEMM per tile on tfjs-backend-wasm, on worker threads" },
  { name: 'webasm', runs: 'anywhere: gpu.js WebAssembly kernel' },
  { name: 'wasm-simd', runs: 'anywhere: hand-written WebAssembly SIMD kernel on worker threads (`cpu` is its old name)' },
]);

/**
 * Old backend names still accepted in requests, and the backend each one means: `cpu` was the name of the
 * WebAssembly SIMD kernel, which never ran plain JavaScript.
 * @example
 * ```ts
 * BACKEND_ALIASES.cpu; // 'wasm-simd'
 * ```
 */
export const BACKEND_ALIASES: Readonly<Record<string, BackendName>> = Object.freeze({ cpu: 'wasm-simd' });

/** A started backend and, when it is not the one asked for, why. */
export interface BackendChoiceResult {
  /** The started backend; the caller owns it and calls its dispose() when done. */
  backend: AssignBackend;
  /** null when the requested (or, for 'auto', the first preferred) backend started. */
  reason: string | null;
}

/** Options for {@link createBackend}. */
export interface CreateBackendOptions {
  /** gpu.js constructor to use (in a browser page: `window.GPU` from gpu-browser.js). */
  gpu?: GpuConstructor;
  /** Where fallback reasons of an explicit request are logged; default console.warn. */
  log?: (message: string) => void;
}

const isBrowser = () => typeof (globalThis as { document?: unknown }).document !== 'undefined';

/**
 * Preference order for 'auto', fastest first: in a browser webgpu → webgl2 → cpu → webasm; in Node
 * headlessgl → tfjs-wasm → cpu → webasm (the GL and WebGPU modes of gpu.js need a browser or the native `gl`
 * module). In full runs of bench/assign.mjs tfjs-wasm's XNNPACK GEMM measured 1.4–2.1x the cpu backend's
 * hand-written SIMD kernel, which measured about 2–3x gpu.js's webasm kernel. tfjs-wasm is not in the
 * browser order because there its .wasm files must be served next to the bundle (ask for it by name).
 * @example
 * ```ts
 * autoOrder(); // ['headlessgl', 'tfjs-wasm', 'wasm-simd', 'webasm'] in Node
 * ```
 */
export function autoOrder(): BackendName[] {
  return isBrowser() ? ['webgpu', 'webgl2', 'wasm-simd', 'webasm'] : ['headlessgl', 'tfjs-wasm', 'wasm-simd', 'webasm'];
}

/** Starts one backend by name; throws (with the reason) when it cannot run here. */
function startBackend(name: BackendName, gpu?: GpuConstructor): Promise<AssignBackend> | AssignBackend {
  if (name === 'wasm-simd') return new CpuBackend();
  if (name === 'tfjs-wasm') return TfjsWasmBackend.create();
  return GpuJsBackend.create(name, gpu);
}

/**
 * Starts the requested assignment backend, or the next one of {@link autoOrder} that works, and says why it
 * fell back. 'wasm-simd' cannot fail, so this always returns a backend (a request for it never falls back).
 * The old name 'cpu' is accepted for 'wasm-simd' ({@link BACKEND_ALIASES}).
 * @example
 * ```ts
 * const { backend, reason } = await createBackend('headlessgl'); // in Node: cpu, reason names the gl module
 * const { labels } = await backend.assign(data, n, centroids, k, dim);
 * backend.dispose();
 * ```
 */
export async function createBackend(asked: BackendRequest = 'auto', opts: CreateBackendOptions = {}): Promise<BackendChoiceResult> {
  const request: BackendName | 'auto' = asked === 'auto' ? 'auto' : (BACKEND_ALIASES[asked] ?? (asked as BackendName));
  if (request !== 'auto' && !BACKEND_NAMES.includes(request as BackendName)) fail('E_RANGE', 'backend', `'auto' or one of ${BACKEND_NAMES.join(', ')}`, asked);
  const order = request === 'auto' ? autoOrder() : [request, ...autoOrder().filter((b) => b !== request)];
  const reasons: string[] = [];
  for (const name of order) {
    try {
      const backend = await startBackend(name, opts.gpu);
      const reason = reasons.length ? `${reasons.join('; ')}; using ${name}` : null;
      if (reason && request !== 'auto') (opts.log ?? console.warn)(`@vqvid/quantize: ${reason}`);
      return { backend, reason };
    } catch (e) {
      reasons.push((e as Error).message);
    }
  }
  throw new VqvidError('E_BACKEND', `no backend started: ${reasons.join('; ')}`);
}
