import { assertInt, assertNumber, fail, Rng } from '@vqvid/core';

/**
 * How the next code of a cell is chosen from its predicted distribution.
 * @example
 * ```ts
 * const next = m.predictNext(codes, { mode: 'sample', temperature: 0.7, topK: 10, seed: 5 });
 * ```
 */
export interface PredictOptions {
  /** 'argmax' (most probable code, the default) or 'sample' (a random draw). */
  mode?: 'argmax' | 'sample';
  /** Sampling temperature > 0 (default 1; < 1 sharpens, > 1 flattens). */
  temperature?: number;
  /** Sample only among the `topK` most probable codes of each cell (default: all). */
  topK?: number;
  /** Seed of the sampling (default: the model's seed). */
  seed?: number;
}

export interface ResolvedPredict {
  mode: 'argmax' | 'sample';
  temperature: number;
  topK: number;
  seed: number;
}

export function resolvePredict(opts: PredictOptions | undefined, k: number, defaultSeed: number): ResolvedPredict {
  const o = opts ?? {};
  const mode = o.mode ?? 'argmax';
  if (mode !== 'argmax' && mode !== 'sample') fail('E_RANGE', 'mode', "'argmax' or 'sample'", mode);
  const temperature = o.temperature ?? 1;
  assertNumber(temperature, 'temperature', 1e-6);
  const topK = o.topK ?? k;
  assertInt(topK, 'topK', 1, k);
  const seed = o.seed ?? defaultSeed;
  assertInt(seed, 'seed');
  return { mode, temperature, topK, seed };
}

/** Indices of the `m` largest values of row `row` of a row-major [*, k] array, largest first. */
export function topIndices(values: ArrayLike<number>, row: number, k: number, m: number): Int32Array {
  const base = row * k;
  const best = new Int32Array(m).fill(-1);
  for (let c = 0; c < k; c++) {
    const v = values[base + c];
    let pos = m;
    while (pos > 0 && (best[pos - 1] < 0 || values[base + best[pos - 1]] < v)) pos--;
    if (pos >= m) continue;
    best.copyWithin(pos + 1, pos, m - 1);
    best[pos] = c;
  }
  return best;
}

/**
 * One code per cell from log-probabilities `logp` [cells, k] (row-major): argmax, or a draw at `temperature`
 * among the `topK` best codes.
 */
export function chooseCodes(logp: Float32Array, k: number, opts: ResolvedPredict, rng: Rng): Int32Array {
  const cells = logp.length / k;
  const out = new Int32Array(cells);
  for (let i = 0; i < cells; i++) {
    if (opts.mode === 'argmax') {
      out[i] = topIndices(logp, i, k, 1)[0];
      continue;
    }
    const idx = opts.topK < k ? topIndices(logp, i, k, opts.topK) : null;
    const n = idx ? idx.length : k;
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, logp[i * k + (idx ? idx[j] : j)]);
    const w = new Float64Array(n);
    for (let j = 0; j < n; j++) w[j] = Math.exp((logp[i * k + (idx ? idx[j] : j)] - max) / opts.temperature);
    const j = rng.weighted(w);
    out[i] = idx ? idx[j] : j;
  }
  return out;
}
