import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Video, Rng, VqvidError } from '@vqvid/core';
import { extractPatches, samplePatches } from '@vqvid/patches';
import { assignNaive } from './assign';
import { clusteredProblem } from './compare';
import { Quantizer } from './quantizer';

/** Small textured clip: moving stripes plus noise, 3 frames of 24 x 16. */
function clip(): Video {
  const rng = new Rng(5);
  const width = 24, height = 16, frames = 3;
  const data = Float32Array.from({ length: width * height * frames }, (_, i) => {
    const x = i % width, y = Math.floor(i / width) % height, t = Math.floor(i / (width * height));
    return Math.sin((x + 2 * t) / 3) + Math.cos(y / 4) + 0.1 * rng.normal();
  });
  return { width, height, frames, data };
}

const grid = extractPatches(clip(), { size: 4, stride: 2 });
const quiet = { log: () => undefined };
let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'vqvid-quantize-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('Quantizer on a real PatchGrid', () => {
  const q = new Quantizer({ k: 12, seed: 3, maxIter: 20, backend: 'cpu' });
  beforeAll(() => q.fit(grid));
  afterAll(() => q.dispose());

  test('fit records backend, statistics and codebook', () => {
    expect(q.backend).toBe('wasm-simd'); // asked for by its old name 'cpu'
    expect(q.backendReason).toBeNull();
    expect(q.codebook.k).toBe(12);
    expect(q.codebook.dim).toBe(16);
    expect(q.codebook.meta).toMatchObject({ size: 4, stride: 2, seed: 3 });
    const n = grid.frames * grid.rows * grid.cols;
    expect(q.clusterSizes.reduce((s, v) => s + v, 0)).toBe(n);
    expect(q.inertia).toBeCloseTo(q.inertiaHistory[q.inertiaHistory.length - 1], 6);
    expect(q.iterations).toBe(q.inertiaHistory.length - 1);
    expect(q.inertia).toBeCloseTo(assignNaive(grid.data, n, q.codebook.centroids, 12, 16).dist.reduce((s, v) => s + v, 0), 1);
  });

  test('encode gives grid-shaped Uint16 codes equal to the naive nearest centroid, with distances', async () => {
    const codes = await q.encode(grid, { withDistances: true });
    expect(codes).toMatchObject({ rows: grid.rows, cols: grid.cols, frames: grid.frames, k: 12 });
    expect(codes.codes).toBeInstanceOf(Uint16Array);
    const n = grid.frames * grid.rows * grid.cols;
    const want = assignNaive(grid.data, n, q.codebook.centroids, 12, 16);
    expect(Array.from(codes.codes)).toEqual(Array.from(want.labels));
    for (let i = 0; i < n; i++) expect(codes.distances![i]).toBeCloseTo(want.dist[i], 4);
    expect((await q.encode(grid)).distances).toBeUndefined();
  });

  test('decode rebuilds a PatchGrid of centroids with the remembered geometry', async () => {
    const codes = await q.encode(grid);
    const back = q.decode(codes);
    expect(back).toMatchObject({ size: 4, stride: 2, rows: grid.rows, cols: grid.cols, frames: grid.frames });
    const c = codes.codes[7];
    expect(Array.from(back.data.subarray(7 * 16, 8 * 16))).toEqual(Array.from(q.codebook.centroids.subarray(c * 16, c * 16 + 16)));
    expect(q.decode(codes, { stride: 4 }).stride).toBe(4);
  });

  test('save/load and toJSON/fromJSON round trips are identical', async () => {
    const path = join(dir, 'book.vqcb');
    await q.save(path);
    const loaded = await Quantizer.load(path, { backend: 'cpu' });
    const fromJson = Quantizer.fromJSON(JSON.parse(JSON.stringify(q.toJSON())), { backend: 'cpu' });
    for (const r of [loaded, fromJson]) {
      expect(r.codebook.centroids).toEqual(q.codebook.centroids);
      expect(r.codebook.meta).toEqual(q.codebook.meta);
      expect(r.options).toEqual(q.options);
      expect([r.inertia, r.iterations, r.inertiaHistory]).toEqual([q.inertia, q.iterations, q.inertiaHistory]);
      expect(r.clusterSizes).toEqual(q.clusterSizes);
      expect((await r.encode(grid)).codes).toEqual((await q.encode(grid)).codes);
      r.dispose();
    }
  });
});

