import { centerRows, centroidMean, rowNorms } from './assign';
import { wasmBytes } from '@vqvid/core';

const {
  addConst, doWhile, END, F32X4_ADD, F32X4_MUL, F32X4_SUB, get, I32, I32_ADD, I32_CONST, I32_EQ, I32_MUL, LOAD, MODULE_HEADER, name,
  reserveBytes, section, SELECT, set, simd, sleb, uleb, V128, vec, ZERO,
} = wasmBytes;

/**
 * A hand-assembled WebAssembly SIMD kernel for the cpu backend: the nearest-centroid search with register
 * blocking of 8 points (two f32x4 vectors) x 4 centroids, the coordinate loop fully unrolled for the given
 * dim so every load has a constant offset. Points are packed into panels of 8 (panel-major, then coordinate,
 * then point: one v128 load reads 4 points' coordinate d); centroids stay row-major and are broadcast with
 * v128.load32_splat. Plain bytes built here: no Node imports, no build step, works in browsers.
 */

/**
 * f32x4 vectors of points per panel and centroids per register block: 2 x 4 (8 accumulators, 14 live v128
 * values, within the 16 SIMD registers of x64) measured fastest among 1x8, 2x4, 2x5, 2x6, 3x3, 3x4, 4x2.
 */
const SIMD_VECTORS = 2;
const SIMD_CENTROIDS = 4;
/** Points per panel. */
const SIMD_POINTS = 4 * SIMD_VECTORS;
/** Largest dim the unrolled kernel is built for (≈ 140 KB of code at 1024); beyond it the TypeScript path runs. */
export const MAX_SIMD_DIM = 1024;

// opcodes of this kernel only (the shared ones are @vqvid/core's wasmBytes)
const LOAD_SPLAT = (off: number) => simd(0x09, 2, ...uleb(off));
const STORE = (off: number) => simd(0x0b, 4, ...uleb(off));
const I32X4_SPLAT = simd(0x11), F32X4_LT = simd(0x43), BITSELECT = simd(0x52);

// run(xp, panels, cp, cnp, tiles, tileBlocks, lastBlocks, bestp, labp): params 0..8, then locals
const P = { xp: 0, panels: 1, cp: 2, cnp: 3, tiles: 4, tileBlocks: 5, lastBlocks: 6, bestp: 7, labp: 8 };
const L = { pi: 9, bi: 10, c: 11, cn: 12, j: 13, ti: 14, x: 15, best: 16, lab: 17, blocks: 18, tc: 19, tcn: 20, tj: 21 };
const I32_LOCALS = 13;
const V0 = 22; // v128 locals: best[PV], lab[PV], x[PV], cv, acc[PV * B]
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const V = {
  best: range(SIMD_VECTORS, V0),
  lab: range(SIMD_VECTORS, V0 + SIMD_VECTORS),
  x: range(SIMD_VECTORS, V0 + 2 * SIMD_VECTORS),
  cv: V0 + 3 * SIMD_VECTORS,
  acc: (p: number, b: number) => V0 + 3 * SIMD_VECTORS + 1 + p * SIMD_CENTROIDS + b,
  count: 3 * SIMD_VECTORS + 1 + SIMD_VECTORS * SIMD_CENTROIDS,
};

/** local[i] += local[m] * v */
const addScaled = (i: number, m: number, v: number) => [...get(i), ...get(m), I32_CONST, ...sleb(v), I32_MUL, I32_ADD, ...set(i)];

/** Body of one centroid block for the current panel: unrolled dot products, then the argmin fold. */
function blockBody(dim: number): number[] {
  const code: number[] = [];
  for (let p = 0; p < SIMD_VECTORS; p++) for (let b = 0; b < SIMD_CENTROIDS; b++) code.push(...ZERO, ...set(V.acc(p, b)));
  for (let d = 0; d < dim; d++) {
    for (let p = 0; p < SIMD_VECTORS; p++) code.push(...get(L.x), ...LOAD(d * SIMD_POINTS * 4 + p * 16), ...set(V.x[p]));
    for (let b = 0; b < SIMD_CENTROIDS; b++) {
      code.push(...get(L.c), ...LOAD_SPLAT((b * dim + d) * 4), ...set(V.cv));
      for (let p = 0; p < SIMD_VECTORS; p++) code.push(...get(V.acc(p, b)), ...get(V.x[p]), ...get(V.cv), ...F32X4_MUL, ...F32X4_ADD, ...set(V.acc(p, b)));
    }
  }
  for (let b = 0; b < SIMD_CENTROIDS; b++) {
    for (let p = 0; p < SIMD_VECTORS; p++) {
      // e = ||c||² − 2x·c; m = e < best; best = m ? e : best; lab = m ? j + b : lab (strict: lowest index wins)
      code.push(...get(L.cn), ...LOAD_SPLAT(b * 4), ...get(V.acc(p, b)), ...get(V.acc(p, b)), ...F32X4_ADD, ...F32X4_SUB, ...set(V.cv));
      code.push(...get(L.j), I32_CONST, ...sleb(b), I32_ADD, ...I32X4_SPLAT, ...get(V.lab[p]));
      code.push(...get(V.cv), ...get(V.best[p]), ...F32X4_LT, ...BITSELECT, ...set(V.lab[p]));
      code.push(...get(V.cv), ...get(V.best[p]), ...get(V.cv), ...get(V.best[p]), ...F32X4_LT, ...BITSELECT, ...set(V.best[p]));
    }
  }
  return code;
}

