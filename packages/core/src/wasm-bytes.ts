/**
 * The pieces the packages' hand-assembled WebAssembly kernels are written with (@vqvid/quantize: the k-means
 * search and the motion search's screen; @vqvid/model: training kernels on tfjs-backend-wasm's heap): LEB128 and
 * section encoders, the opcodes they use, and a few instruction sequences on locals. Plain bytes: no build step,
 * works in browsers. Exported from the package as the `wasmBytes` namespace.
 */

export const uleb = (v: number): number[] => {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
export const sleb = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
export const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
export const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
/** The magic number and version every module starts with. */
export const MODULE_HEADER = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];

// opcodes
export const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
export const GET = 0x20, SET = 0x21, I32_CONST = 0x41, I32_ADD = 0x6a, I32_MUL = 0x6c, I32_NE = 0x47, I32_EQ = 0x46, SELECT = 0x1b;
export const LOOP = 0x03, BR_IF = 0x0d, END = 0x0b;
export const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
export const LOAD = (off: number) => simd(0x00, 4, ...uleb(off));
export const F32X4_ADD = simd(0xe4), F32X4_SUB = simd(0xe5), F32X4_MUL = simd(0xe6);
export const ZERO = simd(0x0c, ...new Array(16).fill(0));

export const get = (i: number) => [GET, ...uleb(i)];
export const set = (i: number) => [SET, ...uleb(i)];
/** local[i] += v (i32.const takes a signed LEB128) */
export const addConst = (i: number, v: number) => [...get(i), I32_CONST, ...sleb(v), I32_ADD, ...set(i)];
/** do { body; local[counter]++ } while (local[counter] != local[limit]): the caller never passes a zero limit */
export const doWhile = (counter: number, limit: number, body: number[]) =>
  [I32_CONST, 0, ...set(counter), LOOP, 0x40, ...body, ...addConst(counter, 1), ...get(counter), ...get(limit), I32_NE, BR_IF, 0, END];

/** Grows `memory` to hold at least `bytes` (it never shrinks; views of it made before are then detached). */
export function reserveBytes(memory: WebAssembly.Memory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
}
