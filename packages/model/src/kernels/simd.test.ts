import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@vqvid/core';
import { HeapSimd, tapSumModuleBytes, type TapSum, type WasmModuleLike } from './simd';
import { registerWasmKernels } from './index';

/** A tap-sum kernel on a memory of its own, with the scalar loop it must equal to the bit. */
function standalone(taps: number): { sum: TapSum; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: 2 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(tapSumModuleBytes(taps)), { env: { memory } });
  return { sum: inst.exports.sum as TapSum, memory };
}

describe('hand-assembled SIMD kernels on the wasm heap', () => {
  it.each([1, 2, 5, 9, 25])('tapSum(%i) adds every cell\'s taps, the last first, in float32, and writes nothing else', (taps) => {
    const { sum, memory } = standalone(taps);
    const rng = new Rng(taps);
    const f32 = new Float32Array(memory.buffer);
    const i32 = new Int32Array(memory.buffer);
    // inputs: 64 runs of 8 floats at [0, 2048) bytes, uneven magnitudes (the order of the adds shows), a zero run too
    const runs = 64;
    const len = 32; // bytes: two vectors
    for (let i = 0; i < (runs * len) / 4; i++) f32[i] = i % 7 === 0 ? rng.normal() * 1e5 : rng.normal();
    f32.fill(0, 0, len / 4);
    f32[1] = -0;
    const cells = 3;
    const tab = 4096;
    const out = 8192;
    const offsets = Int32Array.from({ length: cells * taps }, () => len * rng.int(runs)); // repeats allowed
    i32.set(offsets, tab / 4);
    // a sentinel after the last cell's output
    f32.fill(12345, out / 4, out / 4 + ((cells + 1) * len) / 4);
    sum(out, len, tab, cells);
    for (let c = 0; c < cells; c++) {
      for (let e = 0; e < len / 4; e++) {
        const at = (s: number) => f32[offsets[c * taps + s] / 4 + e];
        let a = at(taps - 1);
        for (let s = taps - 2; s >= 0; s--) a = Math.fround(a + at(s));
        const got = f32[out / 4 + (c * len) / 4 + e];
        if (!Object.is(got, a)) throw new Error(`taps ${taps}, cell ${c}, value ${e}: ${got} ≠ ${a}`);
      }
    }
    for (let e = 0; e < len / 4; e++) expect(f32[out / 4 + (cells * len) / 4 + e]).toBe(12345);
  });

  it('runs on tfjs-backend-wasm\'s own memory in Node, and not where the memory is missing or shared', async () => {
    registerWasmKernels();
    await tf.setBackend('wasm');
    const wasm = (tf.backend() as unknown as { wasm: WasmModuleLike }).wasm;
    const simd = HeapSimd.of(wasm);
    expect(simd).not.toBeNull();
    // a scratch block in the backend's heap, zeroed, that a tensor allocated after it does not overlap
    const at = simd!.reserve(256, 64);
    expect(Array.from(new Uint8Array((wasm.asm!.memory as WebAssembly.Memory).buffer, at, 64)).every((b) => b === 0)).toBe(true);
    const t = tf.ones([1000]);
    const view = (tf.backend() as unknown as { typedArrayFromHeap(i: unknown): Float32Array }).typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
    expect(view.byteOffset + view.byteLength <= at || view.byteOffset >= at + 256).toBe(true);
    t.dispose();
    expect(HeapSimd.of(undefined)).toBeNull();
    expect(HeapSimd.of({ ...wasm, asm: {} })).toBeNull();
    expect(HeapSimd.of({ asm: { memory: new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }) }, _malloc: () => 8, _free: () => undefined })).toBeNull();
  });
});
