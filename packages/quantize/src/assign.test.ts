import { Rng, VqvidError } from '@vqvid/core';
import { type AssignBackend, type BackendName, assignNaive, labelDistances, rowNorms } from './assign';
import { BACKENDS, BACKEND_NAMES, createBackend } from './backends';
import { clusteredProblem, maxRelativeError, assign } from './compare';
import { CpuBackend, cpuArgmin } from './cpu';
import { GPU } from 'gpu.js';
import { GpuJsBackend, assignKernelSource } from './gpujs';
import { TfjsWasmBackend } from './tfjs-wasm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

const randomProblem = (n: number, k: number, dim: number, seed: number) => {
  const rng = new Rng(seed);
  return {
    data: Float32Array.from({ length: n * dim }, () => rng.normal()),
    centroids: Float32Array.from({ length: k * dim }, () => rng.normal()),
  };
};

/** Integer data (exact in f32): many exact ties, plus duplicated centroids (0 = 5, 2 = 9 = last). */
const tieProblem = (n: number, k: number, dim: number) => {
  const data = Float32Array.from({ length: n * dim }, (_, i) => (i * 7) % 5);
  const centroids = Float32Array.from({ length: k * dim }, (_, i) => (i * 3) % 4);
  centroids.copyWithin(5 * dim, 0, dim);
  centroids.copyWithin(9 * dim, 2 * dim, 3 * dim);
  centroids.copyWithin((k - 1) * dim, 2 * dim, 3 * dim);
  return { data, centroids };
};

const offset = (p: { data: Float32Array; centroids: Float32Array }, by: number) =>
  ({ data: p.data.map((v) => v + by), centroids: p.centroids.map((v) => v + by) });

const started: AssignBackend[] = [];
let names: BackendName[] = [];

beforeAll(async () => {
  // every backend that really starts in this environment (in Node: tfjs-wasm, webasm and cpu; GL/WebGPU if present)
  for (const name of BACKEND_NAMES) {
    const { backend } = await createBackend(name, { log: () => undefined });
    if (backend.name === name) started.push(backend);
    else backend.dispose();
  }
  names = started.map((b) => b.name);
});
afterAll(() => started.forEach((b) => b.dispose()));

const cases: [string, (s: number) => { data: Float32Array; centroids: Float32Array }, number, number, number][] = [
  ['random, k and n not multiples of tiles', (s) => randomProblem(37, 19, 7, s), 37, 19, 7],
  ['clustered, dim 64', (s) => clusteredProblem(300, 45, 64, s), 300, 45, 64],
  ['single centroid', (s) => randomProblem(9, 1, 3, s), 9, 1, 3],
  // norms ~1e9 would swamp float32 ||x||² − 2x·c + ||c||²; backends subtract the centroid mean first
  ['clustered, 10,000 away from the origin', (s) => offset(clusteredProblem(200, 30, 8, s), 1e4), 200, 30, 8],
];

