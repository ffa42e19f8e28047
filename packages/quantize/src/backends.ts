import { VqvidError, fail } from '@vqvid/core';
import type { AssignBackend, BackendName, BackendRequest } from './assign';
import { CpuBackend } from './cpu';
import { type GpuConstructor, GpuJsBackend } from './gpujs';
import { TfjsWasmBackend } from './tfjs-wasm';

/**
 * Every backend name, fastest first: gpu.js 'webgpu', 'webgl2' (browsers) and 'headlessgl' (Node, the native
 * `gl` module); 'tfjs-wasm' (tfjs-backend-wasm's XNNPACK GEMM on worker threads); gpu.js 'webasm'; and 'cpu',
 * the hand-written WebAssembly SIMD kernel on worker threads. `'auto'` tries {@link autoOrder}.
 * @example
 * ```ts
 * for (const name of BACKEND_NAMES) console.log(name);
 * ```
 */
export const BACKEND_NAMES: readonly BackendName[] = ['webgpu', 'webgl2', 'headlessgl', 'tfjs-wasm', 'webasm', 'cpu'];

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
 * autoOrder(); // ['headlessgl', 'tfjs-wasm', 'cpu', 'webasm'] in Node
 * ```
 */
export function autoOrder(): BackendName[] {
  return isBrowser() ? ['webgpu', 'webgl2', 'cpu', 'webasm'] : ['headlessgl', 'tfjs-wasm', 'cpu', 'webasm'];
}

/** Starts one backend by name; throws (with the reason) when it cannot run here. */
function startBackend(name: BackendName, gpu?: GpuConstructor): Promise<AssignBackend> | AssignBackend {
  if (name === 'cpu') return new CpuBackend();
  if (name === 'tfjs-wasm') return TfjsWasmBackend.create();
  return GpuJsBackend.create(name, gpu);
}

/**
 * Starts the requested assignment backend, or the next one of {@link autoOrder} that works, and says why it
 * fell back. 'cpu' cannot fail, so this always returns a backend (a request for 'cpu' never falls back).
 * @example
 * ```ts
 * const { backend, reason } = await createBackend('headlessgl'); // in Node: cpu, reason names the gl module
 * const { labels } = await backend.assign(data, n, centroids, k, dim);
 * backend.dispose();
 * ```
 */
export async function createBackend(request: BackendRequest = 'auto', opts: CreateBackendOptions = {}): Promise<BackendChoiceResult> {
  if (request !== 'auto' && !BACKEND_NAMES.includes(request)) fail('E_RANGE', 'backend', `'auto' or one of ${BACKEND_NAMES.join(', ')}`, request);
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
