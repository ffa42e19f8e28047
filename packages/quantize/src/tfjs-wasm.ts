import type { KernelBackend, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { VqvidError } from '@vqvid/core';
import {
  type AssignBackend, type AssignResult, type Top2Result, type Top2Task, augmentedRows, centroidMean, labelDistances, mergeTile, scoreMatrix, selfTest,
} from './assign';
import { type Channel, coreCount, spawnWorkers } from './simd-threads';

/** Tile sizes of {@link TfjsWasmBackend}; tests shrink them to exercise the tiling on tiny problems. */
export interface TfjsWasmLimits {
  /** Most floats of one [tileN, tileK] product, and of one GEMM argument, in wasm memory (16 Mi = 64 MiB). */
  maxTileFloats: number;
  /**
   * Points per GEMM. At K = 10,000, D = 64 tiles of 256–512 points measured fastest (the product is then
   * 10–20 MB); 1024 was ~10% slower.
   */
  pointTile: number;
  /** Fewest points per GEMM that K tiling may leave, so XNNPACK's packed centroid tile is reused enough. */
  minPointTile: number;
  /**
   * Most points per job handed to a thread (jobs shrink to about 4 per thread); calls with fewer than twice
   * this many points stay on the calling thread.
   */
  pointsPerJob: number;
  /** Threads, the caller included (Node worker_threads, each with its own tfjs); null: the cores, at most 4. */
  threads: number | null;
}

/** The kernels one thread runs: its tfjs wasm backend instance and that backend's BatchMatMul and ArgMin. */
interface Kernels {
  backend: KernelBackend;
  matMul: KernelConfig;
  argMin: KernelConfig;
}

/**
 * Each worker loads tfjs-core and tfjs-backend-wasm from the paths the caller resolved, activates 'wasm' in
 * its own tfjs (a worker has its own globals, so the caller's tfjs is untouched), then runs the caller's
 * {@link reduceRows} source on the jobs it is sent; it answers with the labels and its live wasm buffers.
 */
const WORKER_SOURCE = `
const port = require('worker_threads').parentPort;
const load = (p) => require(p.startsWith('file:') ? require('url').fileURLToPath(p) : p);
let kern = null, reduceRows = null, b = null;
port.on('message', async (m) => {
  try {
    if (m.init) {
      const tf = load(m.init.core);
      load(m.init.wasm);
      if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend did not initialise');
      kern = { backend: tf.backend(), matMul: tf.getKernel('BatchMatMul', 'wasm'), argMin: tf.getKernel('ArgMin', 'wasm') };
      reduceRows = new Function('return (' + m.init.reduceRows + ')')();
      port.postMessage('ready');
    } else if (m.top2) {
      const t = m.top2, shape = [t.b.length / t.cols, t.cols];
      const tb = { dataId: kern.backend.write(t.b, shape, 'float32'), shape, dtype: 'float32' };
      let r;
      try { r = reduceRows(kern, t.a, t.rows, tb, m.tileN, t.starts); } finally { kern.backend.disposeData(tb.dataId, true); }
      port.postMessage({ r, buffers: kern.backend.numDataIds() }, [r.best.buffer, r.v1.buffer, r.v2.buffer]);
    } else if (m.b) {
      if (b) kern.backend.disposeData(b.dataId, true);
      const shape = [m.b.w, m.b.count];
      b = m.b.count ? { dataId: kern.backend.write(m.b.values, shape, 'float32'), shape, dtype: 'float32' } : null;
      port.postMessage('ok');
    } else {
      const labels = reduceRows(kern, m.a, m.rows, b, m.tileN, null);
      port.postMessage({ labels, buffers: kern.backend.numDataIds() }, [labels.buffer]);
    }
  } catch (e) {
    port.postMessage('error: ' + (e && e.message));
  }
});`;

type TfCore = typeof import('@tensorflow/tfjs-core');

/**
 * Assignment by tfjs-backend-wasm's kernels (XNNPACK GEMM with WebAssembly SIMD, one thread in Node):
 * points, centred on the centroid mean and augmented with a constant 1, times a [D + 1, K] matrix of −2c
 * over ||c||² give y = ||c||² − 2x·c for a whole tile in one GEMM; ArgMin along K picks the first (lowest
 * index) minimum. The kernels run on tfjs's shared wasm backend instance, called directly: the caller's
 * active tfjs backend is never switched, no engine tensors are created, and every wasm buffer is freed
 * before assign returns. Construct with {@link TfjsWasmBackend.create}.
 */
export class TfjsWasmBackend implements AssignBackend {
  readonly name = 'tfjs-wasm' as const;
  readonly limits: TfjsWasmLimits = { maxTileFloats: 1 << 24, pointTile: 512, minPointTile: 256, pointsPerJob: 8192, threads: null };
  /** Threads the last assign call used, and each worker's live wasm buffers after its last job (for tests). */
  lastRun = { threads: 1, workerBuffers: [] as number[] };
  private pool: Promise<Channel[]> | null = null;

  private constructor(private readonly tf: TfCore, private readonly kern: Kernels) {}

  /**
   * Loads tfjs-core and tfjs-backend-wasm (dynamic imports, so bundles that never ask for this backend do
   * not pull them in), finds or initialises tfjs's wasm backend without activating it, and runs the
   * self-test. Throws E_BACKEND with the reason when a module is missing or the wasm binary fails to load.
   */
  static async create(): Promise<TfjsWasmBackend> {
    let backend: TfjsWasmBackend;
    try {
      const tf: TfCore = await import('@tensorflow/tfjs-core');
      await import('@tensorflow/tfjs-backend-wasm');
      const wasm = await sharedWasmBackend(tf);
      const kernel = (name: string) => {
        const k = tf.getKernel(name, 'wasm');
        if (!k) throw new Error(`tfjs-backend-wasm registers no ${name} kernel`);
        return k;
      };
      backend = new TfjsWasmBackend(tf, { backend: wasm, matMul: kernel(tf.BatchMatMul), argMin: kernel(tf.ArgMin) });
    } catch (e) {
      throw new VqvidError('E_BACKEND', `backend tfjs-wasm: cannot start it here (${(e as Error).message})`);
    }
    await selfTest(backend);
    return backend;
  }

  /** The tfjs backend instance the kernels run on (tests count its buffers with `numDataIds()`). */
  get tfBackend(): KernelBackend {
    return this.kern.backend;
  }

  async assign(data: Float32Array, n: number, centroids: Float32Array, k: number, dim: number): Promise<AssignResult> {
    const { backend } = this.ready();
    const w = dim + 1;
    const { maxTileFloats: most, pointTile, minPointTile, pointsPerJob } = this.limits;
    const tileK = Math.max(1, Math.min(k, Math.floor(most / minPointTile), Math.floor(most / w)));
    const tileN = Math.max(1, Math.min(n, pointTile, Math.floor(most / tileK), Math.floor(most / w)));
    const mostJob = Math.max(tileN, Math.floor(pointsPerJob / tileN) * tileN);
    const workers = n >= 2 * mostJob ? await this.workers() : [];
    // about 4 jobs per thread, so a thread slowed by other processes leaves its share to the others
    const job = Math.min(mostJob, Math.ceil(n / (4 * (workers.length + 1)) / tileN) * tileN);
    this.lastRun = { threads: workers.length + 1, workerBuffers: [] };
    const mean = centroidMean(centroids, k, dim);
    const result = { labels: new Int32Array(n), dist: new Float32Array(n) };
    for (let k0 = 0; k0 < k; k0 += tileK) {
      const count = Math.min(tileK, k - k0);
      const matrix = scoreMatrix(centroids, k0, count, dim, mean);
      const b: TensorInfo = { dataId: backend.write(matrix, [w, count], 'float32'), shape: [w, count], dtype: 'float32' };
      const found = (p0: number, cand: Int32Array) => {
        if (k0) for (let i = 0; i < cand.length; i++) cand[i] += k0;
        mergeTile(cand, p0, k0, data, centroids, dim, result, k > tileK);
      };
      try {
        await this.shareJobs(workers, { values: matrix, w, count }, n, job, (p0, rows) => augmentedRows(data, p0, rows, dim, mean),
          (p0, a, rows) => found(p0, reduceRows(this.kern, a, rows, b, tileN, null)), found, tileN);
      } finally {
        backend.disposeData(b.dataId, true);
      }
    }
    return k > tileK ? result : { labels: result.labels, dist: labelDistances(data, n, centroids, dim, result.labels) };
  }

  /**
   * The two smallest scores per row and segment of each task (see {@link Top2Task}): one GEMM per tile of
   * points like `assign`, then a scan of the product. Tasks are shared by the calling thread and the worker
   * threads (when the tasks hold at least 2·pointsPerJob rows), each taking the next task when it finishes.
   */
  async top2(tasks: Top2Task[]): Promise<Top2Result[]> {
    const kern = this.ready();
    const { maxTileFloats: most, pointTile, pointsPerJob } = this.limits;
    const tileN = (t: Top2Task) => Math.max(1, Math.min(pointTile, Math.floor(most / Math.max(t.cols, t.a.length / Math.max(t.rows, 1)))));
    const rows = tasks.reduce((s, t) => s + t.rows, 0);
    const workers = rows >= 2 * pointsPerJob ? await this.workers() : [];
    this.lastRun = { threads: workers.length + 1, workerBuffers: [] };
    const out: Top2Result[] = new Array(tasks.length);
    let next = 0;
    try {
      const remote = Promise.all(workers.map(async (ch, i) => {
        for (let t = next++; t < tasks.length; t = next++) {
          const m = await ask(ch, { top2: tasks[t], tileN: tileN(tasks[t]) }) as { r: Top2Result; buffers: number };
          this.lastRun.workerBuffers[i] = m.buffers;
          out[t] = m.r;
        }
      }));
      remote.catch(() => undefined); // handled below, after the calling thread's tasks
      for (let t = next++; t < tasks.length; t = next++) {
        out[t] = top2Here(kern, tasks[t], tileN(tasks[t]));
        if (workers.length) await new Promise((r) => setTimeout(r, 0));
      }
      await remote;
    } catch (e) {
      this.dispose();
      throw e;
    }
    return out;
  }

  /** The kernels, checked to still run on tfjs's registered wasm backend and bound to it. */
  private ready(): Kernels {
    const { backend, matMul, argMin } = this.kern;
    if (this.tf.engine().registry.wasm !== backend) {
      throw new VqvidError('E_BACKEND', 'backend tfjs-wasm: the tfjs wasm backend was removed or replaced since this backend started');
    }
    // The kernels bind their wasm functions in module variables; binding them again to the same shared
    // instance is idempotent and covers an engine that never activated 'wasm'.
    matMul.setupFunc?.(backend);
    argMin.setupFunc?.(backend);
    return this.kern;
  }

  /** Closes the worker threads; the wasm backend instance itself belongs to tfjs (and maybe to @vqvid/model). */
  dispose(): void {
    this.pool?.then((ws) => ws.forEach((c) => c.close()), () => undefined);
    this.pool = null;
  }

  /**
   * Runs the jobs (ranges of `job` points from 0 to n) of one centroid tile: each worker takes the next job
   * when it answers, the calling thread takes one in between, yielding so answers are picked up.
   */
  private async shareJobs(
    workers: Channel[], b: { values: Float32Array; w: number; count: number }, n: number, job: number,
    rowsOf: (p0: number, rows: number) => Float32Array, runHere: (p0: number, a: Float32Array, rows: number) => void,
    found: (p0: number, labels: Int32Array) => void, tileN: number,
  ): Promise<void> {
    let next = 0;
    const take = () => (next < n ? (next += job) - job : -1);
    try {
      await Promise.all(workers.map((ch) => ask(ch, { b })));
      const remote = Promise.all(workers.map(async (ch, i) => {
        for (let p0 = take(); p0 >= 0; p0 = take()) {
          const rows = Math.min(job, n - p0);
          const a = rowsOf(p0, rows);
          const m = await ask(ch, { a, rows, tileN }, [a.buffer as ArrayBuffer]) as { labels: Int32Array; buffers: number };
          this.lastRun.workerBuffers[i] = m.buffers;
          found(p0, m.labels);
        }
      }));
      remote.catch(() => undefined); // handled below, after the calling thread's jobs, not "unhandled" meanwhile
      for (let p0 = take(); p0 >= 0; p0 = take()) {
        runHere(p0, rowsOf(p0, Math.min(job, n - p0)), Math.min(job, n - p0));
        if (workers.length) await new Promise((r) => setTimeout(r, 0));
      }
      await remote;
      await Promise.all(workers.map((ch) => ask(ch, { b: { values: new Float32Array(0), w: b.w, count: 0 } }))); // frees it
    } catch (e) {
      this.dispose(); // a worker may still owe answers: start a fresh pool next time
      throw e;
    }
  }

  private workers(): Promise<Channel[]> {
    this.pool ??= startWorkers(this.limits.threads).catch(() => []);
    return this.pool;
  }
}

/** Sends a message and waits for the answer, keeping Node alive meanwhile; an 'error: …' answer throws. */
async function ask(ch: Channel, msg: unknown, transfer?: ArrayBuffer[]): Promise<unknown> {
  ch.hold(true);
  const reply = ch.next();
  ch.send(msg, transfer);
  const m = await reply.finally(() => ch.hold(false));
  if (typeof m === 'string' && m.startsWith('error')) throw new VqvidError('E_BACKEND', `backend tfjs-wasm worker: ${m}`);
  return m;
}

/** Worker threads (threads − 1 of them) with tfjs loaded, or none where Node's workers or tfjs fail there. */
async function startWorkers(threads: number | null): Promise<Channel[]> {
  const total = threads ?? Math.min(4, await coreCount());
  const ws = total > 1 ? await spawnWorkers(total - 1, WORKER_SOURCE, true) : null;
  if (!ws) return [];
  const init = { core: resolveModule('@tensorflow/tfjs-core'), wasm: resolveModule('@tensorflow/tfjs-backend-wasm'), reduceRows: reduceRows.toString() };
  const ok = await Promise.all(ws.map((ch) => ask(ch, { init }).then(() => true, () => false)));
  if (ok.every(Boolean)) return ws;
  ws.forEach((ch) => ch.close());
  return [];
}

/**
 * Absolute location of a package as this module resolves it, for workers: CommonJS has require.resolve;
 * in the ESM build `require` is a bundler shim without `resolve`, and import.meta.resolve answers.
 */
function resolveModule(id: string): string {
  return typeof require === 'function' && typeof require.resolve === 'function' ? require.resolve(id) : import.meta.resolve(id);
}

/** {@link reduceRows} of one top-2 task on the calling thread, its centroid matrix written to wasm and freed around it. */
function top2Here(kern: Kernels, task: Top2Task, tileN: number): Top2Result {
  const shape = [task.b.length / task.cols, task.cols];
  const b: TensorInfo = { dataId: kern.backend.write(task.b, shape, 'float32'), shape, dtype: 'float32' };
  try {
    return reduceRows(kern, task.a, task.rows, b, tileN, task.starts);
  } finally {
    kern.backend.disposeData(b.dataId, true);
  }
}

/**
 * (rows of `a`, b.shape[0] floats each) · b in GEMMs of `tileN` rows, each product row reduced: with `starts`
 * null to the column of its first minimum (tfjs's ArgMin: tile-relative centroid indices), else to the two
 * smallest values per column segment (a {@link Top2Result}). Every wasm buffer it makes is freed.
 * Self-contained: workers run its source text.
 */
function reduceRows(kern: Kernels, a: Float32Array, rows: number, b: TensorInfo, tileN: number, starts: null): Int32Array;
function reduceRows(kern: Kernels, a: Float32Array, rows: number, b: TensorInfo, tileN: number, starts: Int32Array): Top2Result;
function reduceRows(kern: Kernels, a: Float32Array, rows: number, b: TensorInfo, tileN: number, starts: Int32Array | null): Int32Array | Top2Result {
  const be = kern.backend;
  const [w, cols] = b.shape;
  const segs = starts ? starts.length : 0;
  const labels = new Int32Array(starts ? 0 : rows);
  const out = { best: new Int32Array(rows * segs), v1: new Float32Array(rows * segs), v2: new Float32Array(rows * segs) };
  const free = (t: TensorInfo) => be.disposeData(t.dataId, true);
  for (let p0 = 0; p0 < rows; p0 += tileN) {
    const shape = [Math.min(tileN, rows - p0), w];
    const x: TensorInfo = { dataId: be.write(a.subarray(p0 * w, (p0 + shape[0]) * w), shape, 'float32'), shape, dtype: 'float32' };
    try {
      const y = kern.matMul.kernelFunc({ inputs: { a: x, b }, backend: be, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
      try {
        if (!starts) {
          const idx = kern.argMin.kernelFunc({ inputs: { x: y }, backend: be, attrs: { axis: 1 } }) as TensorInfo;
          try {
            labels.set(be.readSync(idx.dataId) as Int32Array, p0);
          } finally {
            free(idx);
          }
          continue;
        }
        const v = be.readSync(y.dataId) as Float32Array;
        for (let r = 0; r < shape[0]; r++) {
          const o = r * cols;
          for (let s = 0; s < segs; s++) {
            const lo = starts[s], hi = s + 1 < segs ? starts[s + 1] : cols;
            let m1 = Infinity, m2 = Infinity, i1 = lo;
            for (let j = lo; j < hi; j++) {
              const t = v[o + j];
              if (t < m2) {
                if (t < m1) { m2 = m1; m1 = t; i1 = j; } else m2 = t;
              }
            }
            const q = (p0 + r) * segs + s;
            out.best[q] = i1 - lo;
            out.v1[q] = m1;
            out.v2[q] = m2;
          }
        }
      } finally {
        free(y);
      }
    } finally {
      free(x);
    }
  }
  return starts ? out : labels;
}

/**
 * tfjs's one wasm backend instance, initialised through the engine when nobody has yet, but not made the
 * active backend. One instance matters: the wasm kernels keep their bound functions in module variables, so
 * a second instance would make the kernels of the first write into the wrong memory. While tfjs initialises
 * a backend it refuses other ops, so this first start should not overlap other tfjs work.
 */
async function sharedWasmBackend(tf: TfCore): Promise<KernelBackend> {
  if (!tf.findBackend('wasm')) await tf.ready(); // findBackend started the initialisation; ready() awaits it
  const wasm = tf.engine().registry.wasm;
  if (!wasm) throw new Error('the tfjs wasm backend did not initialise (see tfjs\'s warning for why)');
  return wasm;
}
