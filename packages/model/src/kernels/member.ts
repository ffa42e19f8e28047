import { wasmBytes } from '@vqvid/core';
import { heapFunctionBytes, STORE } from './heap-module';

const { addConst, BR_IF, END, F32X4_ADD, F32X4_MUL, get, I32_ADD, I32_CONST, I32_MUL, I32_NE, LOAD, LOOP, set, simd, sleb, uleb, ZERO } = wasmBytes;

/*
 * Hand-assembled WebAssembly SIMD for the member products of a class-factored softmax (see output/member.ts):
 * each class's rows against its own contiguous block of member columns, in place in the backend's heap, four f32x4
 * accumulators per loop so the adds do not wait on each other. Columns come in blocks of 16 (forward, weight
 * gradient) or 4 (hidden gradient); the caller pads each class to a multiple of 16 and keeps what the padding
 * reads finite and what it writes harmless. Pointers are byte offsets.
 */

const SPLAT32 = simd(0x09, 2, 0);
const LANE = (l: number) => simd(0x1f, l);
const F32_ADD = 0x92;
const F32_STORE = (off: number) => [0x38, 2, ...uleb(off)];
const addLocal = (i: number, j: number) => [...get(i), ...get(j), I32_ADD, ...set(i)];
const copy = (to: number, from: number) => [...get(from), ...set(to)];
const zero = (i: number) => [I32_CONST, 0, ...set(i)];
/** acc += s · v128.load(ptr + off) */
const fma = (acc: number, s: number, ptr: number, off: number) => [...get(acc), ...get(s), ...get(ptr), ...LOAD(off), ...F32X4_MUL, ...F32X4_ADD, ...set(acc)];
/** do { body } while (local[p] != local[end]): every caller runs its body at least once. */
const until = (p: number, end: number, body: number[]) => [LOOP, 0x40, ...body, ...get(p), ...get(end), I32_NE, BR_IF, 0, END];

/**
 * `fwd(h, rows, w, kpb, b, z, nb, hb)`: z[i, j] = b[j] + Σ_d h[i, d]·w[d, j] for rows i < rows and columns
 * j < 16·nb. h rows are hb bytes (hidden·4), w rows kpb bytes apart, z rows 64·nb bytes.
 */
export function memberForwardBytes(): Uint8Array<ArrayBuffer> {
  const P = { h: 0, rows: 1, w: 2, kpb: 3, b: 4, z: 5, nb: 6, hb: 7 };
  const L = { hEnd: 8, jb: 9, wp: 10, hp: 11, rowEnd: 12, bp: 13, a: [14, 15, 16, 17], s: 18 };
  const perD = [...get(L.hp), ...SPLAT32, ...set(L.s), ...L.a.flatMap((a, k) => fma(a, L.s, L.wp, 16 * k)), ...addLocal(L.wp, P.kpb), ...addConst(L.hp, 4)];
  const perBlock = [
    ...L.a.flatMap((a, k) => [...get(L.bp), ...LOAD(16 * k), ...set(a)]),
    ...get(P.w), ...get(L.jb), I32_CONST, ...sleb(64), I32_MUL, I32_ADD, ...set(L.wp),
    ...copy(L.hp, P.h),
    ...until(L.hp, L.rowEnd, perD),
    ...L.a.flatMap((a, k) => [...get(P.z), ...get(a), ...STORE(16 * k)]),
    ...addConst(P.z, 64), ...addConst(L.bp, 64), ...addConst(L.jb, 1),
  ];
  const perRow = [...get(P.h), ...get(P.hb), I32_ADD, ...set(L.rowEnd), ...zero(L.jb), ...copy(L.bp, P.b), ...until(L.jb, P.nb, perBlock), ...addLocal(P.h, P.hb)];
  const body = [...get(P.h), ...get(P.rows), ...get(P.hb), I32_MUL, I32_ADD, ...set(L.hEnd), ...until(P.h, L.hEnd, perRow)];
  return heapFunctionBytes(8, 6, 5, body, 'fwd');
}

/**
 * `dh(dz, rows, w, kpb, n4, dh, hq)`: dh[i, d] = Σ_j dz[i, j]·w[d, j] for rows i < rows, d < 4·hq and columns
 * j < 4·n4. dz rows are 16·n4 bytes, w rows kpb bytes apart, dh rows 16·hq bytes.
 */
