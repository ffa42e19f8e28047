import { Rng } from '@vqvid/core';
import { CpuBackend } from './cpu';
import { clipPatches, float32HighTies, naive, withDuplicates } from './kmeans-fixtures';
import { backendSlack, hamerly } from './kmeans-hamerly';
import { type AssignFn, type Rows, lloyd, seedKMeansPP, seedRandom } from './kmeans';
import { Quantizer } from './quantizer';

/** Runs both loops for 1..iters iterations (tol 0) and expects identical labels, centroids and inertia each time. */
async function expectIdentical(rows: Rows, init: Float32Array, k: number, iters: number, assign: AssignFn): Promise<number[]> {
  let skipped: number[] = [];
  for (let t = 1; t <= iters; t++) {
    const opts = { maxIter: t, tol: 0 };
    const a = await lloyd(rows, init, k, opts, assign);
    const b = await hamerly(rows, init, k, opts, assign);
    expect(b.iterations).toBe(a.iterations);
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    expect(Array.from(b.centroids)).toEqual(Array.from(a.centroids));
    expect(b.inertiaHistory).toEqual(a.inertiaHistory);
    skipped = b.skipped;
  }
  return skipped;
}

describe('hamerly: identical to plain Lloyd from the same start', () => {
  test('on patches of the pan clip, exact float64 backend, k-means++ start', async () => {
    const rows = clipPatches('pan', 6);
    const k = 24;
    const init = await seedKMeansPP(rows, k, new Rng(3), naive(64));
    const skipped = await expectIdentical(rows, init, k, 8, naive(64));
    // bounds must pay off on real data: later iterations skip most distances
    expect(skipped[skipped.length - 1]).toBeGreaterThan(0.5);
  });

  test('on patches of the bouncing clip with the wasm SIMD backend (float32)', async () => {
    const rows = clipPatches('bouncing', 6);
    const k = 40;
    const backend = new CpuBackend('simd-1');
    const assign: AssignFn = (data, n, c, kk) => backend.assign(data, n, c, kk, 64);
    try {
      await expectIdentical(rows, seedRandom(rows, k, new Rng(9)), k, 6, assign);
    } finally {
      backend.dispose();
    }
  });

  test('random data with duplicate points and a float32 backend that breaks ties to the highest index', async () => {
    // fewer distinct rows than centroids: duplicated centroids persist, so exact ties occur in every iteration
    const few = withDuplicates(300, 14, 6, 4);
    await expectIdentical(few, seedRandom(few, 20, new Rng(2)), 20, 6, float32HighTies(6));
    const many = withDuplicates(300, 100, 6, 4);
    const init = seedRandom(many, 20, new Rng(2));
    init.copyWithin(5 * 6, 0, 6); // a duplicated centroid
    await expectIdentical(many, init, 20, 6, float32HighTies(6));
    await expectIdentical(many, init, 20, 6, naive(6));
  });

  test('progress reports inertia and the skipped share per iteration', async () => {
    const rows = clipPatches('pan', 3);
    const events: Array<Record<string, number> | undefined> = [];
    const r = await hamerly(rows, seedRandom(rows, 10, new Rng(1)), 10, { maxIter: 4, tol: 0, onProgress: (e) => events.push(e.metrics) }, naive(64));
    expect(events.map((m) => m?.skipped)).toEqual(r.skipped);
    expect(events.map((m) => m?.inertia)).toEqual(r.inertiaHistory.slice(1));
    for (const s of r.skipped) expect(s).toBeLessThan(1);
  });
});

describe('Quantizer algorithm option', () => {
  test("'hamerly' fits the same codebook as 'lloyd' and reports skipped shares; a bad value is E_RANGE", async () => {
    const rows = clipPatches('pan', 4);
    const fit = async (algorithm: 'lloyd' | 'hamerly' | 'auto') => {
      const q = new Quantizer({ k: 16, seed: 3, maxIter: 6, tol: 0, backend: 'wasm-simd', algorithm });
      await q.fit({ data: rows.data, dim: 64 });
      q.dispose();
      return q;
    };
    const [plain, fast, auto] = [await fit('lloyd'), await fit('hamerly'), await fit('auto')];
    expect(Array.from(fast.codebook.centroids)).toEqual(Array.from(plain.codebook.centroids));
    expect(fast.inertiaHistory).toEqual(plain.inertiaHistory);
    expect(fast.skipped).toHaveLength(fast.iterations);
    expect(plain.skipped).toEqual([]);
    expect(auto.skipped).toEqual([]); // 'auto' is Lloyd (see pickAlgorithm)
    expect(() => new Quantizer({ k: 4, algorithm: 'elkan' as 'lloyd' })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  });
});

describe('backendSlack', () => {
  test('covers the float32 error of the emulated backend on random rows', () => {
    // the worst float32 misjudgement of a squared-distance difference stays below the slack
    const rng = new Rng(8);
    const dim = 64;
    const f = Math.fround;
    let worst = 0;
    for (let t = 0; t < 200; t++) {
      const x = Float32Array.from({ length: dim }, () => rng.next() * 8 - 4);
      const c = Float32Array.from({ length: dim }, () => rng.next() * 8 - 4);
      let dot = 0, nc = 0, exact = 0, nx = 0, nn = 0;
      for (let d = 0; d < dim; d++) {
        dot = f(dot + f(x[d] * c[d]));
        nc = f(nc + f(c[d] * c[d]));
        exact += c[d] * c[d] - 2 * x[d] * c[d];
        nx += x[d] * x[d];
        nn += c[d] * c[d];
      }
      const err = Math.abs(f(nc - f(2 * dot)) - exact);
      worst = Math.max(worst, err / backendSlack(dim, Math.sqrt(nx), Math.sqrt(nn)));
    }
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(0.5); // one distance's error is at most half the slack of a comparison
  });
});