describe('assignment backends agree with assignNaive', () => {
  test('maxRelativeError is 0 for the reference and large for a wrong label', () => {
    const { data, centroids } = clusteredProblem(50, 5, 4, 1);
    const want = assignNaive(data, 50, centroids, 5, 4);
    expect(maxRelativeError(data, 50, centroids, 5, 4, want.labels, want)).toBe(0);
    const wrong = Int32Array.from(want.labels);
    wrong[7] = (wrong[7] + 1) % 5;
    expect(maxRelativeError(data, 50, centroids, 5, 4, wrong, want)).toBeGreaterThan(1);
  });

  test('tfjs-wasm, webasm and wasm-simd start in Node', () => {
    expect(names).toEqual(expect.arrayContaining(['tfjs-wasm', 'webasm', 'wasm-simd']));
  });

  test.each(cases)('%s', async (_name, make, n, k, dim) => {
    const { data, centroids } = make(3);
    const want = assignNaive(data, n, centroids, k, dim);
    for (const backend of started) {
      const got = await backend.assign(data, n, centroids, k, dim);
      expect(maxRelativeError(data, n, centroids, k, dim, got.labels, want)).toBeLessThan(1e-4);
      for (let i = 0; i < n; i++) expect(got.dist[i]).toBeCloseTo(want.dist[i], 3);
      expect(Array.from(got.labels)).toEqual(Array.from(want.labels)); // well separated: exact agreement
    }
  });

  test('exact ties go to the lowest index on every backend', async () => {
    const n = 50, k = 13, dim = 5;
    const { data, centroids } = tieProblem(n, k, dim);
    const want = assignNaive(data, n, centroids, k, dim);
    expect(want.labels).not.toContain(5); // duplicates of 0 and 2 never win
    expect(want.labels).not.toContain(9);
    expect(want.labels).not.toContain(k - 1);
    for (const backend of started) {
      const got = await backend.assign(data, n, centroids, k, dim);
      expect({ name: backend.name, labels: Array.from(got.labels) }).toEqual({ name: backend.name, labels: Array.from(want.labels) });
      expect(Array.from(got.dist)).toEqual(Array.from(want.dist));
    }
  });

  // limits that cut 41 points x 37 centroids into several point tiles and several centroid tiles
  const tinyTiles: [string, (b: AssignBackend) => object, object][] = [
    ['gpu.js webasm', (b) => (b as GpuJsBackend).limits, { maxPointsPerCall: 12, maxCentroidsPerCall: 16 }],
    // tileK = 96 / 8 = 12 centroids (4 tiles), tileN = 96 / 12 = 8 points (6 tiles)
    ['tfjs-wasm', (b) => (b as TfjsWasmBackend).limits, { maxTileFloats: 96, minPointTile: 8 }],
  ];
  test.each(tinyTiles)('%s: tiling over points and centroids merges tiles like one pass', async (name, limitsOf, tiny) => {
    const backend = started.find((b) => b.name === name.replace('gpu.js ', '')) as AssignBackend;
    expect(backend).toBeDefined();
    const limits = limitsOf(backend);
    const saved = { ...limits };
    Object.assign(limits, tiny);
    try {
      for (const { data, centroids } of [tieProblem(41, 37, 5), randomProblem(41, 37, 5, 9)]) {
        const want = assignNaive(data, 41, centroids, 37, 5);
        const got = await backend.assign(data, 41, centroids, 37, 5);
        expect(Array.from(got.labels)).toEqual(Array.from(want.labels));
        expect(Array.from(got.dist)).toEqual(Array.from(labelDistances(data, 41, centroids, 5, got.labels)));
      }
    } finally {
      Object.assign(limits, saved);
    }
  });

  test('the generated kernel source also runs on gpu.js cpu mode (the parser the GL/WebGPU backends share)', async () => {
    const gpu = new GPU({ mode: 'cpu' });
    const { data, centroids } = clusteredProblem(16, 8, 3, 2); // one tile: 4 threads x 4 points, 2 blocks
    const kernel = gpu.createKernel(assignKernelSource(), { output: [4], constants: { k: 8, dim: 3, part: 4 } });
    const norms = Float32Array.from(rowNorms(centroids, 8, 3));
    const out = kernel(data, centroids, norms) as Float32Array[];
    const want = assignNaive(data, 16, centroids, 8, 3).labels;
    expect(Array.from({ length: 16 }, (_, i) => out[i % 4][Math.floor(i / 4)])).toEqual(Array.from(want));
    gpu.destroy();
  });

  test('webasm threaded path (>= 4096 threads = 16384 points) agrees', async () => {
    const backend = started.find((b) => b.name === 'webasm') as GpuJsBackend;
    const n = 20000;
    const { data, centroids } = clusteredProblem(n, 12, 8, 4);
    const want = assignNaive(data, n, centroids, 12, 8);
    const got = await backend.assign(data, n, centroids, 12, 8);
    expect(backend.lastRunPath).toBe('threaded');
    expect(maxRelativeError(data, n, centroids, 12, 8, got.labels, want)).toBeLessThan(1e-4);
  });

  test('cpu blocked search: centroid tile boundary and duplicate across tiles', () => {
    const { data, centroids } = randomProblem(23, 300, 4, 5);
    centroids.copyWithin(200 * 4, 7 * 4, 8 * 4); // 200 duplicates 7, in a later tile
    const want = assignNaive(data, 23, centroids, 300, 4);
    expect(Array.from(cpuArgmin(data, 23, centroids, 300, 4))).toEqual(Array.from(want.labels));
  });

  test('cpu backend: wasm SIMD path and TypeScript path both match, across point and centroid tiles', async () => {
    const backends = [new CpuBackend(), new CpuBackend('simd-1'), new CpuBackend('typescript')];
    // Node 20 has WebAssembly SIMD, shared memory and worker_threads
    const cores = require('node:os').availableParallelism();
    expect(await Promise.all(backends.map((b) => b.path(9)))).toEqual([cores > 1 ? `wasm-simd x${Math.min(8, cores)}` : 'wasm-simd x1', 'wasm-simd x1', 'typescript']);
    expect(await backends[0].path(1025)).toBe('typescript'); // beyond MAX_SIMD_DIM the kernel is not unrolled
    // 16390 points: two point tiles (16384) and a partial panel; 517 centroids: three centroid tiles (256) + padding
    const n = 16390, k = 517;
    const { data, centroids } = clusteredProblem(n, k, 9, 8);
    centroids.copyWithin(300 * 9, 3 * 9, 4 * 9); // a duplicate in another centroid tile
    const want = assignNaive(data, n, centroids, k, 9);
    for (const b of backends) {
      const got = await b.assign(data, n, centroids, k, 9);
      expect(maxRelativeError(data, n, centroids, k, 9, got.labels, want)).toBeLessThan(1e-4);
      expect(got.labels).not.toContain(300);
      b.dispose();
    }
  });
});

