import { VqvidError, fail } from '@vqvid/core';
import type { AssignBackend, BackendName, BackendRequest } from './assign';
import { CpuBackend } from './cpu';
import { type GpuConstructor, GpuJsBackend } from './gpujs';

/** Every backend name, fastest first. */
export const BACKEND_NAMES: readonly BackendName[] = ['webgpu', 'webgl2', 'headlessgl', 'webasm', 'cpu'];

/** A started backend and, when it is not the one asked for, why. */
export interface BackendChoiceResult {
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
 * headlessgl → cpu → webasm (the GL and WebGPU modes of gpu.js need a browser or the native `gl` module).
 * The cpu backend's hand-written SIMD kernel on worker threads measured about 2–3x faster than gpu.js's webasm
 * kernel in full runs of bench/assign.mjs (single noisy quick runs can invert that), so it ranks above it.
 * @example
 * ```ts
 * autoOrder(); // ['headlessgl', 'cpu', 'webasm'] in Node
 * ```
 */
export function autoOrder(): BackendName[] {
  return isBrowser() ? ['webgpu', 'webgl2', 'cpu', 'webasm'] : ['headlessgl', 'cpu', 'webasm'];
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
      const backend = name === 'cpu' ? new CpuBackend() : await GpuJsBackend.create(name, opts.gpu);
      const reason = reasons.length ? `${reasons.join('; ')}; using ${name}` : null;
      if (reason && request !== 'auto') (opts.log ?? console.warn)(`@vqvid/quantize: ${reason}`);
      return { backend, reason };
    } catch (e) {
      reasons.push((e as Error).message);
    }
  }
  throw new VqvidError('E_BACKEND', `no backend started: ${reasons.join('; ')}`);
}
