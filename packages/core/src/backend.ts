import { VqvidError, fail } from './errors';

/** The part of the tfjs-core namespace the backend helper needs (so core does not depend on tfjs). */
export interface TfBackendHost {
  /** Switches to the registered backend `name`; resolves false when it fails to initialise (as tf.setBackend). */
  setBackend(name: string): Promise<boolean>;
  /** Name of the active backend (as tf.getBackend). */
  getBackend(): string;
  /** Resolves once the active backend is initialised (as tf.ready). */
  ready(): Promise<void>;
}

/** Which tfjs backend is active and, when it is not the first choice, why. */
export interface BackendChoice {
  /** Name of the tfjs backend now active, e.g. 'wasm' or 'cpu'. */
  backend: string;
  /** Why earlier candidates were skipped, joined with '; '; absent when the first candidate worked. */
  fallbackReason?: string;
}

/**
 * Activates the first tfjs backend of `candidates` that initialises (default: 'wasm' then 'cpu' in Node;
 * in browsers pass ['webgpu', 'webgl', 'wasm', 'cpu']). The backends must already be registered by
 * importing their packages. Logs and returns the reason when falling back.
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * import '@tensorflow/tfjs-backend-cpu';
 * const { backend, fallbackReason } = await selectTfBackend(tf);
 * ```
 */
export async function selectTfBackend(
  tf: TfBackendHost,
  candidates: readonly string[] = ['wasm', 'cpu'],
  log: (msg: string) => void = (m) => console.warn(m),
): Promise<BackendChoice> {
  // a lone name would be read letter by letter
  if (!Array.isArray(candidates) || candidates.length === 0 || !candidates.every((c) => typeof c === 'string' && c.length > 0)) {
    fail('E_DTYPE', 'candidates', "a non-empty array of backend names, e.g. ['wasm', 'cpu']", candidates);
  }
  const reasons: string[] = [];
  for (const name of candidates) {
    try {
      if (tf.getBackend() === name || (await tf.setBackend(name))) {
        await tf.ready();
        const choice: BackendChoice = { backend: name };
        if (reasons.length) {
          choice.fallbackReason = reasons.join('; ');
          log(`vqvid: using tfjs backend '${name}' (${choice.fallbackReason})`);
        }
        return choice;
      }
      reasons.push(`'${name}' did not initialise`);
    } catch (e) {
      reasons.push(`'${name}' failed: ${(e as Error).message}`);
    }
  }
  throw new VqvidError('E_BACKEND', `tfjs backend: expected one of ${candidates.join(', ')} to work, got none (${reasons.join('; ')})`);
}