describe('tfjs-wasm and the caller\'s tfjs', () => {
  const tfjsWasm = () => started.find((b) => b.name === 'tfjs-wasm') as TfjsWasmBackend;
  const { data, centroids } = clusteredProblem(300, 45, 16, 6);
  const want = assignNaive(data, 300, centroids, 45, 16);
  const check = async (b: TfjsWasmBackend) =>
    expect(Array.from((await b.assign(data, 300, centroids, 45, 16)).labels)).toEqual(Array.from(want.labels));

  test('the active tfjs backend stays as it was, and no tensor or wasm buffer is left over', async () => {
    await tf.setBackend('cpu');
    const b = tfjsWasm();
    await check(b); // first call made nothing persistent either; count from a warm state anyway
    const tensors = tf.memory().numTensors;
    const buffers = b.tfBackend.numDataIds();
    for (let r = 0; r < 5; r++) await check(b);
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.memory().numTensors).toBe(tensors);
    expect(b.tfBackend.numDataIds()).toBe(buffers);
  });

  test('caller ops on an active wasm backend still run correctly between assign calls', async () => {
    await tf.setBackend('wasm'); // what @vqvid/model does: the engine's instance is the one tfjs-wasm uses
    const b = tfjsWasm();
    expect(tf.engine().backend).toBe(b.tfBackend);
    const before = tf.memory().numTensors;
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    await check(b);
    const y = tf.tidy(() => tf.argMin(tf.matMul(x, tf.tensor2d([[1, 0, 2], [0, 1, -1]])), 1));
    await check(b);
    expect(Array.from(await y.data())).toEqual([2, 2]); // rows [1, 2, 0] and [3, 4, 2]
    tf.dispose([x, y]);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.getBackend()).toBe('wasm');
    await tf.setBackend('cpu');
  });

  test('tf.argMin on wasm returns the first minimum (the lowest-index tie rule)', async () => {
    await tf.setBackend('wasm');
    const idx = tf.tidy(() => tf.argMin(tf.tensor2d([[3, 1, 1], [2, 5, 2], [0, 0, 0], [7, 9, -1]]), 1));
    expect(Array.from(await idx.data())).toEqual([1, 0, 0, 2]);
    idx.dispose();
    await tf.setBackend('cpu');
  });

  test('worker threads (each with its own tfjs) share the jobs, across centroid tiles, and free their buffers', async () => {
    const b = await TfjsWasmBackend.create();
    // 8-point GEMMs, 16-point jobs, 2 threads; 96 floats per tile: tileK = 12 (4 centroid tiles of 41)
    Object.assign(b.limits, { pointTile: 8, pointsPerJob: 16, threads: 2, maxTileFloats: 96, minPointTile: 8 });
    try {
      for (const [n, make] of [[150, tieProblem], [101, (m: number, k: number, d: number) => randomProblem(m, k, d, 11)]] as const) {
        const { data, centroids } = make(n, 41, 5);
        const want = assignNaive(data, n, centroids, 41, 5);
        for (let r = 0; r < 3; r++) {
          const got = await b.assign(data, n, centroids, 41, 5);
          expect(b.lastRun).toEqual({ threads: 2, workerBuffers: [1] }); // only its centroid tile was live
          expect(Array.from(got.labels)).toEqual(Array.from(want.labels));
        }
      }
    } finally {
      b.dispose();
    }
  });

  test('a missing tfjs module falls back to the next backend with the reason', async () => {
    await jest.isolateModulesAsync(async () => {
      jest.doMock('@tensorflow/tfjs-core', () => {
        throw new Error("Cannot find module '@tensorflow/tfjs-core'");
      });
      const { createBackend: create } = await import('./backends');
      const log = jest.fn();
      const { backend, reason } = await create('tfjs-wasm', { log });
      backend.dispose();
      expect(backend.name).toBe('wasm-simd'); // auto order in Node after tfjs-wasm (headlessgl fails here too)
      expect(reason).toMatch(/tfjs-wasm: cannot start it here \(Cannot find module '@tensorflow\/tfjs-core'\)/);
      expect(log).toHaveBeenCalledWith(expect.stringContaining('using wasm-simd'));
    });
  });
});

