import { wasmBytes } from '@vqvid/core';

const {
  addConst, doWhile, END, F32, F32X4_ADD, F32X4_MUL, F32X4_SUB, get, I32, I32_ADD, I32_CONST, I32_MUL, LOAD, MODULE_HEADER, name,
  reserveBytes, section, set, simd, uleb, V128, vec, ZERO,
} = wasmBytes;

/*
 * The motion search's screening kernel (see `nearestMotionPatches` below): a hand-assembled WebAssembly SIMD
 * function that writes, for one cell, the float32 squared distance of each listed centroid to every one of the
 * cell's moved patches, (M − C)² summed in f32x4 lanes. A patch is read in rows of `rowLen` values (one row of dim
 * values where the patches lie one after another; the patch's rows where they lie in a frame). Plain bytes built
 * here: no build step, works in browsers.
 */

/**
 * Where each cell's motion patches lie: patch m of cell i starts at data[bases[i·count + m]] and is read in
 * dim / rowLen rows of rowLen values, rowStride values apart (row-major, so coordinate order is the patch's).
 */
export interface MotionLayout {
  data: Float32Array;
  bases: Int32Array;
  count: number;
  rowLen: number;
  rowStride: number;
}

/** The layout of patches [cells, count, dim] one after another. */
export function packedLayout(motion: Float32Array, cells: number, count: number, dim: number): MotionLayout {
  return { data: motion, bases: Int32Array.from({ length: cells * count }, (_, i) => i * dim), count, rowLen: dim, rowStride: dim };
}

// run(basep, count, stride, offp, ncand, outp): params 0..5, then i32, f32 and v128 locals
const P = { basep: 0, count: 1, stride: 2, offp: 3, ncand: 4, outp: 5 };
const L = { i: 6, c: 7, p: 8, m: 9, o: 10, q: 11, s: 12, e: 13, acc0: 14, acc1: 15, t: 16 };
// opcodes of this kernel only (the shared ones are @vqvid/core's wasmBytes)
const I32_LOAD = [0x28, 2, 0], F32_STORE = [0x38, 2, 0];
const F32_LOAD = (off: number) => [0x2a, 2, ...uleb(off)];
const F32_ZERO = [0x43, 0, 0, 0, 0];
const F32_ADD = 0x92, F32_SUB = 0x93, F32_MUL = 0x94;
const LANE = (l: number) => simd(0x1f, l);
/** local[i] = local[a] + local[b] */
const sum = (i: number, a: number, b: number) => [...get(a), ...get(b), I32_ADD, ...set(i)];

/**
 * One patch (its first row at local p, rows `stride` bytes apart) against one centroid (at local c, dim values in
 * a row): per row rowLen/4 vector steps into two accumulators and a scalar tail.
 */
function distanceBody(dim: number, rowLen: number): number[] {
  const code = [...ZERO, ...set(L.acc0), ...ZERO, ...set(L.acc1), ...F32_ZERO, ...set(L.s), ...get(L.p), ...set(L.q)];
  const vectors = Math.floor(rowLen / 4);
  let step = 0;
  for (let row = 0; row < dim / rowLen; row++) {
    if (row > 0) code.push(...sum(L.q, L.q, P.stride));
    for (let v = 0; v < vectors; v++, step++) {
      const acc = step % 2 ? L.acc1 : L.acc0;
      code.push(...get(L.q), ...LOAD(16 * v), ...get(L.c), ...LOAD(4 * (row * rowLen + 4 * v)), ...F32X4_SUB, ...set(L.t));
      code.push(...get(acc), ...get(L.t), ...get(L.t), ...F32X4_MUL, ...F32X4_ADD, ...set(acc));
    }
    for (let d = 4 * vectors; d < rowLen; d++) {
      code.push(...get(L.q), ...F32_LOAD(4 * d), ...get(L.c), ...F32_LOAD(4 * (row * rowLen + d)), F32_SUB, ...set(L.e));
      code.push(...get(L.s), ...get(L.e), ...get(L.e), F32_MUL, F32_ADD, ...set(L.s));
    }
  }
  // out[o] = ((lane 0 + lane 1) + (lane 2 + lane 3)) + s of acc0 + acc1
  code.push(...get(L.acc0), ...get(L.acc1), ...F32X4_ADD, ...set(L.t));
  code.push(...get(L.o), ...get(L.t), ...LANE(0), ...get(L.t), ...LANE(1), F32_ADD, ...get(L.t), ...LANE(2), ...get(L.t), ...LANE(3), F32_ADD, F32_ADD);
  code.push(...get(L.s), F32_ADD, ...F32_STORE);
  return code;
}

