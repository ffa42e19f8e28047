import { MAX_SIMD_DIM, type RunArgs, type SimdRunner, simdModuleBytes } from './wasm-simd';

/**
 * Worker-thread runner for the SIMD kernel: one shared WebAssembly.Memory, the kernel module instantiated in
 * every worker, and a tile's panels split so each thread (the caller included) runs one job. Workers are
 * Node `worker_threads` (reached by a dynamic import whose name bundlers do not resolve, so browser builds
 * stay free of Node modules) or browser `Worker`s from a Blob URL (which need cross-origin isolation for
 * SharedArrayBuffer). Anything missing → null, and the caller stays on one thread.
 */

/** Code run by each worker: instantiate on the first message, then run jobs and answer 'done'. */
const WORKER_SOURCE = `
const port = typeof require === 'function' ? require('worker_threads').parentPort : self;
const listen = (f) => (port.on ? port.on('message', f) : (port.onmessage = (e) => f(e.data)));
let run = null;
listen((m) => {
  if (m.module) { run = new WebAssembly.Instance(m.module, { env: { mem: m.memory } }).exports.run; port.postMessage('ready'); return; }
  try { run(...m.args); port.postMessage('done'); } catch (e) { port.postMessage('error: ' + e.message); }
});`;

/** One worker as its owner sees it; messages arrive in order. */
export interface Channel {
  send(msg: unknown, transfer?: ArrayBuffer[]): void;
  /** Keeps the Node process alive while a job is in flight (true), lets it exit when idle (false). */
  hold(on: boolean): void;
  /** Resolves with the worker's next message. */
  next(): Promise<unknown>;
  close(): void;
}

type WorkerCtor = new (code: string, opts: { eval: boolean }) => {
  postMessage(m: unknown, transfer?: ArrayBuffer[]): void; on(ev: 'message' | 'error', f: (m: unknown) => void): void; ref(): void; unref(): void; terminate(): unknown;
};

/** Node worker_threads module or null, without a static import (browser bundles must not see it). */
async function nodeWorkers(): Promise<{ Worker: WorkerCtor; cpus: number } | null> {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) return null;
  const load = (id: string) => import(/* webpackIgnore: true */ /* @vite-ignore */ id);
  const wt = await load(['node', 'worker_threads'].join(':'));
  const os = await load(['node', 'os'].join(':'));
  return { Worker: wt.Worker as WorkerCtor, cpus: (os.availableParallelism?.() ?? os.cpus().length) as number };
}

function channel(
  post: (m: unknown, transfer?: ArrayBuffer[]) => void, subscribe: (f: (m: unknown) => void) => void, close: () => void,
  hold: (on: boolean) => void = () => undefined,
): Channel {
  const waiting: ((m: unknown) => void)[] = [];
  subscribe((m) => waiting.shift()?.(m));
  return { send: post, next: () => new Promise((resolve) => waiting.push(resolve)), close, hold };
}

/**
 * `count` workers running `source` (CommonJS in Node, where `require` is available to it; a classic
 * script in a browser), or null where there are none. `nodeOnly`: no browser workers.
 */
export async function spawnWorkers(count: number, source = WORKER_SOURCE, nodeOnly = false): Promise<Channel[] | null> {
  const node = await nodeWorkers().catch(() => null);
  if (node) {
    return Array.from({ length: count }, () => {
      const w = new node.Worker(source, { eval: true });
      const ch = channel((m, t) => w.postMessage(m, t), (f) => w.on('message', f), () => void w.terminate(),
        (on) => (on ? w.ref() : w.unref()));
      ch.hold(false); // after the listener, which re-refs the worker: idle workers must not keep a Node process alive
      return ch;
    });
  }
  const W = (globalThis as { Worker?: new (url: string) => Worker }).Worker;
  if (nodeOnly || !W || typeof Blob === 'undefined' || typeof URL?.createObjectURL !== 'function') return null;
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  return Array.from({ length: count }, () => {
    const w = new W(url);
    return channel((m, t) => w.postMessage(m, t ?? []), (f) => (w.onmessage = (e) => f(e.data)), () => w.terminate());
  });
}

/** How many threads to use: the machine's cores (at most 8), from Node's os module or navigator. */
export async function coreCount(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  const node = await nodeWorkers().catch(() => null);
  return Math.min(8, node?.cpus ?? nav?.hardwareConcurrency ?? 1);
}

/**
 * A runner over `threads` threads (default: the core count), or null where shared memory, SIMD or workers
 * are missing, or only one core exists.
 */
export async function threadedRunner(dim: number, threads?: number): Promise<SimdRunner | null> {
  const total = threads ?? (await coreCount());
  if (total < 2 || dim > MAX_SIMD_DIM || typeof SharedArrayBuffer === 'undefined' || typeof WebAssembly === 'undefined') return null;
  const bytes = simdModuleBytes(dim, true);
  if (!WebAssembly.validate(bytes)) return null;
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: 1, maximum: 16384, shared: true } as WebAssembly.MemoryDescriptor);
  } catch {
    return null;
  }
  const module = new WebAssembly.Module(bytes);
  const run = (new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as { run: (...a: RunArgs) => void }).run;
  const workers = await spawnWorkers(total - 1);
  if (!workers) return null;
  workers.forEach((w) => w.hold(true));
  const ready = workers.map((w) => w.next());
  workers.forEach((w) => w.send({ module, memory }));
  const answers = await Promise.all(ready);
  workers.forEach((w) => w.hold(false));
  if (answers.some((m) => m !== 'ready')) {
    workers.forEach((w) => w.close());
    return null;
  }
  return {
    memory,
    threads: total,
    async runAll(jobs) {
      // jobs beyond the first go to workers; the caller runs the first itself meanwhile
      const replies = jobs.slice(1).map((job, i) => {
        const w = workers[i % workers.length];
        const reply = w.next();
        w.send({ args: job });
        return reply;
      });
      workers.forEach((w) => w.hold(true)); // a pending reply must keep Node alive (top-level await)
      if (jobs.length) run(...jobs[0]);
      const answers = await Promise.all(replies).finally(() => workers.forEach((w) => w.hold(false)));
      const bad = answers.find((m) => m !== 'done');
      if (bad) throw new Error(`simd worker: ${bad}`);
    },
    dispose: () => workers.forEach((w) => w.close()),
  };
}
