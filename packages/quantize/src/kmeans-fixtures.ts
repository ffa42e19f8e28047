import { Rng } from '@vqvid/core';
import { extractPatches } from '@vqvid/patches';
import { syntheticVideo } from '@vqvid/video';
import { assignNaive, labelDistances } from './assign';
import type { AssignFn, Rows } from './kmeans';

/**
 * Fixtures of the k-means loop tests (kmeans-hamerly.test.ts, kmeans-yinyang.test.ts): assignment functions
 * that are legal but different backends, and real-looking or tie-heavy points.
 */

/** The float64 reference as an assignment function. */
export const naive = (dim: number): AssignFn => async (data, n, centroids, k) => assignNaive(data, n, centroids, k, dim);

/** float32 ||c||² − 2x·c with every operation rounded to float32, ties to the HIGHEST index: a legal but different backend. */
export const float32HighTies = (dim: number): AssignFn => async (data, n, centroids, k) => {
  const f = Math.fround;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let j = 0; j < k; j++) {
      let dot = 0, nc = 0;
      for (let d = 0; d < dim; d++) {
        dot = f(dot + f(data[i * dim + d] * centroids[j * dim + d]));
        nc = f(nc + f(centroids[j * dim + d] * centroids[j * dim + d]));
      }
      const v = f(nc - f(2 * dot));
      if (v <= best) {
        best = v;
        labels[i] = j;
      }
    }
  }
  return { labels, dist: labelDistances(data, n, centroids, dim, labels) };
};

/** 8x8 patches (stride 4) of a synthetic clip, scaled like the codec's std normalisation. */
export function clipPatches(kind: 'pan' | 'bouncing', frames: number): Rows {
  const clip = syntheticVideo({ kind, width: 48, height: 40, frames, seed: 5 });
  const g = extractPatches(clip, { size: 8, stride: 4 });
  const data = g.data.map((v) => v / 64);
  return { data, n: data.length / 64, dim: 64 };
}

/** Random points with many exact duplicates: each a copy of one of `distinct` random rows of small integers. */
export function withDuplicates(n: number, distinct: number, dim: number, seed: number): Rows {
  const rng = new Rng(seed);
  const pool = Float32Array.from({ length: distinct * dim }, () => rng.int(5));
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const p = rng.int(pool.length / dim);
    data.set(pool.subarray(p * dim, p * dim + dim), i * dim);
  }
  return { data, n, dim };
}
