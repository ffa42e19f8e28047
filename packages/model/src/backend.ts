import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { selectTfBackend } from '@vqvid/core';
import type { BackendChoice } from '@vqvid/core';
import { registerWasmKernels } from './kernels';

/**
 * Registers the tfjs backends (wasm, cpu) and the extra wasm kernels training needs, then activates the
 * first of `candidates` that initialises. In Node wasm is the default: it trains about 5-10x faster than
 * cpu here (see the README); in a browser pass ['webgpu', 'webgl', 'wasm', 'cpu'] after importing those.
 * @param candidates backend names in order of preference (default ['wasm', 'cpu']).
 * @returns the backend in use and, when it is not the first choice, why.
 * @example
 * ```ts
 * const { backend } = await initBackend();          // 'wasm' (or 'cpu' with a logged reason)
 * await initBackend(['cpu']);                       // force the pure-JS backend
 * ```
 */
export async function initBackend(candidates: readonly string[] = ['wasm', 'cpu']): Promise<BackendChoice> {
  registerWasmKernels();
  return selectTfBackend(tf, candidates);
}
