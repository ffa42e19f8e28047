import type { CodeVolume } from '@vqvid/core';

/**
 * ln p(b | a) of the same-cell bigram of `volumes` as a row-major [k, k] table (row a = present code):
 * Witten-Bell interpolation with an add-½ unigram, so every row is a proper distribution over the k codes
 * and unseen pairs keep a finite log-probability. Pairs are (frame t−1, frame t) of one cell; the unigram
 * counts every cell. This is where a model's direct connections start (see {@link ModelOptions.direct}).
 */
export function bigramLogTable(volumes: CodeVolume[], k: number): Float32Array {
  const pairs = new Float32Array(k * k);
  const rowTotal = new Float64Array(k);
  const unigram = new Float64Array(k);
  let cells = 0;
  for (const v of volumes) {
    const n = v.rows * v.cols;
    for (let i = 0; i < v.codes.length; i++) unigram[v.codes[i]]++;
    cells += v.codes.length;
    for (let t = 1; t < v.frames; t++) {
      for (let i = 0; i < n; i++) {
        const a = v.codes[(t - 1) * n + i];
        pairs[a * k + v.codes[t * n + i]]++;
        rowTotal[a]++;
      }
    }
  }
  const pUni = Float64Array.from(unigram, (c) => (c + 0.5) / (cells + 0.5 * k));
  const table = new Float32Array(k * k);
  for (let a = 0; a < k; a++) {
    const row = pairs.subarray(a * k, (a + 1) * k);
    let types = 0;
    for (let b = 0; b < k; b++) if (row[b] > 0) types++;
    const total = rowTotal[a];
    for (let b = 0; b < k; b++) {
      // (c + T·p_uni) / (n + T); a context never seen (n = 0) falls back to the unigram
      const p = total > 0 ? (row[b] + types * pUni[b]) / (total + types) : pUni[b];
      table[a * k + b] = Math.log(p);
    }
  }
  return table;
}
