import { VqvidError } from '@vqvid/core';
import type { StoredArray } from '@vqvid/core';
import type { Batch, BatchGeometry } from './batch';
import type { ModelConfig } from './config';
import { SPATIAL_WIDTH } from './output/spatial-prior';
import type { BatchPart } from './dropout';
import { type FusedAdam, normOfShards } from './fused-adam';

/**
 * Data-parallel training over Node worker_threads. Each worker has its own tfjs (the backend of the caller's),
 * builds the model from its config, output layout and weights, and on every step computes the loss and gradient
 * of a fixed slice of the batch. Everything per step goes through shared memory: the caller writes the weights
 * and the batch, bumps a step counter (Atomics), and each worker answers by writing its gradient into its own
 * region and advancing its progress word. In a training step ({@link TrainPool.step}) the workers then take one
 * Adam step together, each over its own shard of the parameters (see fused-adam.ts): once every gradient is in,
 * each worker sums the regions over its shard in worker order, weighted by slice size (so the sum is the whole
 * batch's gradient), and adds up the shard's squares; once every shard's squares are in, each worker adds them
 * up in shard order to the global norm (the same number in every worker) and updates its shard of the moments
 * and of the shared weights in place. The weights live in one place, which the workers read, bit for bit, at the
 * start of the next step.
 */

/**
 * Control words: [0] step counter (-1 = stop), [1] global step (dropout seed), [2 + w] worker w's progress
 * (-1 = failed): 3·seq − 2 once its gradient of step seq is written, 3·seq − 1 once its shard's squares are,
 * 3·seq once the step is done; [2 + n + w] worker w's live tensors after its last step (tf.memory().numTensors).
 */
const STOP = -1;
const FAILED = -1;

/** What the caller hands over to start a pool. */
export interface PoolSpec {
  /** Workers asked for (at most one per window of the batch are started). */
  workers: number;
  /** The caller's tfjs backend, which every worker activates. */
  backend: string;
  config: ModelConfig;
  /** The output layer's `toJSON()`. */
  output: Record<string, unknown>;
  /** `ModelParts.exportWeights()`: the weights and a copy-aware output's counted prior. */
  weights: Record<string, StoredArray>;
  geometry: BatchGeometry;
  /** Sizes of the trainable variables, in `ModelParts.variables()` order. */
  sizes: number[];
  /**
   * The Adam state the workers update in {@link TrainPool.step}: a {@link FusedAdam} made with `shared: true`
   * (its moments in SharedArrayBuffers). Without it the pool only computes gradients ({@link TrainPool.compute}).
   */
  adam?: FusedAdam;
}

