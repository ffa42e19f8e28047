import { compareBackends } from '@vqvid/quantize';
import type { BackendName } from '@vqvid/quantize';

/** Every backend a browser may offer; ones that cannot start here fall back and say why. */
export const BROWSER_BACKENDS: BackendName[] = ['webgpu', 'webgl2', 'webasm', 'wasm-simd'];

/**
 * One clustered nearest-centroid problem (2048 points, 64 centroids of 8x8 patches) through every browser
 * backend and the naive float64 reference; the JSON the page shows and the end-to-end test checks.
 */
export async function compareInBrowser(): Promise<Awaited<ReturnType<typeof compareBackends>> & { problem: object }> {
  const problem = { n: 2048, k: 64, dim: 64, seed: 1 };
  return { problem, ...(await compareBackends({ ...problem, backends: BROWSER_BACKENDS })) };
}