describe('Quantizer behaviour', () => {
  const { data } = clusteredProblem(600, 6, 8, 2);
  const points = { data, dim: 8 };

  test('fit reports seeding and iteration progress', async () => {
    const events: string[] = [];
    const q = new Quantizer({ k: 6, seed: 1, maxIter: 3, tol: 0, backend: 'cpu', onProgress: (e) => events.push(`${e.stage}:${e.done}/${e.total}`) });
    await q.fit(points);
    expect(events).toEqual(['seed:2/6', 'seed:3/6', 'seed:4/6', 'seed:5/6', 'seed:6/6', 'fit:1/3', 'fit:2/3', 'fit:3/3']);
  });

  test('seeded runs are reproducible; another seed differs', async () => {
    const run = async (seed: number) => {
      const q = new Quantizer({ k: 6, seed, backend: 'webasm' });
      await q.fit(points);
      q.dispose();
      return q.codebook.centroids;
    };
    const a = await run(1);
    expect(await run(1)).toEqual(a);
    expect(await run(2)).not.toEqual(a);
  });

  test('webasm, tfjs-wasm and wasm-simd fits agree (same seed, same labels)', async () => {
    const fits = await Promise.all((['webasm', 'tfjs-wasm', 'wasm-simd'] as const).map(async (backend) => {
      const q = new Quantizer({ k: 6, seed: 4, backend });
      await q.fit(points);
      q.dispose();
      return q;
    }));
    expect(fits.map((q) => q.backend)).toEqual(['webasm', 'tfjs-wasm', 'wasm-simd']);
    for (const q of fits.slice(0, 2)) {
      expect(Array.from(q.clusterSizes)).toEqual(Array.from(fits[2].clusterSizes));
      expect(q.inertia).toBeCloseTo(fits[2].inertia, 2);
    }
  });

  test('mini-batch fit lowers inertia below its seeds and reports progress', async () => {
    const events: number[] = [];
    const q = new Quantizer({ k: 6, seed: 1, batchSize: 64, maxIter: 40, tol: 0, init: 'random', backend: 'cpu', onProgress: (e) => e.stage === 'fit' && events.push(e.done) });
    await q.fit(points);
    expect(events).toHaveLength(40);
    expect(q.codebook.meta.algorithm).toBe('minibatch');
    const seeds = new Quantizer({ k: 6, seed: 1, maxIter: 1, init: 'random', backend: 'cpu' });
    await seeds.fit(points); // inertiaHistory[0] is the inertia of the same random seeds
    expect(q.inertia).toBeLessThan(seeds.inertiaHistory[0]);
  });

  test('k > 65536 gives Int32Array codes', async () => {
    const k = 65537;
    // spacing 0.001; points near the centroid mean (33), where that spacing is far above the float32 floor
    const centroids = Array.from({ length: k }, (_, j) => Math.fround(j / 1000));
    const q = Quantizer.fromJSON({
      format: 'vqvid-quantizer', version: 1, options: { k, seed: 1, init: 'random', maxIter: 1, tol: 0 },
      codebook: { k, dim: 1, centroids, meta: {} },
      stats: { inertia: 0, iterations: 0, inertiaHistory: [], clusterSizes: new Array(k).fill(0) },
    }, { backend: 'cpu' });
    const codes = await q.encode({ data: new Float32Array([70, 32.7683, 33.0004]), dim: 1 });
    expect(codes.codes).toBeInstanceOf(Int32Array);
    expect(Array.from(codes.codes)).toEqual([65536, 32768, 33000]);
    q.dispose();
  });

  test('a samplePatches result is accepted and its patch size remembered', async () => {
    const sample = samplePatches(clip(), { size: 4, stride: 2, count: 40, seed: 1 });
    const q = new Quantizer({ k: 3, backend: 'cpu' });
    await q.fit(sample);
    expect(q.codebook.meta).toMatchObject({ size: 4, stride: 4 });
    expect(q.decode({ rows: 1, cols: 2, frames: 1, k: 3, codes: new Uint16Array([2, 0]) }).size).toBe(4);
  });

  test('a requested backend that cannot start falls back with a reason', async () => {
    const log = jest.fn();
    const q = new Quantizer({ k: 2, backend: 'webgl2', log });
    await q.fit(points);
    if (q.backend !== 'webgl2') {
      expect(q.backendReason).toMatch(/webgl2/);
      expect(log).toHaveBeenCalled();
    }
    q.dispose();
  });
});