/** What a worker gets of the Adam state: the shared moments and the constants. */
export interface WorkerAdam {
  m: SharedArrayBuffer;
  v: SharedArrayBuffer;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** What a training worker gets at start (workerData): the spec (`workers` = the pool's size) and shared memory. */
export interface TrainWorkerInit extends Omit<PoolSpec, 'adam'> {
  index: number;
  adam: WorkerAdam | null;
  /** Per step: [0] 1 to take the Adam step (0: gradient only), [1] lr, [2] clip, [3] accBeta1, [4] accBeta2. */
  adamArgs: SharedArrayBuffer;
  /** Each worker's shard's sum of squares of the summed gradient (float64), for the global norm. */
  partials: SharedArrayBuffer;
  part: BatchPart;
  ctrl: SharedArrayBuffer;
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  losses: SharedArrayBuffer;
  inputs: SharedArrayBuffer;
  mask: SharedArrayBuffer | null;
  targets: SharedArrayBuffer;
  present: SharedArrayBuffer;
}

/** How a worker thread is started: the entry module, and how to load TypeScript when that is a source file. */
interface Launch {
  entry: string;
  /** From sources (under jest): @swc/core compiles .ts on require, and @vqvid/x maps to packages/x/src. */
  sources?: { swc: string; packages: string };
}

/**
 * Runs in the worker before the entry module: from sources, a require hook compiles TypeScript with @swc/core
 * (what jest's transform uses) and maps @vqvid/x to packages/x/src/index.ts (jest's moduleNameMapper), so a
 * worker runs the very sources the test imports; from the built package it just requires dist/train-worker.js.
 */
const BOOTSTRAP = `
const { workerData } = require('worker_threads');
const src = workerData.launch.sources;
if (src) {
  const Module = require('module'), fs = require('fs'), path = require('path');
  const swc = require(src.swc);
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    const m = /^@vqvid\\/([a-z-]+)$/.exec(request);
    return m ? path.join(src.packages, m[1], 'src', 'index.ts') : resolve.call(this, request, ...rest);
  };
  Module._extensions['.ts'] = (mod, filename) => {
    const options = { filename, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } };
    mod._compile(swc.transformSync(fs.readFileSync(filename, 'utf8'), options).code, filename);
  };
}
require(workerData.launch.entry);`;

interface NodeWorker {
  on(ev: 'message' | 'error' | 'exit', f: (m: unknown) => void): void;
  terminate(): Promise<number>;
}
type WorkerCtor = new (code: string, opts: { eval: true; workerData: unknown }) => NodeWorker;
type WaitAsync = (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string };

/** Node's worker_threads and core count, or null outside Node (no static import: browser bundles must not see them). */
async function nodeThreads(): Promise<{ Worker: WorkerCtor; cores: number } | null> {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) return null;
  const load = (id: string) => import(/* webpackIgnore: true */ /* @vite-ignore */ id);
  const wt = await load(['node', 'worker_threads'].join(':'));
  const os = await load(['node', 'os'].join(':'));
  return { Worker: wt.Worker as WorkerCtor, cores: (os.availableParallelism?.() ?? os.cpus().length) as number };
}

/** Training workers `fit` uses by default: one per core, at most one per window of the batch; 1 outside Node. */
export async function defaultWorkers(batch: number): Promise<number> {
  const node = await nodeThreads().catch(() => null);
  return node ? Math.max(1, Math.min(node.cores, batch)) : 1;
}

/** Worker threads alive in this process (started and not yet exited), for tests that check none is left behind. */
const live = new Set<NodeWorker>();

/** @internal Training workers started by this module that have not exited yet. */
export function liveTrainWorkers(): number {
  return live.size;
}

/** Where this module's file lies: __dirname in CommonJS (and under jest), import.meta.url in the ESM build. */
async function thisDir(): Promise<string> {
  if (typeof __dirname === 'string') return __dirname;
  const url = await import(/* webpackIgnore: true */ /* @vite-ignore */ ['node', 'url'].join(':'));
  return url.fileURLToPath(new URL('.', import.meta.url));
}

async function launch(): Promise<Launch> {
  const dir = (await thisDir()).replace(/[\\/]$/, '');
  // jest runs this module from its .ts source; the built package from dist, beside dist/train-worker.js
  const fromSources = typeof __filename === 'string' && __filename.endsWith('.ts');
  if (!fromSources) return { entry: `${dir}/train-worker.js` };
  return { entry: `${dir}/train-worker.ts`, sources: { swc: require.resolve('@swc/core'), packages: dir.replace(/[\\/][^\\/]+[\\/]src$/, '') } };
}

/**
 * Floats between the starts of two workers' gradient regions in {@link TrainPool.sharedGrads}: the parameter count
 * rounded up to 16 (64 bytes, a cache line), so that every region starts on a cache line. At K = 10,000 the count
 * (1,374,647) put worker 1's region 28 bytes into a line, and its copy of the gradient into shared memory took 1.4 ms
 * a step against worker 0's 0.3 (measured, 2-core AMD EPYC): the slowest worker sets the step.
 */
export function gradientStride(params: number): number {
  return Math.ceil(params / 16) * 16;
}

/** Windows [start, start + count) of a batch of `total` for worker `w` of `n`: the batch cut into nearly equal runs. */
export function workerPart(w: number, n: number, total: number): BatchPart {
  const start = Math.floor((w * total) / n);
  return { start, count: Math.floor(((w + 1) * total) / n) - start, total };
}

/** Each of `n` workers' share of a batch of `total` windows (count / total, {@link workerPart}): its weight in the sums. */
export function workerShares(n: number, total: number): number[] {
  return Array.from({ length: n }, (_, w) => workerPart(w, n, total)).map((p) => p.count / p.total);
}

/** A started pool of training workers; see the module comment. Always {@link TrainPool.close} it. */
export class TrainPool {
  private seq = 0;
  private readonly ctrl: Int32Array;
  private readonly params: Float32Array;
  private readonly grads: Float32Array;
  private readonly losses: Float64Array;
  private readonly adamArgs: Float64Array;
  private readonly partials: Float64Array;
  private readonly adam: FusedAdam | null;
  private readonly batchViews: { inputs: Int32Array; mask: Float32Array | null; targets: Int32Array; present: Int32Array };
  private readonly parts: BatchPart[];
  private readonly failed: Promise<never>;
  private closed = false;

