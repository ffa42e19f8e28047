import { Rng } from '@vqvid/core';
import { type Top2Task, augmentedRows, centroidMean, labelDistances, scoreMatrix, top2Reference } from './assign';
import { CpuBackend } from './cpu';
import { clipPatches, float32HighTies, naive, withDuplicates } from './kmeans-fixtures';
import { type AssignFn, type Rows, lloyd, seedKMeansPP, seedRandom } from './kmeans';
import { type BoundsView, type Top2Fn, YINYANG_MIN_K, groupCentroids, pickAlgorithm, yinyang } from './kmeans-yinyang';
import { Quantizer } from './quantizer';
import { TfjsWasmBackend } from './tfjs-wasm';

/** Runs both loops for `iters` iterations (tol 0) and expects identical labels, centroids and inertia history. */
async function expectIdentical(rows: Rows, init: Float32Array, k: number, iters: number, assign: AssignFn, top2?: Top2Fn, groups?: number) {
  const opts = { maxIter: iters, tol: 0 };
  const a = await lloyd(rows, init, k, opts, assign);
  const b = await yinyang(rows, init, k, { ...opts, groups }, assign, top2);
  expect(b.iterations).toBe(a.iterations);
  expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
  expect(Array.from(b.centroids)).toEqual(Array.from(a.centroids));
  expect(b.inertiaHistory).toEqual(a.inertiaHistory);
  expect(b.skipped).toHaveLength(b.iterations);
  return b.skipped;
}

describe('yinyang: identical to plain Lloyd from the same start', () => {
  test('on patches of the pan clip, exact float64 backend, k-means++ start, several group counts', async () => {
    const rows = clipPatches('pan', 6);
    const k = 24;
    const init = await seedKMeansPP(rows, k, new Rng(3), naive(64));
    for (const groups of [1, 5, undefined]) {
      const skipped = await expectIdentical(rows, init, k, 8, naive(64), undefined, groups);
      if (groups === 5) expect(skipped[skipped.length - 1]).toBeGreaterThan(0.5); // the bounds pay off on real data
    }
  });

  test('on patches of the bouncing clip with the wasm SIMD backend (float32), stopping at every iteration count', async () => {
    const rows = clipPatches('bouncing', 6);
    const k = 40;
    const backend = new CpuBackend('simd-1');
    const assign: AssignFn = (data, n, c, kk) => backend.assign(data, n, c, kk, 64);
    try {
      for (let iters = 1; iters <= 5; iters++) await expectIdentical(rows, seedRandom(rows, k, new Rng(9)), k, iters, assign, undefined, 6);
    } finally {
      backend.dispose();
    }
  });

  test('with tfjs-wasm for both the assignment and the blocked top-2 search (its float32 GEMM), threads included', async () => {
    const rows = clipPatches('bouncing', 8);
    const k = 64;
    const backend = await TfjsWasmBackend.create();
    Object.assign(backend.limits, { pointsPerJob: 32, threads: 2 }); // small tasks still reach the worker
    const assign: AssignFn = (data, n, c, kk) => backend.assign(data, n, c, kk, 64);
    try {
      const init = await seedKMeansPP(rows, k, new Rng(4), assign);
      await expectIdentical(rows, init, k, 6, assign, (tasks) => backend.top2(tasks), 8);
      expect(backend.lastRun.threads).toBe(2);
    } finally {
      backend.dispose();
    }
  });

  test('near-ties at float32 resolution: centroids in pairs a few ulps apart, far from the origin, on float32 backends', async () => {
    const clip = clipPatches('bouncing', 5);
    const rows = { ...clip, data: clip.data.map((v, e) => v + 300 + (e % 64)) }; // norms ~2,800: float32 ulps ~1e-4
    const k = 32;
    const init = seedRandom(rows, k, new Rng(5));
    const rng = new Rng(6);
    for (let j = 1; j < k; j += 2) for (let d = 0; d < 64; d++) init[j * 64 + d] = init[(j - 1) * 64 + d] + (rng.next() - 0.5) * 2e-4;
    const simd = new CpuBackend('simd-1');
    const tfw = await TfjsWasmBackend.create();
    try {
      const viaSimd: AssignFn = (data, n, c, kk) => simd.assign(data, n, c, kk, 64);
      const viaTf: AssignFn = (data, n, c, kk) => tfw.assign(data, n, c, kk, 64);
      await expectIdentical(rows, init, k, 4, viaSimd, (tasks) => tfw.top2(tasks), 5);
      await expectIdentical(rows, init, k, 4, viaTf, (tasks) => tfw.top2(tasks), 5);
      // the float32 emulation breaking ties upwards, centred on the rounded centroid mean like every backend
      const centred: AssignFn = async (data, n, c, kk) => {
        const m = centroidMean(c, kk, 64);
        const got = await float32HighTies(64)(data.map((v, e) => v - m[e % 64]), n, c.map((v, e) => v - m[e % 64]), kk);
        return { labels: got.labels, dist: labelDistances(data, n, c, 64, got.labels) };
      };
      await expectIdentical(rows, init, k, 4, centred, undefined, 5);
    } finally {
      simd.dispose();
      tfw.dispose();
    }
  });

  test('random data with duplicate points and a float32 backend that breaks ties to the highest index', async () => {
    // fewer distinct rows than centroids: duplicated centroids persist, so exact ties occur in every iteration
    const few = withDuplicates(300, 14, 6, 4);
    await expectIdentical(few, seedRandom(few, 20, new Rng(2)), 20, 6, float32HighTies(6), undefined, 4);
    const many = withDuplicates(300, 100, 6, 4);
    const init = seedRandom(many, 20, new Rng(2));
    init.copyWithin(5 * 6, 0, 6); // a duplicated centroid
    await expectIdentical(many, init, 20, 6, float32HighTies(6), undefined, 3);
    await expectIdentical(many, init, 20, 6, naive(6), undefined, 20);
  });
});