export function memberHiddenGradientBytes(): Uint8Array<ArrayBuffer> {
  const P = { dz: 0, rows: 1, w: 2, kpb: 3, n4: 4, dh: 5, hq: 6 };
  const L = { zEnd: 7, rowEnd: 8, q: 9, p: [10, 11, 12, 13], zp: 14, wq: 15, a: [16, 17, 18, 19], v: 20 };
  const hsum = (a: number) => [...get(a), ...LANE(0), ...get(a), ...LANE(1), F32_ADD, ...get(a), ...LANE(2), ...get(a), ...LANE(3), F32_ADD, F32_ADD];
  const perCols = [...get(L.zp), ...LOAD(0), ...set(L.v), ...L.a.flatMap((a, k) => fma(a, L.v, L.p[k], 0)), ...addConst(L.zp, 16), ...L.p.flatMap((p) => addConst(p, 16))];
  const perQuad = [
    ...L.a.flatMap((a) => [...ZERO, ...set(a)]),
    ...copy(L.p[0], L.wq),
    ...[1, 2, 3].flatMap((k) => [...get(L.p[k - 1]), ...get(P.kpb), I32_ADD, ...set(L.p[k])]),
    ...copy(L.zp, P.dz),
    ...until(L.zp, L.rowEnd, perCols),
    ...L.a.flatMap((a, k) => [...get(P.dh), ...hsum(a), ...F32_STORE(4 * k)]),
    ...addConst(P.dh, 16), ...get(L.wq), ...get(P.kpb), I32_CONST, 4, I32_MUL, I32_ADD, ...set(L.wq), ...addConst(L.q, 1),
  ];
  const perRow = [...get(P.dz), ...get(P.n4), I32_CONST, 16, I32_MUL, I32_ADD, ...set(L.rowEnd), ...zero(L.q), ...copy(L.wq, P.w), ...until(L.q, P.hq, perQuad), ...copy(P.dz, L.rowEnd)];
  const body = [...get(P.dz), ...get(P.rows), ...get(P.n4), I32_MUL, I32_CONST, 16, I32_MUL, I32_ADD, ...set(L.zEnd), ...until(P.dz, L.zEnd, perRow)];
  return heapFunctionBytes(7, 9, 5, body, 'dh');
}

/**
 * `dw(h, dz, rows, dw, kpb, nb, hidden, hb)`: dw[d, j] = Σ_i h[i, d]·dz[i, j] for d < hidden and columns
 * j < 16·nb, over rows i < rows (written, not added). h rows are hb bytes, dz rows 64·nb, dw rows kpb apart.
 */
export function memberWeightGradientBytes(): Uint8Array<ArrayBuffer> {
  const P = { h: 0, dz: 1, rows: 2, dw: 3, kpb: 4, nb: 5, hidden: 6, hb: 7 };
  const L = { d: 8, jb: 9, hp: 10, zp: 11, i: 12, out: 13, zrb: 14, hd: 15, a: [16, 17, 18, 19], s: 20 };
  const perRow = [...get(L.hp), ...SPLAT32, ...set(L.s), ...L.a.flatMap((a, k) => fma(a, L.s, L.zp, 16 * k)), ...addLocal(L.hp, P.hb), ...addLocal(L.zp, L.zrb), ...addConst(L.i, 1)];
  const perBlock = [
    ...L.a.flatMap((a) => [...ZERO, ...set(a)]),
    ...copy(L.hp, L.hd), ...get(P.dz), ...get(L.jb), I32_CONST, ...sleb(64), I32_MUL, I32_ADD, ...set(L.zp), ...zero(L.i),
    ...until(L.i, P.rows, perRow),
    ...L.a.flatMap((a, k) => [...get(L.out), ...get(a), ...STORE(16 * k)]),
    ...addConst(L.out, 64), ...addConst(L.jb, 1),
  ];
  const perD = [
    ...get(P.dw), ...get(L.d), ...get(P.kpb), I32_MUL, I32_ADD, ...set(L.out),
    ...get(P.h), ...get(L.d), I32_CONST, 4, I32_MUL, I32_ADD, ...set(L.hd),
    ...zero(L.jb), ...until(L.jb, P.nb, perBlock), ...addConst(L.d, 1),
  ];
  const body = [...get(P.nb), I32_CONST, ...sleb(64), I32_MUL, ...set(L.zrb), ...zero(L.d), ...until(L.d, P.hidden, perD)];
  return heapFunctionBytes(8, 8, 5, body, 'dw');
}