  private constructor(spec: PoolSpec, private readonly threads: NodeWorker[], init: Omit<TrainWorkerInit, 'index' | 'part'>, failed: Promise<never>) {
    this.ctrl = new Int32Array(init.ctrl);
    this.params = new Float32Array(init.params);
    this.grads = new Float32Array(init.grads);
    this.losses = new Float64Array(init.losses);
    this.adamArgs = new Float64Array(init.adamArgs);
    this.partials = new Float64Array(init.partials);
    this.adam = spec.adam ?? null;
    this.batchViews = {
      inputs: new Int32Array(init.inputs),
      mask: init.mask && new Float32Array(init.mask),
      targets: new Int32Array(init.targets),
      present: new Int32Array(init.present),
    };
    this.parts = threads.map((_, w) => workerPart(w, threads.length, spec.geometry.batch));
    this.failed = failed;
  }

  /**
   * Starts `spec.workers` workers (at most one per window of the batch) and waits until each has built its
   * model. E_STATE when a worker fails to start; the others are then terminated.
   */
  static async start(spec: PoolSpec): Promise<TrainPool> {
    const node = await nodeThreads();
    if (!node) throw new VqvidError('E_STATE', 'workers: worker threads need Node (worker_threads); use workers: 1 here');
    const g = spec.geometry;
    const n = Math.min(spec.workers, g.batch);
    const er = g.cropRows + 2 * g.marginRows;
    const ec = g.cropCols + 2 * g.marginCols;
    const span = g.warmup + g.steps;
    const cells = g.steps * g.batch * g.cropRows * g.cropCols;
    const params = spec.sizes.reduce((a, b) => a + b, 0);
    const shared = (bytes: number) => new SharedArrayBuffer(bytes);
    const { adam, ...rest } = spec;
    if (adam && (adam.size !== params || !(adam.m.buffer instanceof SharedArrayBuffer) || !(adam.v.buffer instanceof SharedArrayBuffer))) {
      throw new VqvidError('E_STATE', `workers: spec.adam must be a FusedAdam over ${params} parameters made with shared: true`);
    }
    const init: Omit<TrainWorkerInit, 'index' | 'part'> = {
      ...rest,
      adam: adam ? { m: adam.m.buffer as SharedArrayBuffer, v: adam.v.buffer as SharedArrayBuffer, beta1: adam.beta1, beta2: adam.beta2, epsilon: adam.epsilon } : null,
      adamArgs: shared(8 * 5),
      partials: shared(8 * n),
      workers: n,
      ctrl: shared(4 * (2 + 2 * n)),
      params: shared(4 * params),
      grads: shared(4 * gradientStride(params) * n),
      losses: shared(8 * n),
      inputs: shared(4 * span * g.batch * er * ec),
      mask: g.marginRows > 0 || g.marginCols > 0 ? shared(4 * span * g.batch * er * ec) : null,
      targets: shared(4 * cells),
      present: shared(4 * cells * (spec.config.prior === 'spatial' ? SPATIAL_WIDTH : 1)),
    };
    const launched = await launch();
    const threads: NodeWorker[] = [];
    let fail: (e: Error) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined); // rejections are read by whoever waits; none must go unhandled
    const ready: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const worker = new node.Worker(BOOTSTRAP, { eval: true, workerData: { ...init, index: w, part: workerPart(w, n, g.batch), launch: launched } });
      live.add(worker);
      threads.push(worker);
      const why = (what: string) => fail(new VqvidError('E_STATE', `workers: training worker ${w} ${what} (workers: 1 trains in this thread)`));
      ready.push(new Promise<void>((resolve) => worker.on('message', (m) => {
        const msg = m as { ready?: boolean; error?: string };
        if (msg.ready) resolve();
        else if (msg.error) why(`failed: ${msg.error}`);
      })));
      worker.on('error', (e) => why(`failed: ${(e as Error).message}`));
      worker.on('exit', (code) => {
        live.delete(worker);
        why(`exited (code ${code})`);
      });
    }
    const pool = new TrainPool({ ...spec, workers: n }, threads, init, failed);
    try {
      await Promise.race([Promise.all(ready), failed]);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Number of workers running. */
  get size(): number {
    return this.threads.length;
  }

  /** Each worker's tf.memory().numTensors after its last step (for tests: they must stay flat). */
  workerTensors(): number[] {
    const n = this.threads.length;
    return this.threads.map((_, w) => Atomics.load(this.ctrl, 2 + n + w));
  }

  /**
   * Copies `weights` (one Float32Array per variable, in `variables()` order) into the shared parameter vector
   * the workers read at the start of every step ({@link TrainPool.params}).
   */
  loadParams(weights: Float32Array[]): void {
    if (this.closed) throw new VqvidError('E_STATE', 'workers: the training pool is closed');
    let off = 0;
    for (const w of weights) {
      this.params.set(w, off);
      off += w.length;
    }
  }

  /**
   * The shared parameter vector (every variable's weights end to end, in `variables()` order) the workers read
   * at the start of every step: the caller may update it in place between steps (the fused Adam step does).
   */
  get sharedParams(): Float32Array {
    return this.params;
  }

  /**
   * The workers' gradient regions of the last step: worker w's gradient of its slice at [w·S, w·S + P), P the
   * parameter count and S = {@link TrainPool.gradStride} ≥ P; weighted by {@link TrainPool.shares} and summed in worker
   * order they are the batch's gradient.
   */
  get sharedGrads(): Float32Array {
    return this.grads;
  }

  /** Floats from one worker's gradient region to the next in {@link TrainPool.sharedGrads} ({@link gradientStride}). */
  get gradStride(): number {
    return gradientStride(this.params.length);
  }

  /** Each worker's share of the batch's windows (count / batch), the weight of its loss and gradient in the sum. */
  get shares(): number[] {
    return workerShares(this.parts.length, this.parts[0].total);
  }

  /**
   * Runs one step of the workers on batch `b` at global step `step` (which seeds dropout) with the weights now in
   * {@link TrainPool.sharedParams}, and resolves to the batch's mean loss (Σ_w share_w · loss_w in worker order)
   * once every worker has written its gradient region ({@link TrainPool.sharedGrads}); rejects (E_STATE) when a
   * worker fails.
   */
  async compute(b: Batch, step: number): Promise<number> {
    return this.run(b, step, null);
  }

  /**
   * One training step: the gradient of batch `b` as {@link TrainPool.compute}, then the Adam step of
   * {@link FusedAdam.step} at learning rate `lr` and clip norm `clip`, taken by the workers in shards on the shared
   * weights and the pool's {@link PoolSpec.adam} (whose beta powers, step count and `lastNorm` advance). Resolves
   * to the batch's mean loss. The squared norm is summed per shard, then over the shards in order, so when the
   * clip is active the step can differ from one whole {@link FusedAdam.step} in the norm's last bits.
   */
  async step(b: Batch, step: number, lr: number, clip: number): Promise<number> {
    if (!this.adam) throw new VqvidError('E_STATE', 'workers: this pool was started without spec.adam; it only computes gradients');
    const adam = this.adam;
    const loss = await this.run(b, step, [lr, clip, adam.accBeta1, adam.accBeta2]);
    adam.advance(normOfShards(this.partials, this.threads.length));
    return loss;
  }

  private async run(b: Batch, step: number, adam: number[] | null): Promise<number> {
    if (this.closed) throw new VqvidError('E_STATE', 'workers: the training pool is closed');
    const v = this.batchViews;
    v.inputs.set(b.inputs);
    if (v.mask && b.mask) v.mask.set(b.mask);
    v.targets.set(b.targets);
    v.present.set(b.present);
    this.adamArgs[0] = adam ? 1 : 0;
    if (adam) this.adamArgs.set(adam, 1);
    Atomics.store(this.ctrl, 1, step);
    const seq = ++this.seq;
    Atomics.store(this.ctrl, 0, seq);
    Atomics.notify(this.ctrl, 0);
    for (let w = 0; w < this.threads.length; w++) await this.finished(w, seq);
    const shares = this.shares;
    let loss = 0;
    for (let w = 0; w < shares.length; w++) loss += shares[w] * this.losses[w];
    return loss;
  }

  /** Resolves when worker `w` has finished step `seq`; rejects when any worker failed. */
  private async finished(w: number, seq: number): Promise<void> {
    const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
    for (;;) {
      const now = Atomics.load(this.ctrl, 2 + w);
      if (now >= 3 * seq) return;
      if (now === FAILED) await this.failed;
      const r = waitAsync(this.ctrl, 2 + w, now);
      if (r.async) await Promise.race([r.value, this.failed]);
    }
  }

  /** Stops and terminates every worker (waits until they have exited); safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    Atomics.store(this.ctrl, 0, STOP);
    // the step counter, and the progress words a worker may be waiting on for its peers
    for (let i = 0; i < 2 + this.threads.length; i++) Atomics.notify(this.ctrl, i);
    await Promise.all(this.threads.map((t) => t.terminate().catch(() => undefined)));
  }
}

/** Control-word indices and values a worker shares with {@link TrainPool} (for the worker entry). */
export const CONTROL = Object.freeze({ STEP: 0, GLOBAL_STEP: 1, FIRST_FLAG: 2, STOP, FAILED });
