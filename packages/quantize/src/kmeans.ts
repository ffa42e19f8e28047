import type { OnProgress, Rng } from '@vqvid/core';
import { type AssignResult, labelDistances } from './assign';

/** One assignment pass over `n` rows of the fixed dimension against `k` centroids. */
export type AssignFn = (data: Float32Array, n: number, centroids: Float32Array, k: number) => Promise<AssignResult>;

/** Rows of a matrix: `n` vectors of `dim` floats. */
export interface Rows {
  data: Float32Array;
  n: number;
  dim: number;
}

/** Most points k-means++ seeding looks at: max(20·k, 50 000), a random subsample when there are more. */
export const seedSampleSize = (k: number, n: number) => Math.min(n, Math.max(20 * k, 50_000));

/** k-means++ draws centers in at most this many rounds (one center per round when k ≤ 64). */
export const SEED_ROUNDS = 64;

/** Copies the rows listed in `idx` into a new matrix. */
export function gatherRows(rows: Rows, idx: ArrayLike<number>): Float32Array {
  const { data, dim } = rows;
  const out = new Float32Array(idx.length * dim);
  for (let i = 0; i < idx.length; i++) out.set(data.subarray(idx[i] * dim, idx[i] * dim + dim), i * dim);
  return out;
}

/** `m` distinct indices of [0, n) in random order (partial Fisher–Yates). */
export function sampleIndices(n: number, m: number, rng: Rng): Int32Array {
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, m);
}

/** Initial centers: `k` distinct random rows. */
export function seedRandom(rows: Rows, k: number, rng: Rng): Float32Array {
  return gatherRows(rows, sampleIndices(rows.n, k, rng));
}

/**
 * k-means++ seeding (Arthur & Vassilvitskii 2007) on a random subsample of {@link seedSampleSize} points,
 * drawing centers in rounds: each round draws ceil(k / 64) centers from the current D² distribution (duplicates
 * dropped and made up in later rounds), then updates D² with one backend assignment against the new centers
 * only. With k ≤ 64 this is exactly sequential k-means++; for large k it is k-means|| without its recluster
 * step, so seeding costs about one Lloyd iteration on the subsample instead of k passes.
 */
export async function seedKMeansPP(rows: Rows, k: number, rng: Rng, assign: AssignFn, onProgress?: OnProgress): Promise<Float32Array> {
  const { dim } = rows;
  const s = seedSampleSize(k, rows.n);
  const sub: Rows = { data: gatherRows(rows, sampleIndices(rows.n, s, rng)), n: s, dim };
  const chosen: number[] = [rng.int(s)];
  const first = gatherRows(sub, chosen);
  let d2 = Float64Array.from(labelDistances(sub.data, s, first, dim, new Int32Array(s)));
  const perRound = Math.ceil(k / SEED_ROUNDS);
  while (chosen.length < k) {
    const fresh = drawProportional(d2, Math.min(perRound, k - chosen.length), rng);
    if (fresh.length === 0) {
      // every sampled point coincides with a center: the data has fewer than k distinct points
      while (chosen.length < k) chosen.push(rng.int(s));
      break;
    }
    chosen.push(...fresh);
    const { dist } = await assign(sub.data, s, gatherRows(sub, fresh), fresh.length);
    for (let i = 0; i < s; i++) if (dist[i] < d2[i]) d2[i] = dist[i];
    for (const i of fresh) d2[i] = 0;
    onProgress?.({ stage: 'seed', done: chosen.length, total: k, fraction: chosen.length / k });
  }
  return gatherRows(sub, chosen);
}

/** Up to `m` distinct indices drawn with probability ∝ w (one cumulative sum, binary search per draw). */
function drawProportional(w: Float64Array, m: number, rng: Rng): number[] {
  const cum = new Float64Array(w.length);
  let total = 0;
  for (let i = 0; i < w.length; i++) cum[i] = total += w[i];
  if (!(total > 0)) return [];
  const picked = new Set<number>();
  for (let t = 0; t < m; t++) {
    const r = rng.next() * total;
    let lo = 0, hi = w.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] > r) hi = mid;
      else lo = mid + 1;
    }
    if (w[lo] > 0) picked.add(lo);
  }
  return [...picked];
}

/** Options shared by the two k-means loops. */
export interface LoopOptions {
  maxIter: number;
  tol: number;
  onProgress?: OnProgress;
}

/** What a k-means loop leaves behind. */
export interface LoopResult {
  centroids: Float32Array;
  labels: Int32Array;
  inertia: number;
  inertiaHistory: number[];
  iterations: number;
  /** Per iteration, the share of point–centroid distances skipped (loops with bounds only, see kmeans-hamerly.ts). */
  skipped?: number[];
}

/** Sum of a float32 array, accumulated in float64 in index order (the inertia of a `dist` array). */
export const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);

/**
 * Lloyd iterations from `init`: update centroids to cluster means (empty clusters re-seeded, see
 * {@link updateCentroids}), re-assign, stop when the relative inertia decrease is below `tol` or after
 * `maxIter` updates. inertiaHistory[0] is the inertia of `init`; labels and inertia match the returned centroids.
 */
