/* Shared by this package's tests (not exported): the slow references they compare with. */
import type { CodeVolume } from '@vqvid/core';

/** Ideal bits of frame 0 under the adaptive unigram (count 1 each, +32 per code coded), the slow way. */
export function unigramFrame0Bits(v: CodeVolume): number {
  const counts = new Array<number>(v.k).fill(1);
  let bits = 0;
  for (let i = 0; i < v.rows * v.cols; i++) {
    const total = counts.reduce((a, b) => a + b, 0);
    bits -= Math.log2(counts[v.codes[i]] / total);
    counts[v.codes[i]] += 32;
  }
  return bits;
}
