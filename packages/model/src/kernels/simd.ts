import { wasmBytes } from '@vqvid/core';
import { heapFunctionBytes, STORE } from './heap-module';
import { memberKernels, type MemberKernels } from './member';

const { addConst, BR_IF, doWhile, END, F32X4_ADD, get, I32_ADD, I32_CONST, I32_NE, LOAD, LOOP, set, uleb } = wasmBytes;

/*
 * Hand-assembled WebAssembly SIMD for training kernels that tfjs-backend-wasm lacks (see index.ts), run on the
 * backend's own memory: the module imports the backend's WebAssembly.Memory, so it reads and writes tensors where
 * they lie, at the byte offsets of their heap views. Plain bytes: no build step, works in browsers.
 */

// opcodes of these kernels only (the shared ones are @vqvid/core's wasmBytes)
const I32_LOAD = (off: number) => [0x28, 2, ...uleb(off)];

/**
 * `sum(outp, len, tabp, cells)`: for each of `cells` cells i, the `taps` byte offsets f[0..taps) at tabp + 4·(i·taps)
 * and len bytes (a multiple of 16) of output at outp + i·len: out = ((in(f[taps−1]) + in(f[taps−2])) + …) + in(f[0]),
 * summed in f32x4 lanes (each lane in that order, so the float32 sums of a scalar loop in the same order).
 */
export function tapSumModuleBytes(taps: number): Uint8Array<ArrayBuffer> {
  const P = { outp: 0, len: 1, tabp: 2, cells: 3 };
  const L = { i: 4, ch: 5, t: 6, o: 7, f: 8, a: 8 + taps };
  const load = (s: number) => [...get(L.f + s), ...get(L.ch), I32_ADD, ...LOAD(0)];
  const inner = [...load(taps - 1)];
  for (let s = taps - 2; s >= 0; s--) inner.push(...load(s), ...F32X4_ADD);
  inner.push(...set(L.a), ...get(L.o), ...get(L.ch), I32_ADD, ...get(L.a), ...STORE(0));
  inner.push(...get(L.ch), I32_CONST, 16, I32_ADD, ...set(L.ch), ...get(L.ch), ...get(P.len), I32_NE, BR_IF, 0);
  const cell: number[] = [];
  for (let s = 0; s < taps; s++) cell.push(...get(L.t), ...I32_LOAD(4 * s), ...set(L.f + s));
  cell.push(I32_CONST, 0, ...set(L.ch), LOOP, 0x40, ...inner, END);
  cell.push(...get(L.o), ...get(P.len), I32_ADD, ...set(L.o), ...addConst(L.t, 4 * taps));
  const body = [...get(P.outp), ...set(L.o), ...get(P.tabp), ...set(L.t), ...doWhile(L.i, P.cells, cell)];
  return heapFunctionBytes(4, 4 + taps, 1, body, 'sum');
}

/** `sum(outp, len, tabp, cells)` of {@link tapSumModuleBytes}. */
export type TapSum = (outp: number, len: number, tabp: number, cells: number) => void;

/** The parts of tfjs-backend-wasm's emscripten module these kernels use. */
export interface WasmModuleLike {
  asm?: { memory?: unknown };
  _malloc?: (bytes: number) => number;
  _free?: (ptr: number) => void;
}

/** One backend's SIMD kernels and its scratch: a table of tap offsets and a block of zeros, both in its heap. */
export class HeapSimd {
  private readonly sums = new Map<number, TapSum | null>();
  private scratch = 0;
  private scratchBytes = 0;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly malloc: (bytes: number) => number,
    private readonly free: (ptr: number) => void,
  ) {}

  /**
   * The kernels for a wasm backend's module, or null where they cannot run: no WebAssembly SIMD, a shared
   * (threaded build) or missing memory, or no malloc.
   */
  static of(wasm: WasmModuleLike | undefined): HeapSimd | null {
    if (!wasm || typeof WebAssembly === 'undefined') return null;
    // by tag, not instanceof: the memory may come from another realm (jest's test context, an iframe)
    const memory = wasm.asm?.memory as WebAssembly.Memory | undefined;
    const tag = (v: unknown) => Object.prototype.toString.call(v);
    if (tag(memory) !== '[object WebAssembly.Memory]' || tag(memory!.buffer) !== '[object ArrayBuffer]') return null;
    if (typeof wasm._malloc !== 'function' || typeof wasm._free !== 'function') return null;
    const made = new HeapSimd(memory!, wasm._malloc.bind(wasm), wasm._free.bind(wasm));
    return made.tapSum(1) ? made : null;
  }

  /** The `sum` of {@link tapSumModuleBytes} for `taps`, made on first use (null if it does not compile here). */
  tapSum(taps: number): TapSum | null {
    if (!this.sums.has(taps)) {
      let fn: TapSum | null = null;
      try {
        const bytes = tapSumModuleBytes(taps);
        if (WebAssembly.validate(bytes)) {
          const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: this.memory } });
          fn = inst.exports.sum as TapSum;
        }
      } catch {
        fn = null;
      }
      this.sums.set(taps, fn);
    }
    return this.sums.get(taps)!;
  }

  /**
   * A scratch block of at least `bytes` bytes in the heap, its first `zeros` bytes zero, as its byte offset. Call
   * it before taking views of the heap: it may grow the memory (which detaches them). Valid until the next call.
   */
  reserve(bytes: number, zeros: number): number {
    if (bytes > this.scratchBytes) {
      if (this.scratch) this.free(this.scratch);
      this.scratchBytes = Math.max(bytes, 2 * this.scratchBytes);
      this.scratch = this.malloc(this.scratchBytes);
      if (!this.scratch) throw new Error(`wasm heap: could not allocate ${this.scratchBytes} bytes of kernel scratch`);
    }
    new Uint8Array(this.memory.buffer, this.scratch, zeros).fill(0);
    return this.scratch;
  }

  /** The class-factored softmax's member kernels on this heap ({@link memberKernels}), made on first use. */
  member(): MemberKernels | null {
    if (this.members === undefined) this.members = memberKernels(this.memory);
    return this.members;
  }

  private members: MemberKernels | null | undefined;

  /** The heap as float32 values (a fresh view: take it after every allocation). */
  get heapF32(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }

  /** The heap as Int32 values (a fresh view: take it after every allocation). */
  get heap32(): Int32Array {
    return new Int32Array(this.memory.buffer);
  }
}
