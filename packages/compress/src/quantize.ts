import { assertInt, fail } from '@vqvid/core';

/**
 * Default frequency precision: every cell's distribution is quantized to integer frequencies summing to 2^24.
 * @example
 * ```ts
 * compressCodes(codes, 'bigram', { totalBits: DEFAULT_TOTAL_BITS });
 * ```
 */
export const DEFAULT_TOTAL_BITS = 24;

/** Validated total bits: the total 2^bits must leave every one of the k symbols at least 1. */
export function checkTotalBits(bits: number, k: number, arg = 'totalBits'): number {
  assertInt(bits, arg, 8, 28);
  if (2 ** bits < 2 * k) fail('E_RANGE', arg, `at least log2(2·k) = ${Math.ceil(Math.log2(2 * k))} for k = ${k}`, bits);
  return bits;
}

/**
 * Quantizes one cell's probabilities to cumulative integer frequencies, deterministically: in float64, in index
 * order, s = Σ max(p_i, 0) (NaN counts as 0); every symbol gets 1 + floor(max(p_i, 0) / s · (T − k)); the rounding
 * remainder goes to the most probable symbol (the lowest index on ties). A row with s = 0 or s not finite becomes
 * uniform (1 each, the remainder to symbol 0). Writes cum[0..k] (cum[0] = 0, cum[k] = T) and returns `cum`.
 * @param probs the source array; the row is probs[offset .. offset + k).
 * @example
 * ```ts
 * const cum = quantizeRow(new Float32Array([0.75, 0.25]), 0, 2, 2 ** 8, new Float64Array(3)); // [0, 192, 256]
 * ```
 */
export function quantizeRow(probs: ArrayLike<number>, offset: number, k: number, total: number, cum: Float64Array): Float64Array {
  let s = 0;
  let best = 0;
  let bestP = -1;
  for (let i = 0; i < k; i++) {
    const p = probs[offset + i];
    if (p > 0) {
      s += p;
      if (p > bestP) {
        bestP = p;
        best = i;
      }
    }
  }
  const uniform = !(s > 0 && Number.isFinite(s));
  const scale = uniform ? 0 : (total - k) / s;
  if (uniform) best = 0;
  let acc = 0;
  cum[0] = 0;
  for (let i = 0; i < k; i++) {
    const p = probs[offset + i];
    acc += 1 + (p > 0 ? Math.floor(p * scale) : 0);
    cum[i + 1] = acc;
  }
  // floor keeps acc ≤ total; the remainder shifts every cumulative value after the most probable symbol
  const rem = total - acc;
  if (rem < 0) fail('E_STATE', 'quantizeRow', 'frequencies within the total', acc);
  for (let i = best + 1; i <= k; i++) cum[i] += rem;
  return cum;
}

/** The symbol s with cum[s] ≤ target < cum[s + 1] (binary search; cum strictly increasing). */
export function findSymbol(cum: Float64Array, k: number, target: number): number {
  let lo = 0;
  let hi = k - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (cum[mid] <= target) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