export async function lloyd(rows: Rows, init: Float32Array, k: number, opts: LoopOptions, assign: AssignFn): Promise<LoopResult> {
  let centroids = init;
  let { labels, dist } = await assign(rows.data, rows.n, centroids, k);
  let inertia = sum(dist);
  const inertiaHistory = [inertia];
  let iterations = 0;
  while (iterations < opts.maxIter) {
    centroids = updateCentroids(rows, k, labels, dist);
    ({ labels, dist } = await assign(rows.data, rows.n, centroids, k));
    const prev = inertia;
    inertia = sum(dist);
    inertiaHistory.push(inertia);
    iterations++;
    opts.onProgress?.({ stage: 'fit', done: iterations, total: opts.maxIter, fraction: iterations / opts.maxIter, metrics: { inertia } });
    if (prev === 0 || (prev - inertia) / prev < opts.tol) break;
  }
  return { centroids, labels, inertia, inertiaHistory, iterations };
}

/**
 * Cluster means of the labelled rows. Each empty cluster (in index order) takes the point farthest from its
 * own centroid that no earlier empty cluster took (ties: lowest point index); that point leaves its old
 * cluster's mean. This never increases inertia: the moved point costs 0, the rest of its old cluster is
 * re-averaged.
 */
export function updateCentroids(rows: Rows, k: number, labels: Int32Array, dist: Float32Array): Float32Array {
  const { data, n, dim } = rows;
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const j = labels[i];
    counts[j]++;
    for (let d = 0; d < dim; d++) sums[j * dim + d] += data[i * dim + d];
  }
  const taken = new Uint8Array(n);
  for (let j = 0; j < k; j++) {
    if (counts[j] > 0) continue;
    const p = farthestFree(dist, taken, labels, counts);
    if (p < 0) continue;
    taken[p] = 1;
    const old = labels[p];
    counts[old]--;
    counts[j] = 1;
    for (let d = 0; d < dim; d++) {
      const v = data[p * dim + d];
      sums[old * dim + d] -= v;
      sums[j * dim + d] = v;
    }
  }
  const out = new Float32Array(k * dim);
  for (let j = 0; j < k; j++) for (let d = 0; d < dim; d++) out[j * dim + d] = sums[j * dim + d] / counts[j];
  return out;
}

/** Farthest point not yet moved whose cluster keeps at least one other point; -1 if none. */
function farthestFree(dist: Float32Array, taken: Uint8Array, labels: Int32Array, counts: Int32Array): number {
  let best = -1;
  for (let i = 0; i < dist.length; i++) {
    if (taken[i] || counts[labels[i]] < 2) continue;
    if (best < 0 || dist[i] > dist[best]) best = i;
  }
  return best;
}

/**
 * Mini-batch k-means (Sculley 2010): each step assigns `batchSize` random points and moves each winning
 * center toward its point with a per-center learning rate 1 / (points that center has seen). Stops after
 * `maxIter` steps or when an exponentially weighted average of the batch inertia changes by less than `tol`
 * (relative). Centers no batch ever reaches keep their seed. inertiaHistory holds per-step estimates of the
 * total inertia (n × mean batch distance); the final inertia and labels come from one full assignment.
 */
export async function miniBatch(
  rows: Rows, init: Float32Array, k: number, batchSize: number, rng: Rng, opts: LoopOptions, assign: AssignFn,
): Promise<LoopResult> {
  const { n, dim } = rows;
  const centroids = Float32Array.from(init);
  const seen = new Float64Array(k);
  const inertiaHistory: number[] = [];
  const alpha = Math.min(1, (2 * batchSize) / (n + 1));
  let ewa = NaN;
  let iterations = 0;
  while (iterations < opts.maxIter) {
    const idx = Int32Array.from({ length: batchSize }, () => rng.int(n));
    const batch = gatherRows(rows, idx);
    const { labels, dist } = await assign(batch, batchSize, centroids, k);
    for (let b = 0; b < batchSize; b++) {
      const j = labels[b];
      const eta = 1 / ++seen[j];
      for (let d = 0; d < dim; d++) centroids[j * dim + d] += eta * (batch[b * dim + d] - centroids[j * dim + d]);
    }
    const estimate = (sum(dist) / batchSize) * n;
    inertiaHistory.push(estimate);
    iterations++;
    const prev = ewa;
    ewa = Number.isNaN(prev) ? estimate : prev * (1 - alpha) + estimate * alpha;
    opts.onProgress?.({ stage: 'fit', done: iterations, total: opts.maxIter, fraction: iterations / opts.maxIter, metrics: { inertia: estimate } });
    if (!Number.isNaN(prev) && Math.abs(prev - ewa) <= opts.tol * prev) break;
  }
  const { labels, dist } = await assign(rows.data, n, centroids, k);
  return { centroids, labels, inertia: sum(dist), inertiaHistory, iterations };
}