const F32X4_MAX = simd(0xe9);
const F32X4_SUB = simd(0xe5);
const F32X4_NEAREST = simd(0x6a);
const I32X4_TRUNC_SAT_F32X4_S = simd(0xf8);
const I32X4_ADD = simd(0xae);
const I32X4_SHL = simd(0xab);
const F32_MAX = 0x97;
const F32_DIV = 0x95;
const F32_CONST = (v: number) => [0x43, ...new Uint8Array(Float32Array.of(v).buffer)];
/** v128.const of four copies of float32 v */
const F32X4_CONST = (v: number) => simd(0x0c, ...new Uint8Array(Float32Array.of(v, v, v, v).buffer));
const I32X4_CONST = (v: number) => simd(0x0c, ...new Uint8Array(Int32Array.of(v, v, v, v).buffer));

/**
 * exp of the f32x4 on the stack, for arguments at most 0 (the logits less their row maximum): Cephes' expf, x =
 * k·ln 2 + r with k = nearest(x·log2 e), a degree-7 polynomial in r, times 2^k built in the exponent bits (about
 * 1 ulp against Math.exp; arguments below −87.3 give about 1e−38, not 0). Uses local `x` and `k` (v128).
 */
function expLanes(x: number, k: number): number[] {
  const horner = [1.98756915e-4, 1.39819995e-3, 8.33345191e-3, 4.16657959e-2, 1.66666655e-1, 5.00000012e-1];
  const poly: number[] = [...F32X4_CONST(horner[0])];
  for (const c of horner.slice(1)) poly.push(...get(x), ...F32X4_MUL, ...F32X4_CONST(c), ...F32X4_ADD);
  return [
    ...F32X4_CONST(-87.3365478515625), ...F32X4_MAX, ...set(x),
    ...get(x), ...F32X4_CONST(Math.LOG2E), ...F32X4_MUL, ...F32X4_NEAREST, ...set(k),
    // r = x − k·C1 − k·C2 (ln 2 in two parts, so r is exact enough)
    ...get(x), ...get(k), ...F32X4_CONST(0.693359375), ...F32X4_MUL, ...F32X4_SUB, ...get(k), ...F32X4_CONST(-2.12194440e-4), ...F32X4_MUL, ...F32X4_SUB, ...set(x),
    // p(r)·r² + r + 1
    ...poly, ...get(x), ...F32X4_MUL, ...get(x), ...F32X4_MUL, ...get(x), ...F32X4_ADD, ...F32X4_CONST(1), ...F32X4_ADD,
    // · 2^k: (k + 127) << 23 as float bits
    ...get(k), ...I32X4_TRUNC_SAT_F32X4_S, ...I32X4_CONST(127), ...I32X4_ADD, I32_CONST, 23, ...I32X4_SHL, ...F32X4_MUL,
  ];
}

/**
 * `smax(z, rows, n4, st)`: each of `rows` rows of 4·n4 logits (n4 ≥ 2; 16·n4 bytes apart) becomes its softmax in
 * place, and st gets the row's maximum and its sum of exp(z − max) as two float32 values (8 bytes a row).
 */
