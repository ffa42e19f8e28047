import { Rng } from '@vqvid/core';
import { assignNaive } from './assign';
import { clusteredProblem } from './compare';
import { type AssignFn, type Rows, lloyd, miniBatch, sampleIndices, seedKMeansPP, seedRandom, updateCentroids } from './kmeans';

const naive = (dim: number): AssignFn => async (data, n, centroids, k) => assignNaive(data, n, centroids, k, dim);
const rowsOf = (n: number, k: number, dim: number, seed: number): Rows => ({ data: clusteredProblem(n, k, dim, seed).data, n, dim });
const inertiaOf = (rows: Rows, c: Float32Array, k: number) => assignNaive(rows.data, rows.n, c, k, rows.dim).dist.reduce((s, v) => s + v, 0);

describe('seeding', () => {
  test('sampleIndices draws distinct indices', () => {
    const idx = sampleIndices(100, 40, new Rng(1));
    expect(new Set(idx).size).toBe(40);
    expect(Math.max(...idx)).toBeLessThan(100);
  });

  test('k-means++ picks one seed per well separated cluster', async () => {
    // 6 clusters 100 apart on a line, points within ±1 of their center
    const rng = new Rng(2);
    const data = Float32Array.from({ length: 600 * 4 }, (_, i) => 100 * (Math.floor(i / 4) % 6) + rng.next() * 2 - 1);
    const seeds = await seedKMeansPP({ data, n: 600, dim: 4 }, 6, new Rng(3), naive(4));
    const hit = new Set(Array.from(seeds.filter((_, i) => i % 4 === 0), (v) => Math.round(v / 100)));
    expect(hit.size).toBe(6);
  });

  test('k-means++ in rounds (k > 64) returns k distinct data rows and beats random seeding', async () => {
    const rows = rowsOf(2000, 100, 6, 5);
    const k = 100;
    const pp = await seedKMeansPP(rows, k, new Rng(7), naive(6));
    const keys = new Set<string>();
    for (let j = 0; j < k; j++) keys.add(Array.from(pp.subarray(j * 6, j * 6 + 6)).join(','));
    expect(keys.size).toBe(k);
    const rand = seedRandom(rows, k, new Rng(7));
    expect(inertiaOf(rows, pp, k)).toBeLessThan(inertiaOf(rows, rand, k));
  });

  test('fewer distinct points than k still yields k centers', async () => {
    const rows: Rows = { data: new Float32Array([0, 0, 1, 1, 0, 0, 1, 1, 0, 0]), n: 5, dim: 2 };
    const c = await seedKMeansPP(rows, 4, new Rng(1), naive(2));
    expect(c.length).toBe(8);
  });
});

describe('Lloyd', () => {
  test('inertia never increases and the result is a fixed point', async () => {
    const rows = rowsOf(400, 8, 5, 11);
    const init = seedRandom(rows, 8, new Rng(2));
    const r = await lloyd(rows, init, 8, { maxIter: 30, tol: 0 }, naive(5));
    for (let i = 1; i < r.inertiaHistory.length; i++) expect(r.inertiaHistory[i]).toBeLessThanOrEqual(r.inertiaHistory[i - 1] * (1 + 1e-6));
    expect(r.inertiaHistory[0]).toBeGreaterThan(r.inertia);
    expect(r.inertia).toBeCloseTo(inertiaOf(rows, r.centroids, 8), 1);
    // at convergence the centroids are the means of their clusters
    const again = updateCentroids(rows, 8, r.labels, assignNaive(rows.data, 400, r.centroids, 8, 5).dist);
    for (let i = 0; i < again.length; i++) expect(again[i]).toBeCloseTo(r.centroids[i], 4);
  });

  test('stops early when the relative change is below tol', async () => {
    const rows = rowsOf(300, 4, 3, 1);
    const r = await lloyd(rows, seedRandom(rows, 4, new Rng(1)), 4, { maxIter: 100, tol: 1e-3 }, naive(3));
    expect(r.iterations).toBeLessThan(100);
    const last = r.inertiaHistory.length - 1;
    expect((r.inertiaHistory[last - 1] - r.inertiaHistory[last]) / r.inertiaHistory[last - 1]).toBeLessThan(1e-3);
  });
});

describe('updateCentroids', () => {
  test('means of clusters; an empty cluster takes the farthest point, which leaves its old cluster', () => {
    // 1-D points, all labelled 0; cluster 1 is empty; farthest (dist 100) is point 3 (value 10)
    const rows: Rows = { data: new Float32Array([0, 1, 2, 10]), n: 4, dim: 1 };
    const labels = new Int32Array([0, 0, 0, 0]);
    const dist = new Float32Array([0, 1, 4, 100]);
    const c = updateCentroids(rows, 2, labels, dist);
    expect(Array.from(c)).toEqual([1, 10]);
  });

  test('two empty clusters take the two farthest points', () => {
    const rows: Rows = { data: new Float32Array([0, 1, 7, 9, 2]), n: 5, dim: 1 };
    const c = updateCentroids(rows, 3, new Int32Array(5), new Float32Array([0, 1, 49, 81, 4]));
    expect(Array.from(c)).toEqual([1, 9, 7]);
  });
});

describe('mini-batch k-means', () => {
  test('reduces inertia from the seeds and is reproducible', async () => {
    const rows = rowsOf(3000, 10, 8, 21);
    const init = seedRandom(rows, 10, new Rng(4));
    const run = () => miniBatch(rows, init, 10, 100, new Rng(9), { maxIter: 60, tol: 0 }, naive(8));
    const a = await run();
    expect(a.inertia).toBeLessThan(0.8 * inertiaOf(rows, init, 10));
    expect(a.inertia).toBeCloseTo(inertiaOf(rows, a.centroids, 10), 0);
    expect(a.iterations).toBe(60);
    const b = await run();
    expect(Array.from(b.centroids)).toEqual(Array.from(a.centroids));
  });
});