describe('yinyang bounds', () => {
  test('never claim more than the float64 brute force shows: upper ≥ own distance, group lower ≤ every other distance', async () => {
    const rows = clipPatches('pan', 5);
    const { data, n, dim } = rows;
    const k = 30;
    let checked = 0, positive = 0;
    const wrong: string[] = [];
    const inspect = (v: BoundsView) => {
      const { labels, upper, lower, group, t, centroids } = v;
      for (let i = 0; i < n; i++) {
        const d = assignNaiveRow(data, i, centroids, k, dim);
        if (!(upper[i] >= Math.sqrt(d[labels[i]]))) wrong.push(`upper of point ${i}`);
        for (let j = 0; j < k; j++) {
          if (j === labels[i]) continue;
          const l = lower[i * t + group[j]];
          if (!(l <= Math.sqrt(d[j]))) wrong.push(`lower of point ${i}, centroid ${j}`);
          if (l > 0) positive++;
          checked++;
        }
      }
    };
    const r = await yinyang(rows, seedRandom(rows, k, new Rng(6)), k, { maxIter: 6, tol: 0, groups: 6, inspect }, naive(64));
    expect(wrong).toEqual([]);
    expect(checked).toBe(7 * n * (k - 1)); // after the first search and after each of the 6 iterations
    expect(positive / checked).toBeGreaterThan(0.5); // the bounds are not vacuous
    expect(Math.min(...r.skipped.slice(2))).toBeGreaterThan(0.3);
  });

  test('groupCentroids cuts the centroids into non-empty groups of a permutation', async () => {
    const rows = clipPatches('pan', 3);
    const c = seedRandom(rows, 50, new Rng(1));
    const { order, starts, group } = await groupCentroids(c, 50, 64, 7, naive(64));
    expect(Array.from(order).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, j) => j));
    expect(starts[0]).toBe(0);
    expect(starts[starts.length - 1]).toBe(50);
    for (let g = 0; g + 1 < starts.length; g++) {
      expect(starts[g + 1]).toBeGreaterThan(starts[g]);
      for (let q = starts[g]; q < starts[g + 1]; q++) expect(group[order[q]]).toBe(g);
    }
  });

  test('bad group counts are E_RANGE naming the argument', async () => {
    const rows = clipPatches('pan', 3);
    const init = seedRandom(rows, 8, new Rng(1));
    for (const groups of [0, 1.5, 9, NaN]) {
      await expect(yinyang(rows, init, 8, { maxIter: 1, tol: 0, groups }, naive(64))).rejects.toMatchObject({ code: 'E_RANGE', message: expect.stringContaining('groups') });
    }
  });
});

/** Squared float64 distances of row i to every centroid. */
function assignNaiveRow(data: Float32Array, i: number, centroids: Float32Array, k: number, dim: number): Float64Array {
  const out = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (data[i * dim + d] - centroids[j * dim + d]) ** 2;
    out[j] = s;
  }
  return out;
}