describe('backend choice', () => {
  test('an unavailable request falls back with a logged reason', async () => {
    const log = jest.fn();
    const { backend, reason } = await createBackend('headlessgl', { log });
    try {
      if (backend.name !== 'headlessgl') {
        expect(reason).toMatch(/headlessgl/);
        expect(log).toHaveBeenCalledWith(expect.stringContaining(`using ${backend.name}`));
      }
    } finally {
      backend.dispose();
    }
  });

  test('cpu backend: the wasm SIMD kernel at its largest dim (MAX_SIMD_DIM = 1024) matches the naive search', async () => {
    const b = new CpuBackend('simd-1');
    expect(await b.path(1024)).toBe('wasm-simd x1');
    const { data, centroids } = randomProblem(40, 9, 1024, 4);
    const got = await b.assign(data, 40, centroids, 9, 1024);
    expect(maxRelativeError(data, 40, centroids, 9, 1024, got.labels, assignNaive(data, 40, centroids, 9, 1024))).toBeLessThan(1e-4);
    b.dispose();
  });

  test('an unknown backend name is a VqvidError', async () => {
    await expect(createBackend('opencl' as BackendName)).rejects.toThrow(VqvidError);
  });

  test('assign() validates shapes and reports the backend', async () => {
    const { data, centroids } = randomProblem(6, 2, 3, 1);
    const out = await assign(data, 3, centroids, 2, { backend: 'cpu' });
    expect(out.backend).toBe('wasm-simd');
    expect(Array.from(out.labels)).toEqual(Array.from(assignNaive(data, 6, centroids, 2, 3).labels));
    await expect(assign(data, 4, centroids, 2)).rejects.toMatchObject({ code: 'E_SHAPE' });
    await expect(assign(data, 3, centroids, 3)).rejects.toMatchObject({ code: 'E_SHAPE' });
    await expect(assign(data, 3, centroids, 0)).rejects.toMatchObject({ code: 'E_RANGE' });
  });
});

test("'cpu', the old name of the WebAssembly SIMD backend, is still accepted and reports its new name", async () => {
  const { backend, reason } = await createBackend('cpu');
  expect(backend.name).toBe('wasm-simd');
  expect(reason).toBeNull();
  backend.dispose();
  await expect(createBackend('plain-js' as never)).rejects.toMatchObject({ code: 'E_RANGE' });
});

test("the guide's backend table is BACKENDS, row for row", () => {
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const guide = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'guide', 'choosing-k-and-backends.md'), 'utf8');
  const start = guide.indexOf('| backend | where it runs |');
  const rows = guide.slice(start).split('\n').slice(2).filter((l) => l.startsWith('| `')).map((l) => {
    const [, name, runs] = /^\| `([^`]+)` \| (.*) \|$/.exec(l)!;
    return { name, runs };
  });
  expect(rows).toEqual(BACKENDS.map(({ name, runs }) => ({ name, runs })));
  expect(BACKENDS.map((b) => b.name)).toEqual([...BACKEND_NAMES]);
});