/** For each listed centroid i (byte offset at offp + 4i): every patch m (byte offset at basep + 4m), out[i·count + m]. */
function runBody(dim: number, rowLen: number): number[] {
  const patch = [...get(P.basep), ...get(L.m), I32_CONST, 4, I32_MUL, I32_ADD, ...I32_LOAD, ...set(L.p), ...distanceBody(dim, rowLen), ...addConst(L.o, 4)];
  const candidate = [...get(P.offp), ...get(L.i), I32_CONST, 4, I32_MUL, I32_ADD, ...I32_LOAD, ...set(L.c), ...doWhile(L.m, P.count, patch)];
  return [...get(P.outp), ...set(L.o), ...doWhile(L.i, P.ncand, candidate), END];
}

/** Bytes of the module for one dim and row length (a divisor of dim): exports `run` and a growable `mem`. */
export function motionModuleBytes(dim: number, rowLen = dim): Uint8Array<ArrayBuffer> {
  const type = section(1, vec([[0x60, ...vec(new Array(6).fill([I32])), 0]]));
  const func = section(3, vec([[0]]));
  const memory = section(5, vec([[0x00, 1]]));
  const exports = section(7, vec([[...name('run'), 0x00, 0], [...name('mem'), 0x02, 0]]));
  const locals = vec([[6, I32], [2, F32], [3, V128]]);
  const body = [...locals, ...runBody(dim, rowLen)];
  const code = section(10, vec([[...uleb(body.length), ...body]]));
  return new Uint8Array([...MODULE_HEADER, ...type, ...func, ...memory, ...exports, ...code]);
}

type Run = (basep: number, count: number, stride: number, offp: number, ncand: number, outp: number) => void;
interface Kernel {
  run: Run;
  mem: WebAssembly.Memory;
}

/** Largest dim the kernel is unrolled for; beyond it (and without WebAssembly SIMD) the scan in JavaScript runs. */
export const MAX_MOTION_DIM = 1024;

/** One kernel per (dim, row length), made on first use (null where WebAssembly SIMD is missing). */
const kernels = new Map<string, Kernel | null>();

function kernelFor(dim: number, rowLen: number): Kernel | null {
  const key = `${dim}/${rowLen}`;
  if (!kernels.has(key)) {
    let made: Kernel | null = null;
    if (typeof WebAssembly !== 'undefined' && dim <= MAX_MOTION_DIM && dim % rowLen === 0) {
      const bytes = motionModuleBytes(dim, rowLen);
      try {
        if (WebAssembly.validate(bytes)) made = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as Kernel;
      } catch {
        // a browser's main thread may refuse to compile a module of more than 4 KB synchronously (large dims): the
        // JavaScript scan runs instead
        made = null;
      }
    }
    kernels.set(key, made);
  }
  return kernels.get(key)!;
}

/**
 * Relative rounding of the kernel's distances: each is a sum of dim squares of float32 differences, each of those
 * rounded once (relative error ≤ u = 2⁻²⁴), squared (≤ u) and added in at most dim + 3 additions (each ≤ u of a
 * partial sum of non-negative terms), so |screened − exact| ≤ (dim + 5)·u·exact, plus one smallest subnormal per
 * term where a square underflows. The exact in-order float64 sum is within 64·2⁻⁵³ of the exact value, far inside.
 */
const screenTolerance = (dim: number): number => 2 * (dim + 8) * 2 ** -24;

/**
 * For each request r (cell `cells[r]`, centroid `codes[r]`; requests of one cell next to each other), the index of
 * the cell's motion patch (in `layout`) nearest to the centroid, as the exact scan defines it: the least squared
 * distance summed in float64 in coordinate order, the lowest patch index on ties. Null where no kernel can run.
 *
 * Why the answer is exact: let f be the kernel's distances and D the exact in-order ones, each within a factor
 * (1 ± τ) of the true distance. For the patch m* that the scan picks and the patch m' of least f,
 * f(m*) ≤ (1 + τ)·D(m*) ≤ (1 + τ)·D(m') ≤ (1 + τ)/(1 − τ)·f(m'), so m* is among the patches whose f is within that
 * factor of the least (plus the underflow slack). Where that set has one patch, it is m*; where more, D decides.
 */
export function nearestMotionPatches(layout: MotionLayout, dim: number, centroids: Float32Array, cells: Int32Array, codes: Int32Array): Int32Array | null {
  const kernel = kernelFor(dim, layout.rowLen);
  if (kernel === null) return null;
  const requests = cells.length;
  const best = new Int32Array(requests);
  if (requests === 0) return best;
  // only the requested centroids go to the kernel's memory, each once, packed in the order first asked for (at
  // K = 10,000 the whole codebook is 2.5 MB a call, and its rows are read scattered)
  const k = centroids.length / dim;
  if (slotScratch.length < k) slotScratch = new Int32Array(k).fill(-1);
  const slotOf = slotScratch;
  const used: number[] = [];
  for (let r = 0; r < requests; r++) {
    if (slotOf[codes[r]] < 0) {
      slotOf[codes[r]] = used.length;
      used.push(codes[r]);
    }
  }
  try {
    screen(kernel, layout, dim, centroids, cells, codes, best, used, slotOf);
  } finally {
    for (const code of used) slotOf[code] = -1;
  }
  return best;
}