describe('top2 searches', () => {
  /** A task of random points against random centroids cut into segments of the given widths. */
  function task(rows: number, widths: number[], dim: number, seed: number): Top2Task {
    const rng = new Rng(seed);
    const cols = widths.reduce((s, v) => s + v, 0);
    const data = Float32Array.from({ length: rows * dim }, () => rng.next() * 4 - 2);
    const c = Float32Array.from({ length: cols * dim }, () => rng.next() * 4 - 2);
    const mean = centroidMean(c, cols, dim);
    const starts = Int32Array.from(widths, (_, s) => widths.slice(0, s).reduce((a, v) => a + v, 0));
    return { a: augmentedRows(data, 0, rows, dim, mean), rows, b: scoreMatrix(c, 0, cols, dim, mean), cols, starts };
  }

  test('the reference gives the two smallest float64 scores per segment, first index on ties', async () => {
    // one point [1, 1] against centroids (0,0) (2,2) (1,1) | (3,3) (1,1): scores are squared distances minus 2
    const t: Top2Task = {
      a: Float32Array.of(1, 1, 1), rows: 1, cols: 5, starts: Int32Array.of(0, 3),
      b: Float32Array.of(0, -4, -2, -6, -2, /* */ 0, -4, -2, -6, -2, /* */ 0, 8, 2, 18, 2),
    };
    const [r] = await top2Reference([t]);
    expect(Array.from(r.best)).toEqual([2, 1]);
    expect(Array.from(r.v1)).toEqual([-2, -2]);
    expect(Array.from(r.v2)).toEqual([0, 6]);
    const tie = await top2Reference([{ ...t, b: Float32Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1) }]);
    expect(Array.from(tie[0].best)).toEqual([0, 0]);
  });

  test('tfjs-wasm matches the reference within float32 rounding, on the calling thread and on workers, leaving no buffer', async () => {
    const b = await TfjsWasmBackend.create();
    const tasks = [task(70, [64], 16, 1), task(300, [5, 1, 40, 7], 16, 2), task(3, [10000], 3, 3), task(0, [4], 16, 4)];
    try {
      for (const threads of [1, 2]) {
        b.dispose(); // a fresh worker pool of the new size
        Object.assign(b.limits, { pointsPerJob: 16, threads, pointTile: 64 });
        const before = b.tfBackend.numDataIds();
        const got = await b.top2(tasks);
        const want = await top2Reference(tasks);
        expect(b.lastRun.threads).toBe(threads);
        if (threads === 2) expect(b.lastRun.workerBuffers.every((v) => v === 0)).toBe(true);
        expect(b.tfBackend.numDataIds()).toBe(before);
        got.forEach((g, q) => {
          for (let e = 0; e < g.v1.length; e++) {
            const tol = 1e-4 * (1 + Math.abs(want[q].v1[e]));
            expect(Math.abs(g.v1[e] - want[q].v1[e])).toBeLessThan(tol);
            if (Number.isFinite(want[q].v2[e])) expect(Math.abs(g.v2[e] - want[q].v2[e])).toBeLessThan(1e-4 * (1 + Math.abs(want[q].v2[e])));
            else expect(g.v2[e]).toBe(Infinity);
            if (want[q].v2[e] - want[q].v1[e] > 2 * tol) expect(g.best[e]).toBe(want[q].best[e]);
          }
        });
      }
    } finally {
      b.dispose();
    }
  });
});

describe('Quantizer algorithm option', () => {
  test("'yinyang' fits the same codebook as 'lloyd' and reports skipped shares; 'auto' picks it on tfjs-wasm at large k", async () => {
    const fit = async (algorithm: 'lloyd' | 'yinyang' | 'auto', k: number, backend: 'wasm-simd' | 'tfjs-wasm', frames = 4) => {
      const q = new Quantizer({ k, seed: 3, maxIter: 4, tol: 0, backend, algorithm });
      await q.fit({ data: clipPatches('pan', frames).data, dim: 64 });
      q.dispose();
      return q;
    };
    const [plain, fast] = [await fit('lloyd', 16, 'wasm-simd'), await fit('yinyang', 16, 'wasm-simd')];
    expect(Array.from(fast.codebook.centroids)).toEqual(Array.from(plain.codebook.centroids));
    expect(fast.inertiaHistory).toEqual(plain.inertiaHistory);
    expect(fast.skipped).toHaveLength(fast.iterations);
    expect(plain.skipped).toEqual([]);
    const [big, auto] = [await fit('lloyd', YINYANG_MIN_K, 'tfjs-wasm', 12), await fit('auto', YINYANG_MIN_K, 'tfjs-wasm', 12)];
    expect(auto.skipped).toHaveLength(auto.iterations); // 'auto' ran yinyang
    expect(Array.from(auto.codebook.centroids)).toEqual(Array.from(big.codebook.centroids));
    expect((await fit('auto', 16, 'tfjs-wasm')).skipped).toEqual([]); // small k: Lloyd
    expect(() => new Quantizer({ k: 4, algorithm: 'elkan' as 'lloyd' })).toThrow(expect.objectContaining({ code: 'E_RANGE', message: expect.stringContaining('algorithm') }));
  });

  test('pickAlgorithm: explicit choices stand; auto needs a blocked search and k ≥ 1024', () => {
    const withTop2 = { top2: top2Reference };
    expect(pickAlgorithm('hamerly', 10, withTop2)).toBe('hamerly');
    expect(pickAlgorithm('yinyang', 10, {})).toBe('yinyang');
    expect(pickAlgorithm('auto', 1024, withTop2)).toBe('yinyang');
    expect(pickAlgorithm('auto', 1023, withTop2)).toBe('lloyd');
    expect(pickAlgorithm('auto', 10000, {})).toBe('lloyd');
  });
});
