import { assertInt, fail } from '@vqvid/core';

/**
 * Integer code arrays accepted by the accuracy metrics (what CodeVolume.codes holds).
 * @example
 * ```ts
 * const codes: CodeArray = volume.codes;
 * ```
 */
export type CodeArray = Int32Array | Uint16Array;

function assertArrayLike(a: unknown, arg: string): asserts a is ArrayLike<number> {
  if (a === null || typeof a !== 'object' || typeof (a as ArrayLike<number>).length !== 'number') {
    fail('E_DTYPE', arg, 'an array of numbers', a);
  }
  if ((a as ArrayLike<number>).length === 0) fail('E_SHAPE', `${arg}.length`, 'at least 1', 0);
}

/**
 * Mean negative log-likelihood in nats of the log-probabilities (natural log) a model gave to the true
 * codes: `−(1/n) Σ logProbs[i]`. Each log-probability must be finite and <= 0 (a probability in (0, 1]).
 * @example
 * ```ts
 * crossEntropy([Math.log(0.5), Math.log(0.25)]); // (ln 2 + ln 4) / 2 ≈ 1.0397 nats
 * ```
 */
export function crossEntropy(logProbs: ArrayLike<number>): number {
  assertArrayLike(logProbs, 'logProbs');
  let sum = 0;
  for (let i = 0; i < logProbs.length; i++) {
    const v = logProbs[i];
    if (typeof v !== 'number' || !Number.isFinite(v) || v > 0) {
      fail('E_RANGE', `logProbs[${i}]`, 'a finite natural-log probability <= 0', v);
    }
    sum -= v;
  }
  return sum / logProbs.length;
}

/**
 * Mean negative log-likelihood in bits per code: {@link crossEntropy} / ln 2. A uniform model over k
 * codes scores log2(k).
 * @example
 * ```ts
 * bitsPerCode(new Float32Array(10).fill(Math.log(1 / 256))); // 8
 * ```
 */
export function bitsPerCode(logProbs: ArrayLike<number>): number {
  return crossEntropy(logProbs) / Math.LN2;
}

/**
 * Perplexity of the model on the true codes: 2^{@link bitsPerCode} (= e^crossEntropy), the effective
 * number of equally likely choices per code; k for a uniform model over k codes.
 * @example
 * ```ts
 * perplexity([Math.log(0.25), Math.log(0.25)]); // 4
 * ```
 */
export function perplexity(logProbs: ArrayLike<number>): number {
  return 2 ** bitsPerCode(logProbs);
}

/**
 * Shannon entropy in bits of one probability distribution: `−Σ p log2 p` (0 log 0 = 0). Entries must be
 * finite and >= 0 and sum to 1 within 1e-4; the distribution is renormalised by its sum first so
 * Float32 rounding does not bias the result.
 * @example
 * ```ts
 * entropy([0.5, 0.25, 0.25]); // 1.5 bits
 * ```
 */
export function entropy(probs: ArrayLike<number>): number {
  assertArrayLike(probs, 'probs');
  let total = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0) fail('E_RANGE', `probs[${i}]`, 'a finite probability >= 0', p);
    total += p;
  }
  if (Math.abs(total - 1) > 1e-4) fail('E_RANGE', 'probs', 'probabilities summing to 1 (within 1e-4)', total);
  let h = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] / total;
    if (p > 0) h -= p * Math.log2(p);
  }
  return h;
}

function assertCodes(a: unknown, arg: string): asserts a is CodeArray {
  if (!(a instanceof Int32Array || a instanceof Uint16Array)) fail('E_DTYPE', arg, 'an Int32Array or Uint16Array of codes', a);
  if (a.length === 0) fail('E_SHAPE', `${arg}.length`, 'at least 1', 0);
}

/**
 * Fraction in [0, 1] of positions whose true code is among the first `k` of the ranked candidates
 * predicted for it. `predicted` holds `K` candidates per position, best first
 * (`predicted[i*K .. i*K+K)` for position i, so `predicted.length = K * truth.length`); `k` defaults to K.
 * @example
 * ```ts
 * // two positions, 3 candidates each
 * topKAccuracy(Int32Array.of(4, 1, 7, 2, 0, 9), Int32Array.of(1, 5), 2); // 0.5
 * ```
 */
export function topKAccuracy(predicted: CodeArray, truth: CodeArray, k?: number): number {
  assertCodes(predicted, 'predicted');
  assertCodes(truth, 'truth');
  const candidates = predicted.length / truth.length;
  if (!Number.isInteger(candidates)) {
    fail('E_SHAPE', 'predicted.length', `a multiple of truth.length (${truth.length})`, predicted.length);
  }
  const top = k ?? candidates;
  assertInt(top, 'k', 1, candidates);
  let hits = 0;
  for (let i = 0; i < truth.length; i++) {
    const base = i * candidates;
    for (let c = 0; c < top; c++) {
      if (predicted[base + c] === truth[i]) {
        hits++;
        break;
      }
    }
  }
  return hits / truth.length;
}

/**
 * Fraction in [0, 1] of positions where the predicted code equals the true one (top-1 accuracy);
 * both arrays must have the same length.
 * @example
 * ```ts
 * codeAccuracy(Uint16Array.of(1, 2, 3, 4), Uint16Array.of(1, 2, 0, 4)); // 0.75
 * ```
 */
export function codeAccuracy(predicted: CodeArray, truth: CodeArray): number {
  assertCodes(predicted, 'predicted');
  assertCodes(truth, 'truth');
  if (predicted.length !== truth.length) fail('E_SHAPE', 'predicted.length', `${truth.length} (truth.length)`, predicted.length);
  return topKAccuracy(predicted, truth, 1);
}

/**
 * The `k` highest-scoring codes of each position, best first (ties: lower code first), from scores
 * (probabilities, logits or log-probabilities) laid out `n x numCodes` row-major. Returns an Int32Array
 * `n*k` ready for {@link topKAccuracy}.
 * @example
 * ```ts
 * topKCodes(Float32Array.of(0.1, 0.7, 0.2, 0.5, 0.3, 0.2), 3, 2); // Int32Array [1, 2, 0, 1]
 * ```
 */
export function topKCodes(scores: ArrayLike<number>, numCodes: number, k: number): Int32Array {
  assertArrayLike(scores, 'scores');
  assertInt(numCodes, 'numCodes', 1);
  assertInt(k, 'k', 1, numCodes);
  if (scores.length % numCodes !== 0) fail('E_SHAPE', 'scores.length', `a multiple of numCodes (${numCodes})`, scores.length);
  const n = scores.length / numCodes;
  const out = new Int32Array(n * k);
  for (let i = 0; i < n; i++) {
    const base = i * numCodes;
    const best = out.subarray(i * k, (i + 1) * k);
    let filled = 0;
    for (let c = 0; c < numCodes; c++) {
      const s = scores[base + c];
      if (Number.isNaN(s)) fail('E_RANGE', `scores[${base + c}]`, 'a number (not NaN)', s);
      // insertion into the sorted top-k list; strict > keeps the lower code first on ties
      let pos = filled;
      while (pos > 0 && s > scores[base + best[pos - 1]]) pos--;
      if (pos >= k) continue;
      for (let j = Math.min(filled, k - 1); j > pos; j--) best[j] = best[j - 1];
      best[pos] = c;
      if (filled < k) filled++;
    }
  }
  return out;
}