/** One panel against one centroid tile: running best/labels loaded, all blocks of the tile, stored back. */
function panelBody(dim: number): number[] {
  const code: number[] = [];
  for (let p = 0; p < SIMD_VECTORS; p++) code.push(...get(L.best), ...LOAD(p * 16), ...set(V.best[p]), ...get(L.lab), ...LOAD(p * 16), ...set(V.lab[p]));
  code.push(...get(L.tc), ...set(L.c), ...get(L.tcn), ...set(L.cn), ...get(L.tj), ...set(L.j));
  // a block's body is some 140 KB of code at dim 1024: joined as an array, not spread into push's arguments (that
  // overflows the call stack)
  const blocks = doWhile(L.bi, L.blocks, [...blockBody(dim), ...addConst(L.c, SIMD_CENTROIDS * dim * 4), ...addConst(L.cn, SIMD_CENTROIDS * 4), ...addConst(L.j, SIMD_CENTROIDS)]);
  for (const b of blocks) code.push(b);
  for (let p = 0; p < SIMD_VECTORS; p++) code.push(...get(L.best), ...get(V.best[p]), ...STORE(p * 16), ...get(L.lab), ...get(V.lab[p]), ...STORE(p * 16));
  code.push(...addConst(L.x, SIMD_POINTS * dim * 4), ...addConst(L.best, SIMD_POINTS * 4), ...addConst(L.lab, SIMD_POINTS * 4));
  return code;
}

/** Centroid tiles outermost (a tile stays in L2 while every panel passes), panels, then blocks. */
function runBody(dim: number): number[] {
  const tile = [
    // blocks = ti + 1 == tiles ? lastBlocks : tileBlocks
    ...get(P.lastBlocks), ...get(P.tileBlocks), ...get(L.ti), I32_CONST, 1, I32_ADD, ...get(P.tiles), I32_EQ, SELECT, ...set(L.blocks),
    ...get(P.xp), ...set(L.x), ...get(P.bestp), ...set(L.best), ...get(P.labp), ...set(L.lab),
    ...doWhile(L.pi, P.panels, panelBody(dim)),
    ...addScaled(L.tc, P.tileBlocks, SIMD_CENTROIDS * dim * 4), ...addScaled(L.tcn, P.tileBlocks, SIMD_CENTROIDS * 4),
    ...addScaled(L.tj, P.tileBlocks, SIMD_CENTROIDS),
  ];
  return [...get(P.cp), ...set(L.tc), ...get(P.cnp), ...set(L.tcn), I32_CONST, 0, ...set(L.tj), ...doWhile(L.ti, P.tiles, tile), END];
}

/** Most wasm pages a shared memory may grow to (1 GiB); shared memories must declare a maximum. */
const SHARED_MAX_PAGES = 16384;

/**
 * Bytes of the module for one dim. Unshared: defines and exports a growable `mem`. Shared: imports
 * `env.mem` as a shared memory so worker threads can run the same kernel over disjoint panels.
 */
export function simdModuleBytes(dim: number, shared = false): Uint8Array<ArrayBuffer> {
  const type = section(1, vec([[0x60, ...vec(new Array(9).fill([I32])), 0]]));
  const imports = shared ? section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x03, 1, ...uleb(SHARED_MAX_PAGES)]])) : [];
  const func = section(3, vec([[0]]));
  const memory = shared ? [] : section(5, vec([[0x00, 1]]));
  const exports = section(7, vec(shared ? [[...name('run'), 0x00, 0]] : [[...name('run'), 0x00, 0], [...name('mem'), 0x02, 0]]));
  const locals = vec([[I32_LOCALS, I32], [V.count, V128]]);
  const body = [...locals, ...runBody(dim)];
  const code = section(10, vec([[...uleb(body.length), ...body]]));
  return new Uint8Array([...MODULE_HEADER, ...type, ...imports, ...func, ...memory, ...exports, ...code]);
}

/** Arguments of the kernel's run(): byte offsets and counts. */
export type RunArgs = [xp: number, panels: number, cp: number, cnp: number, tiles: number, tileBlocks: number, lastBlocks: number, bestp: number, labp: number];
type Run = (...args: RunArgs) => void;

