import type { CodeVolume } from '@vqvid/core';
import { SparseBigram } from './output/prior';

/**
 * ln p(b | a) of the same-cell bigram of `volumes` as a row-major [k, k] table (row a = present code):
 * Witten-Bell interpolation with an add-½ unigram, so every row is a proper distribution over the k codes
 * and unseen pairs keep a finite log-probability. Pairs are (frame t−1, frame t) of one cell; the unigram
 * counts every cell. This is where a model's direct connections start (see {@link ModelOptions.direct}).
 */
export function bigramLogTable(volumes: CodeVolume[], k: number): Float32Array {
  // the counts and the smoothing are the copy-aware output's sparse bigram; this lays it out densely
  const bigram = SparseBigram.fit(volumes, k);
  const table = new Float32Array(k * k);
  for (let a = 0; a < k; a++) bigram.row(a, table, a * k);
  for (let i = 0; i < table.length; i++) table[i] = Math.log(table[i]);
  return table;
}