/** {@link nearestMotionPatches} once the requested codes have their slots (`used` in slot order). */
function screen(kernel: Kernel, layout: MotionLayout, dim: number, centroids: Float32Array, cells: Int32Array, codes: Int32Array, best: Int32Array, used: number[], slotOf: Int32Array): void {
  const { data, bases, count, rowStride } = layout;
  const requests = cells.length;
  // a cell's requests go to the kernel in batches of at most `most`
  const most = 256;
  const offsetsAt = 0, basesAt = 4 * most, outAt = basesAt + 4 * count, centroidAt = outAt + 4 * most * count, dataAt = centroidAt + 4 * used.length * dim;
  const bytes = dataAt + 4 * data.length;
  reserveBytes(kernel.mem, bytes);
  const buffer = kernel.mem.buffer;
  const offsets = new Int32Array(buffer, offsetsAt, most);
  const patchAt = new Int32Array(buffer, basesAt, count);
  const screened = new Float32Array(buffer, outAt, most * count);
  const packed = new Float32Array(buffer, centroidAt, used.length * dim);
  for (let slot = 0; slot < used.length; slot++) {
    const from = used[slot] * dim;
    for (let q = 0; q < dim; q++) packed[slot * dim + q] = centroids[from + q];
  }
  new Float32Array(buffer, dataAt, data.length).set(data);
  const factor = (1 + screenTolerance(dim)) / (1 - screenTolerance(dim));
  const slack = dim * 2 ** -149;
  for (let r0 = 0; r0 < requests; ) {
    const cell = cells[r0];
    let n = 0;
    while (r0 + n < requests && n < most && cells[r0 + n] === cell) {
      offsets[n] = centroidAt + 4 * dim * slotOf[codes[r0 + n]];
      n++;
    }
    for (let m = 0; m < count; m++) patchAt[m] = dataAt + 4 * bases[cell * count + m];
    kernel.run(basesAt, count, 4 * rowStride, offsetsAt, n, outAt);
    for (let j = 0; j < n; j++) {
      const row = j * count;
      // the least screened distance, and the next one (a tie included)
      let least = Infinity;
      let second = Infinity;
      let at = 0;
      for (let m = 0; m < count; m++) {
        const f = screened[row + m];
        if (f < least) {
          second = least;
          least = f;
          at = m;
        } else if (f < second) {
          second = f;
        }
      }
      // every f is +∞ where squares overflow float32: then every patch is a contender, and D decides
      const limit = least === Infinity ? Infinity : least * factor + slack;
      best[r0 + j] = second <= limit ? exactNearest(layout, cell, dim, centroids, codes[r0 + j] * dim, screened, row, limit) : at;
    }
    r0 += n;
  }
}

/** Slot of each code in the kernel's packed centroids during a {@link nearestMotionPatches} call (−1 between calls). */
let slotScratch = new Int32Array(0);

/** Among the cell's patches whose screened distance is at most `limit`: the least in-order float64 distance, lowest index first. */
function exactNearest(layout: MotionLayout, cell: number, dim: number, centroids: Float32Array, c: number, screened: Float32Array, row: number, limit: number): number {
  const { data, bases, count, rowLen, rowStride } = layout;
  let best = -1;
  let bestD = Infinity;
  for (let m = 0; m < count; m++) {
    if (!(screened[row + m] <= limit)) continue;
    let d = 0;
    for (let q = 0, r = bases[cell * count + m]; q < dim; q += rowLen, r += rowStride) {
      for (let j = 0; j < rowLen; j++) {
        const e = data[r + j] - centroids[c + q + j];
        d += e * e;
      }
    }
    if (best < 0 || d < bestD) {
      bestD = d;
      best = m;
    }
  }
  return best;
}

/** Copies the patch of `layout` that starts at data[from] into out[to .. to + dim), in coordinate order. */
export function copyPatch(layout: MotionLayout, from: number, dim: number, out: Float32Array, to: number): void {
  const { data, rowLen, rowStride } = layout;
  for (let q = 0, r = from; q < dim; q += rowLen, r += rowStride) for (let j = 0; j < rowLen; j++) out[to++] = data[r + j];
}

/** The patches of `layout` one after another, [cells, count, dim] (what the JavaScript scan reads). */
export function packLayout(layout: MotionLayout, cells: number, dim: number): Float32Array {
  const { data, bases, count, rowLen } = layout;
  if (rowLen === dim && bases.every((b, i) => b === i * dim) && data.length === cells * count * dim) return data;
  const out = new Float32Array(cells * count * dim);
  for (let i = 0; i < cells * count; i++) copyPatch(layout, bases[i], dim, out, i * dim);
  return out;
}