describe('bad input is a VqvidError', () => {
  const points = { data: new Float32Array(30), dim: 3 };
  const code = async (f: () => unknown) => {
    try {
      await f();
    } catch (e) {
      expect(e).toBeInstanceOf(VqvidError);
      return (e as VqvidError).code;
    }
    throw new Error('expected a VqvidError');
  };

  test('options and data', async () => {
    expect(await code(() => new Quantizer({ k: 0 }))).toBe('E_RANGE');
    expect(await code(() => new Quantizer({ k: 2.5 }))).toBe('E_RANGE');
    expect(await code(() => new Quantizer({ k: 2, backend: 'tpu' as never }))).toBe('E_RANGE');
    expect(await code(() => new Quantizer({ k: 11, ...quiet }).fit(points))).toBe('E_RANGE');
    const nan = points.data.slice(); nan[4] = NaN;
    expect(await code(() => new Quantizer({ k: 2 }).fit({ data: nan, dim: 3 }))).toBe('E_RANGE');
    const inf = points.data.slice(); inf[0] = Infinity;
    expect(await code(() => new Quantizer({ k: 2 }).fit({ data: inf, dim: 3 }))).toBe('E_RANGE');
    expect(await code(() => new Quantizer({ k: 2 }).fit({ data: new Float32Array(10), dim: 3 }))).toBe('E_SHAPE');
    expect(await code(() => new Quantizer({ k: 2 }).fit({ ...grid, data: grid.data.subarray(1) }))).toBe('E_SHAPE');
    expect(await code(() => new Quantizer({ k: 2 }).encode(points))).toBe('E_STATE');
  });

  test('mismatched dims between codebook and patches', async () => {
    const q = new Quantizer({ k: 2, backend: 'cpu' });
    await q.fit({ data: Float32Array.from({ length: 30 }, (_, i) => i), dim: 3 });
    expect(await code(() => q.encode({ data: new Float32Array(8), dim: 4 }))).toBe('E_SHAPE');
    expect(await code(() => q.decode({ rows: 1, cols: 1, frames: 1, k: 2, codes: new Uint16Array([0]) }))).toBe('E_RANGE'); // no size known
    expect(await code(() => q.decode({ rows: 1, cols: 1, frames: 1, k: 3, codes: new Uint16Array([0]) }))).toBe('E_SHAPE');
    expect(await code(() => q.decode({ rows: 1, cols: 1, frames: 1, k: 2, codes: new Uint16Array([5]) }))).toBe('E_RANGE');
  });

  test('corrupt, truncated, foreign or missing codebook files', async () => {
    const q = new Quantizer({ k: 2, backend: 'cpu' });
    await q.fit({ data: Float32Array.from({ length: 30 }, (_, i) => i % 7), dim: 3 });
    const path = join(dir, 'ok.vqcb');
    await q.save(path);
    const bytes = await readFile(path);
    const flipped = Uint8Array.from(bytes); flipped[flipped.length - 9] ^= 0xff;
    await writeFile(join(dir, 'flip.vqcb'), flipped);
    await writeFile(join(dir, 'short.vqcb'), bytes.subarray(0, bytes.length - 10));
    await writeFile(join(dir, 'text.vqcb'), 'not a codebook');
    for (const name of ['flip.vqcb', 'short.vqcb', 'text.vqcb']) {
      expect(await code(() => Quantizer.load(join(dir, name)))).toBe('E_FORMAT');
    }
    expect(await code(() => Quantizer.load(join(dir, 'absent.vqcb')))).toBe('E_NOT_FOUND');
    const json = q.toJSON();
    expect(await code(() => Quantizer.fromJSON({ ...json, format: 'x' as never }))).toBe('E_FORMAT');
    expect(await code(() => Quantizer.fromJSON({ ...json, codebook: { ...json.codebook, centroids: [1, 2] } }))).toBe('E_FORMAT');
    expect(await code(() => Quantizer.fromJSON({ ...json, codebook: { ...json.codebook, centroids: json.codebook.centroids.map(() => NaN) } }))).toBe('E_FORMAT');
  });

  test('a failed save leaves nothing behind', async () => {
    const q = new Quantizer({ k: 2, backend: 'cpu' });
    await q.fit({ data: Float32Array.from({ length: 30 }, (_, i) => i % 5), dim: 3 });
    const before = await readdir(dir);
    expect(await code(() => q.save(join(dir, 'missing-dir', 'book.vqcb')))).toBe('E_IO');
    expect(await readdir(dir)).toEqual(before);
    expect(await code(() => q.save(join(dir, 'ok.vqcb', 'child.vqcb')))).toBe('E_IO'); // parent is a file
    expect(await readdir(dir)).toEqual(before);
  });
});
