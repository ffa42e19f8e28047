/**
 * The pieces the packages' hand-assembled WebAssembly kernels are written with (@vqvid/quantize: the k-means
 * search and the motion search's screen; @vqvid/model: training kernels on tfjs-backend-wasm's heap): LEB128 and
 * section encoders, the opcodes they use, and a few instruction sequences on locals. Plain bytes: no build step,
 * works in browsers. Exported from the package as the `wasmBytes` namespace.
 */

/** Unsigned LEB128 bytes of `v` (sizes, counts, indices, memory offsets). */
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
/** Signed LEB128 bytes of `v` (the immediate of i32.const). */
export const sleb = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
/** A vector: the count of `items`, then each item's bytes. */
export const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
/** A section: its id, the byte length of `body`, then `body`. */
export const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
/** A name (of an import or export): its length, then its characters (ASCII). */
export const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
/** The magic number and version every module starts with. */
export const MODULE_HEADER = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];

/** Value type i32. */
export const I32 = 0x7f;
/** Value type f32. */
export const F32 = 0x7d;
/** Value type v128. */
export const V128 = 0x7b;
/** local.get (then the local's index, {@link get}). */
export const GET = 0x20;
/** local.set (then the local's index, {@link set}). */
export const SET = 0x21;
/** i32.const (then a signed LEB128). */
export const I32_CONST = 0x41;
/** i32.add. */
export const I32_ADD = 0x6a;
/** i32.mul. */
export const I32_MUL = 0x6c;
/** i32.ne. */
export const I32_NE = 0x47;
/** i32.eq. */
export const I32_EQ = 0x46;
/** select: the first operand where the i32 condition is not zero, else the second. */
export const SELECT = 0x1b;
/** loop (then a block type; a branch to it starts the loop again). */
export const LOOP = 0x03;
/** br_if (then the label depth). */
export const BR_IF = 0x0d;
/** end of a block, a loop or a function body. */
export const END = 0x0b;
/** A SIMD instruction: the 0xfd prefix, opcode `op` (LEB128), then its immediates. */
export const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
/** v128.load at constant byte offset `off` (alignment hint 16 bytes). */
export const LOAD = (off: number) => simd(0x00, 4, ...uleb(off));
/** f32x4.add. */
export const F32X4_ADD = simd(0xe4);
/** f32x4.sub. */
export const F32X4_SUB = simd(0xe5);
/** f32x4.mul. */
export const F32X4_MUL = simd(0xe6);
/** v128.const of sixteen zero bytes. */
export const ZERO = simd(0x0c, ...new Array(16).fill(0));

/** local.get of local `i`. */
export const get = (i: number) => [GET, ...uleb(i)];
/** local.set of local `i`. */
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