export function memberSoftmaxBytes(): Uint8Array<ArrayBuffer> {
  const P = { z: 0, rows: 1, n4: 2, st: 3 };
  const L = { zEnd: 4, rowEnd: 5, p: 6, mx: 7, ms: 8, sum: 9, x: 10, k: 11 };
  const F32_LOAD = (off: number) => [0x2a, 2, ...uleb(off)];
  const F32X4_SPLAT = simd(0x13);
  const across = (v: number, op: number) => [...get(v), ...LANE(0), ...get(v), ...LANE(1), op, ...get(v), ...LANE(2), ...get(v), ...LANE(3), op, op];
  const perRow = [
    ...get(P.z), ...get(P.n4), I32_CONST, 16, I32_MUL, I32_ADD, ...set(L.rowEnd),
    ...get(P.z), ...LOAD(0), ...set(L.mx), ...get(P.z), I32_CONST, 16, I32_ADD, ...set(L.p),
    ...until(L.p, L.rowEnd, [...get(L.mx), ...get(L.p), ...LOAD(0), ...F32X4_MAX, ...set(L.mx), ...addConst(L.p, 16)]),
    ...get(P.st), ...across(L.mx, F32_MAX), ...F32_STORE(0),
    ...get(P.st), ...SPLAT32, ...set(L.ms),
    ...ZERO, ...set(L.sum), ...copy(L.p, P.z),
    ...until(L.p, L.rowEnd, [
      ...get(L.p), ...LOAD(0), ...get(L.ms), ...F32X4_SUB, ...expLanes(L.x, L.k), ...set(L.x),
      ...get(L.p), ...get(L.x), ...STORE(0), ...get(L.sum), ...get(L.x), ...F32X4_ADD, ...set(L.sum), ...addConst(L.p, 16),
    ]),
    ...get(P.st), ...across(L.sum, F32_ADD), ...F32_STORE(4),
    ...F32_CONST(1), ...get(P.st), ...F32_LOAD(4), F32_DIV, ...F32X4_SPLAT, ...set(L.ms),
    ...copy(L.p, P.z),
    ...until(L.p, L.rowEnd, [...get(L.p), ...get(L.p), ...LOAD(0), ...get(L.ms), ...F32X4_MUL, ...STORE(0), ...addConst(L.p, 16)]),
    ...copy(P.z, L.rowEnd), ...addConst(P.st, 8),
  ];
  const body = [...get(P.z), ...get(P.rows), ...get(P.n4), I32_MUL, I32_CONST, 16, I32_MUL, I32_ADD, ...set(L.zEnd), ...until(P.z, L.zEnd, perRow)];
  return heapFunctionBytes(4, 3, 5, body, 'smax');
}

/** `scale(z, rows, n4, by)`: row i of `rows` rows of 4·n4 floats (16·n4 bytes apart) times the float32 at by + 4i. */
export function memberScaleBytes(): Uint8Array<ArrayBuffer> {
  const P = { z: 0, rows: 1, n4: 2, by: 3 };
  const L = { zEnd: 4, rowEnd: 5, s: 6 };
  const perRow = [
    ...get(P.z), ...get(P.n4), I32_CONST, 16, I32_MUL, I32_ADD, ...set(L.rowEnd),
    ...get(P.by), ...SPLAT32, ...set(L.s),
    ...until(P.z, L.rowEnd, [...get(P.z), ...get(P.z), ...LOAD(0), ...get(L.s), ...F32X4_MUL, ...STORE(0), ...addConst(P.z, 16)]),
    ...addConst(P.by, 4),
  ];
  const body = [...get(P.z), ...get(P.rows), ...get(P.n4), I32_MUL, I32_CONST, 16, I32_MUL, I32_ADD, ...set(L.zEnd), ...until(P.z, L.zEnd, perRow)];
  return heapFunctionBytes(4, 2, 1, body, 'scale');
}

/** The kernels of this file, instantiated on one heap. */
export interface MemberKernels {
  fwd(h: number, rows: number, w: number, kpb: number, b: number, z: number, nb: number, hb: number): void;
  dh(dz: number, rows: number, w: number, kpb: number, n4: number, dh: number, hq: number): void;
  dw(h: number, dz: number, rows: number, dw: number, kpb: number, nb: number, hidden: number, hb: number): void;
  smax(z: number, rows: number, n4: number, st: number): void;
  scale(z: number, rows: number, n4: number, by: number): void;
}

/** The member kernels on `memory` (null where WebAssembly SIMD does not validate). */
export function memberKernels(memory: WebAssembly.Memory): MemberKernels | null {
  const make = (bytes: Uint8Array<ArrayBuffer>, exported: string) => {
    if (!WebAssembly.validate(bytes)) return null;
    return new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports[exported] as (...args: number[]) => void;
  };
  try {
    const fwd = make(memberForwardBytes(), 'fwd');
    const dh = make(memberHiddenGradientBytes(), 'dh');
    const dw = make(memberWeightGradientBytes(), 'dw');
    const smax = make(memberSoftmaxBytes(), 'smax');
    const scale = make(memberScaleBytes(), 'scale');
    return fwd && dh && dw && smax && scale ? { fwd, dh, dw, smax, scale } : null;
  } catch {
    return null;
  }
}