/** Runs kernel calls somewhere: on this thread, or spread over worker threads sharing the memory. */
export interface SimdRunner {
  memory: WebAssembly.Memory;
  /** Runs every job (disjoint panels) and resolves when all are done. */
  runAll(jobs: RunArgs[]): Promise<void>;
  /** How many jobs run at once. */
  readonly threads: number;
  dispose(): void;
}

/** A runner on the calling thread over the module's own memory. */
export function localRunner(dim: number): SimdRunner | null {
  if (typeof WebAssembly === 'undefined' || dim > MAX_SIMD_DIM) return null;
  const bytes = simdModuleBytes(dim);
  if (!WebAssembly.validate(bytes)) return null;
  const { run, mem } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as { run: Run; mem: WebAssembly.Memory };
  return { memory: mem, threads: 1, runAll: async (jobs) => jobs.forEach((j) => run(...j)), dispose: () => undefined };
}

/** Points per call of the kernel (a tile of packed points); threads split a tile's panels. */
const POINT_TILE = 16384;
/** Centroids per cache tile: 256 x 64 floats = 64 KiB, L2-resident while every panel passes. */
const CENTROID_TILE = 256;
const PAD_NORM = 3.4e38;

/**
 * The nearest-centroid search on a {@link SimdRunner}: packs points into panels, pads centroids to whole
 * blocks (padding norm 3.4e38 never wins), splits each point tile's panels over the runner's threads.
 * Calls are serialised because they share the kernel memory.
 */
export class SimdKernel {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly runner: SimdRunner, readonly dim: number) {}

  /** Labels of the nearest centroid of `n` points (lowest index on ties), computed in float32. */
  argmin(data: Float32Array, n: number, centroids: Float32Array, k: number): Promise<Int32Array> {
    const next = this.queue.then(() => this.search(data, n, centroids, k));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Threads the runner uses. */
  get threads(): number {
    return this.runner.threads;
  }

  dispose(): void {
    this.runner.dispose();
  }

  private async search(data: Float32Array, n: number, centroids: Float32Array, k: number): Promise<Int32Array> {
    const dim = this.dim;
    const tileN = Math.min(POINT_TILE, Math.ceil(n / SIMD_POINTS) * SIMD_POINTS);
    const kPad = Math.ceil(k / SIMD_CENTROIDS) * SIMD_CENTROIDS;
    const tileBlocks = Math.min(CENTROID_TILE, kPad) / SIMD_CENTROIDS;
    const tiles = Math.ceil(kPad / SIMD_CENTROIDS / tileBlocks);
    const lastBlocks = kPad / SIMD_CENTROIDS - (tiles - 1) * tileBlocks;
    const cp = tileN * dim * 4, cnp = cp + kPad * dim * 4, bestp = cnp + kPad * 4, labp = bestp + tileN * 4;
    reserveBytes(this.runner.memory, labp + tileN * 4);
    const f32 = new Float32Array(this.runner.memory.buffer);
    const mean = centroidMean(centroids, k, dim);
    const centered = centerRows(f32.subarray(cp / 4, cnp / 4).fill(0), centroids, 0, k, dim, mean);
    f32.fill(PAD_NORM, cnp / 4, bestp / 4);
    f32.set(rowNorms(centered, k, dim), cnp / 4);
    const labels = new Int32Array(n);
    const lab = new Int32Array(this.runner.memory.buffer, labp, tileN);
    for (let p0 = 0; p0 < n; p0 += tileN) {
      const count = Math.min(tileN, n - p0);
      const panels = Math.ceil(count / SIMD_POINTS);
      packPanels(f32, 0, data, p0, count, panels, dim, mean);
      f32.fill(PAD_NORM, bestp / 4, bestp / 4 + tileN);
      lab.fill(0);
      const per = Math.ceil(panels / this.runner.threads);
      const jobs: RunArgs[] = [];
      for (let a = 0; a < panels; a += per) {
        const m = Math.min(per, panels - a);
        jobs.push([a * SIMD_POINTS * dim * 4, m, cp, cnp, tiles, tileBlocks, lastBlocks, bestp + a * SIMD_POINTS * 4, labp + a * SIMD_POINTS * 4]);
      }
      await this.runner.runAll(jobs);
      labels.set(lab.subarray(0, count), p0);
    }
    return labels;
  }

}

/** Copies points p0..p0+count minus `mean` into panels of 8 (coordinate-major inside a panel), zero-padding the last. */
function packPanels(dst: Float32Array, at: number, data: Float32Array, p0: number, count: number, panels: number, dim: number, mean: Float64Array): void {
  dst.fill(0, at, at + panels * SIMD_POINTS * dim);
  for (let i = 0; i < count; i++) {
    const base = at + Math.floor(i / SIMD_POINTS) * SIMD_POINTS * dim + (i % SIMD_POINTS);
    const src = (p0 + i) * dim;
    for (let d = 0; d < dim; d++) dst[base + d * SIMD_POINTS] = data[src + d] - mean[d];
  }
}
