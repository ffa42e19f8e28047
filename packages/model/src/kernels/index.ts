/**
 * Kernels that tfjs-backend-wasm 4.22 lacks (or runs slowly) but training needs, written in TypeScript over
 * the backend's typed arrays; one slow cpu kernel is replaced as well.
 *
 * Why: `tf.grad` through `tf.gather` (the embedding lookup, the target pick of the softmax) calls
 * UnsortedSegmentSum, which the wasm backend does not have, so training would throw there. The cpu backend
 * has one, but it loops over segments with tensor ops, O(segments · rows · width): with K = 10,000 codes one
 * gradient of a [1000, 128] gather takes minutes, so {@link registerCpuKernels} replaces it with the same
 * O(rows · width) loop used here for wasm.
 *
 * Setup in Node (jest included, testEnvironment 'node'): `import '@tensorflow/tfjs-backend-wasm'` then
 * `await tf.setBackend('wasm')` finds its `.wasm` binary next to `dist/tf-backend-wasm.node.js` by itself;
 * no `setWasmPaths` is needed. Call {@link registerWasmKernels} once before the first gradient
 * (before or after `setBackend`: registration is per backend name, not per instance).
 *
 * Gradients: tfjs-core's Node bundle registers no gradient functions (and no chained ops such as
 * `t.mul()`: use `tf.mul(t, u)`). Its ESM `register_all_gradients` cannot be loaded by Node, but the Node
 * bundle of tfjs-layers registers them all into the shared global registry, hence the import below:
 * importing this module (or `../output`) makes `tf.grad` work.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { backend_util } from '@tensorflow/tfjs-core';
import type { MemberKernels } from './member';
import { HeapSimd, type TapSum, type WasmModuleLike } from './simd';

/** How a kernel reads its inputs and hands back an output on one backend (wasm and cpu differ only here). */
interface KernelIO {
  read(t: tf.TensorInfo): backend_util.BackendValues;
  /** A float32 or int32 tensor's values without a copy where the backend allows (wasm: valid until the next allocation). */
  view(t: tf.TensorInfo): backend_util.TypedArray;
  emit(shape: number[], dtype: tf.DataType, values: backend_util.TypedArray): tf.TensorInfo;
  /**
   * A float32 output to fill in place (wasm: a view of its heap memory, which a later allocation may detach: read
   * inputs after this), as [its TensorInfo, its values].
   */
  output(shape: number[]): [tf.TensorInfo, Float32Array];
  /** wasm: SIMD kernels on the backend's heap (null where they cannot run there; see simd.ts). */
  simd?: HeapSimd | null;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Compute = (args: KernelArgs, io: KernelIO) => tf.TensorInfo | tf.TensorInfo[];

/** tfjs-backend-wasm's BackendWasm and tfjs-backend-cpu's MathBackendCPU, typed structurally (no hard import). */
interface WasmBackendLike {
  wasm?: WasmModuleLike;
  readSync(dataId: object): backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: backend_util.BackendValues): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): backend_util.TypedArray;
}
interface CpuBackendLike {
  readSync(dataId: object): backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: backend_util.BackendValues): tf.TensorInfo;
}

/** Each wasm backend instance's SIMD kernels, made on first use. */
const simdOf = new WeakMap<object, HeapSimd | null>();

/** What the class-factored softmax's fused member products need of a wasm backend (see output/member.ts). */
export interface MemberHeap {
  kernels: MemberKernels;
  simd: HeapSimd;
  /** A new float32 tensor's storage in the heap, uninitialised. */
  output(shape: number[]): tf.TensorInfo;
  /** Byte offset of a float32 tensor's values in the heap. */
  offset(t: tf.TensorInfo): number;
}

/** The member kernels on the current backend's heap; null off the wasm backend or where they cannot run. */
export function memberHeap(): MemberHeap | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as WasmBackendLike;
  const simd = heapSimdOf(b);
  const kernels = simd?.member();
  if (!simd || !kernels) return null;
  return {
    kernels,
    simd,
    output: (shape) => b.makeOutput(shape, 'float32'),
    offset: (t) => (b.typedArrayFromHeap(t) as Float32Array).byteOffset,
  };
}

/** The SIMD kernels on wasm backend `b`'s heap (null where they cannot run there). */
function heapSimdOf(b: WasmBackendLike): HeapSimd | null {
  if (!simdOf.has(b)) simdOf.set(b, HeapSimd.of(b.wasm));
  return simdOf.get(b)!;
}

const IO_OF: Record<'wasm' | 'cpu', (backend: unknown) => KernelIO> = {
  wasm: (backend) => {
    const b = backend as WasmBackendLike;
    return {
      simd: heapSimdOf(b),
      read: (t) => b.readSync(t.dataId),
      // a view of the heap, not readSync's copy: valid until the next allocation
      view: (t) => b.typedArrayFromHeap(t),
      emit: (shape, dtype, values) => b.makeOutput(shape, dtype, undefined, values),
      output: (shape) => {
        const info = b.makeOutput(shape, 'float32');
        return [info, b.typedArrayFromHeap(info) as Float32Array];
      },
    };
  },
  cpu: (backend) => {
    const b = backend as CpuBackendLike;
    return {
      read: (t) => b.readSync(t.dataId),
      view: (t) => b.readSync(t.dataId) as backend_util.TypedArray,
      emit: (shape, dtype, values) => b.makeTensorInfo(shape, dtype, values),
      output: (shape) => {
        const values = new Float32Array(tf.util.sizeFromShape(shape));
        return [b.makeTensorInfo(shape, 'float32', values), values];
      },
    };
  },
};

function numericValues(io: KernelIO, t: tf.TensorInfo, arg: string): backend_util.TypedArray {
  const v = io.read(t);
  if (!ArrayBuffer.isView(v)) throw new Error(`${arg}: expected a numeric tensor, got dtype ${t.dtype}`);
  return v as backend_util.TypedArray;
}

/**
 * Copies src[from, from + len) to dst[to, ...): element by element for short runs, where a subarray view per
 * run costs more than the copy (a split of [16384, 3] gate logits into columns made 49k views: 25 ms).
 */
function copyRun(src: backend_util.TypedArray, from: number, dst: backend_util.TypedArray, to: number, len: number): void {
  if (len < 64) for (let j = 0; j < len; j++) dst[to + j] = src[from + j];
  else dst.set(src.subarray(from, from + len), to);
}

/**
 * {@link copyRun} from `src` to `dst`, as a memmove within the heap (copyWithin on one view of the whole buffer)
 * when both are views of the same buffer (wasm): no subarray object per run, so the many row copies of a gather or
 * a split leave nothing for the garbage collector.
 */
function runCopier(src: backend_util.TypedArray, dst: backend_util.TypedArray): (from: number, to: number, len: number) => void {
  const size = src.BYTES_PER_ELEMENT;
  if (src.buffer !== dst.buffer || dst.BYTES_PER_ELEMENT !== size || src.byteOffset % size !== 0 || dst.byteOffset % size !== 0) {
    return (from, to, len) => copyRun(src, from, dst, to, len);
  }
  const heap = new (src.constructor as new (b: ArrayBufferLike) => backend_util.TypedArray)(src.buffer);
  const s0 = src.byteOffset / size;
  const d0 = dst.byteOffset / size;
  return (from, to, len) => {
    if (len < 16) for (let j = 0; j < len; j++) dst[to + j] = src[from + j];
    else heap.copyWithin(d0 + to, s0 + from, s0 + from + len);
  };
}

/**
 * TF semantics: out[segmentIds[i...], ...] += x[i..., ...]; ids outside [0, numSegments) are dropped.
 * segmentIds' shape is a prefix of x's shape.
 */
function unsortedSegmentSum(args: KernelArgs, io: KernelIO): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const segmentIds = args.inputs.segmentIds as tf.TensorInfo;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const inner = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
  const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  if (segmentIds.dtype === 'string') throw new Error(`segmentIds: expected a numeric tensor, got dtype string`);
  // float32 (every gather gradient): summed straight into the output and from the inputs where they lie (on wasm,
  // the heap; a read would copy x out and an emit copy the sums back in); int32 through a JS array
  const [info, ov] = x.dtype === 'float32' ? io.output(shape) : [null, new Int32Array(numSegments * inner)];
  ov.fill(0);
  // views taken after the allocation above, which may grow (and so detach) the heap
  const xv = info ? io.view(x) : numericValues(io, x, 'x');
  const ids = io.view(segmentIds);
  for (let i = 0; i < rows; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) ov[dst + j] += xv[src + j];
  }
  return info ?? io.emit(shape, x.dtype, ov);
}

/** dW[r, c, i, o] = Σ_b,y x[b, y·stride + r − pad, ·, i] · dy[b, y, ·, o] (port of the cpu kernel, flat indexing). */
function conv2DBackpropFilter(args: KernelArgs, io: KernelIO): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const dy = args.inputs.dy as tf.TensorInfo;
  const a = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false,
    backend_util.convertConv2DDataFormat(a.dataFormat),
  );
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, inChannels: ci, outChannels: co } = info;
  const { inHeight: ih, inWidth: iw, outHeight: oh, outWidth: ow, batchSize } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Element strides of (batch, row, col, channel) for either layout.
  const last = info.dataFormat === 'channelsLast';
  const xs = last ? [ih * iw * ci, iw * ci, ci, 1] : [ci * ih * iw, iw, 1, ih * iw];
  const ys = last ? [oh * ow * co, ow * co, co, 1] : [co * oh * ow, ow, 1, oh * ow];
  const xv = numericValues(io, x, 'x');
  const dyv = numericValues(io, dy, 'dy');
  const dw = new Float32Array(fh * fw * ci * co);
  for (let wr = 0; wr < fh; wr++) {
    const yr0 = Math.max(0, Math.ceil((top - wr) / sh));
    const yr1 = Math.min(oh, (ih + top - wr) / sh);
    for (let wc = 0; wc < fw; wc++) {
      const yc0 = Math.max(0, Math.ceil((left - wc) / sw));
      const yc1 = Math.min(ow, (iw + left - wc) / sw);
      for (let d1 = 0; d1 < ci; d1++) {
        for (let d2 = 0; d2 < co; d2++) {
          let acc = 0;
          for (let b = 0; b < batchSize; b++) {
            for (let yr = yr0; yr < yr1; yr++) {
              const xr = wr + yr * sh - top;
              for (let yc = yc0; yc < yc1; yc++) {
                const xc = wc + yc * sw - left;
                acc += xv[b * xs[0] + xr * xs[1] + xc * xs[2] + d1 * xs[3]] * dyv[b * ys[0] + yr * ys[1] + yc * ys[2] + d2 * ys[3]];
              }
            }
          }
          dw[((wr * fw + wc) * ci + d1) * co + d2] = acc;
        }
      }
    }
  }
  return io.emit([fh, fw, ci, co], 'float32', dw);
}

/**
 * Splits x along an axis reading x once, straight from and into the heap: wasm's own SplitV slices part by part
 * and each slice copies the whole input out of the heap, so splitting a [128, 10000] matrix into 100 parts moved
 * 500 MB (and a split through JS arrays still copies everything three times).
 */
function wasmSplitV(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x as tf.TensorInfo;
  const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(x, numOrSizeSplits, ax);
  const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
  const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
  const rowLength = x.shape[ax] * inner;
  const outs = sizes.map((size) => {
    const shape = x.shape.slice();
    shape[ax] = size;
    return backend.makeOutput(shape, x.dtype);
  });
  // views taken after every allocation above, which may grow (and so detach) the heap
  const xv = backend.typedArrayFromHeap(x);
  let offset = 0;
  outs.forEach((out, p) => {
    const run = sizes[p] * inner;
    if (run > 0) {
      const copy = runCopier(xv, backend.typedArrayFromHeap(out));
      for (let o = 0; o < outer; o++) copy(o * rowLength + offset * inner, o * run, run);
    }
    offset += sizes[p];
  });
  return outs;
}

/**
 * tf.unstack on wasm by one pass over the heap: wasm's own Unpack slices part by part, and each slice copies the
 * whole input out of the heap (readSync), so unstacking T steps moved T times the input (the recurrence's T
 * input drives: about 9 ms of a K = 10,000 training step).
 */
function wasmUnpack(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.value as tf.TensorInfo;
  const ax = tf.util.parseAxisParam((args.attrs as unknown as tf.UnpackAttrs).axis, x.shape)[0];
  const count = x.shape[ax];
  const shape = x.shape.filter((_, d) => d !== ax);
  const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
  const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
  const outs = Array.from({ length: count }, () => backend.makeOutput(shape, x.dtype));
  if (inner === 0 || outer === 0) return outs;
  // views taken after every allocation above, which may grow (and so detach) the heap
  const xv = backend.typedArrayFromHeap(x);
  outs.forEach((out, p) => {
    const copy = runCopier(xv, backend.typedArrayFromHeap(out));
    for (let o = 0; o < outer; o++) copy((o * count + p) * inner, o * inner, inner);
  });
  return outs;
}

/**
 * tf.slice on wasm through views of the heap: wasm's own Slice copies the whole input out first (readSync),
 * which makes every slice (and every concat gradient, which slices) cost the size of its input.
 */
function wasmSlice(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x as tf.TensorInfo;
  const attrs = args.attrs as unknown as tf.SliceAttrs;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
  const out = backend.makeOutput(size, x.dtype);
  // Views taken after the allocation above, which may grow (and so detach) the heap.
  const copy = runCopier(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out));
  const rank = x.shape.length;
  const strides = tf.util.computeStrides(x.shape);
  const run = rank === 0 ? 1 : size[rank - 1];
  const rows = run === 0 ? 0 : tf.util.sizeFromShape(size) / run;
  const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  for (let r = 0; r < rows; r++) {
    let from = rank === 0 ? 0 : begin[rank - 1];
    for (let d = 0; d < rank - 1; d++) from += (begin[d] + index[d]) * strides[d];
    copy(from, r * run, run);
    for (let d = rank - 2; d >= 0 && ++index[d] === size[d]; d--) index[d] = 0;
  }
  return out;
}

/**
 * tf.gather on wasm by slices of the heap: row r of the output is one contiguous run of x (`sliceSize` values)
 * copied within the heap ({@link runCopier}); wasm's own GatherV2 walks every element through stride arithmetic, about 80 ns per
 * value (a [4096, 64] row gather took 20 ms, twenty times an add of the same size). Same checks and shapes as
 * tfjs (indices in [0, dim), batchDims via `collectGatherOpShapeInfo`).
 */
function wasmGather(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x as tf.TensorInfo;
  const indices = args.inputs.indices as tf.TensorInfo;
  const { axis, batchDims } = args.attrs as unknown as tf.GatherV2Attrs;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  // checked before the output is allocated: that may grow the heap, which detaches this view (its length is then 0)
  const ids = backend.typedArrayFromHeap(indices);
  const count = ids.length;
  const dim = x.shape[ax];
  for (let i = 0; i < count; i++) {
    const index = ids[i];
    if (!(index >= 0 && index <= dim - 1)) throw new Error(`GatherV2: the index value ${index} is not in [0, ${dim - 1}]`);
  }
  const info = backend_util.segment_util.collectGatherOpShapeInfo(x as tf.Tensor, indices as tf.Tensor, ax, batchDims);
  const out = backend.makeOutput(info.outputShape, x.dtype);
  if (tf.util.sizeFromShape(x.shape) === 0 || count === 0) return out;
  // views taken after the allocation above, which may grow (and so detach) the heap
  const copy = runCopier(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out));
  const iv = backend.typedArrayFromHeap(indices);
  const { batchSize, outerSize, dimSize, sliceSize } = info;
  const perBatch = iv.length / batchSize;
  let dst = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let o = 0; o < outerSize; o++) {
      const base = (b * outerSize + o) * dimSize;
      for (let j = 0; j < perBatch; j++) {
        copy((base + iv[b * perBatch + j]) * sliceSize, dst, sliceSize);
        dst += sliceSize;
      }
    }
  }
  return out;
}

/**
 * tf.clone on wasm without a copy: the output shares the input's data (one more reference), as the cpu backend's
 * Identity does. The engine clones every tensor a gradient function saves (`saveTensorsForBackwardMode`), and
 * wasm's own Identity copies each one in the heap: the logits of a full softmax step once more, every class's
 * activations of a factored one. Tensors are immutable (a Variable's `assign` takes the new value's data id),
 * so sharing gives the same values.
 */
function wasmIdentity(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  (args.backend as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Runs `compute` for numeric tensors and the original kernel for strings (the dtype of input `input`). */
function numericOnly(compute: Compute, input = 'x'): (original: tf.KernelConfig) => tf.KernelFunc {
  return (original) => (args) =>
    (args.inputs[input] as tf.TensorInfo).dtype === 'string' ? original.kernelFunc(args) : compute(args, IO_OF.wasm(args.backend));
}

/** The same product with transposed operands materialised first (see {@link registerWasmKernels}). */
function wasmMatMulWithoutTransposeFlags(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const attrs = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (!attrs.transposeA && !attrs.transposeB) return original.kernelFunc(args);
    const backend = args.backend as { disposeData(dataId: object): boolean };
    // looked up per call, not at wrap time: Transpose is wrapped (wasmTranspose) after BatchMatMul
    const transpose = tf.getKernel(tf.Transpose, 'wasm')!.kernelFunc;
    const swapped = (t: tf.TensorInfo): tf.TensorInfo => {
      const perm = t.shape.map((_, i) => i);
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm.length - 1, perm.length - 2];
      return transpose({ inputs: { x: t }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
    };
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const plain = { ...attrs, transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap;
    // a matrix, or a batch of one (the rank-3 form the backend itself works in)
    const single = (t: tf.TensorInfo): boolean => t.shape.length === 2 || (t.shape.length === 3 && t.shape[0] === 1);
    if (attrs.transposeA && !attrs.transposeB && single(a) && single(b)) {
      // XNNPACK packs the right operand afresh for every new tensor, reading it a few columns at a time down all its
      // rows: about 12 ns a value for [4096, 1024], against some 3 for the blocked transpose (wasmTranspose). So of
      // Aᵀ·B and (Bᵀ·A)ᵀ this takes the one that packs the smaller operand: the logits' weight gradient [n, 64]ᵀ ·
      // [n, K] transposes the [n, K] gradient and packs [n, 64] (71 → 30 ms at n = 4096, K = 1024), a convolution's
      // [n, 9·64]ᵀ · [n, 64] transposes [n, 9·64] and packs [n, 64]. Each entry is the same sum over n in the same
      // order either way, so the result is the same to the bit.
      const [n, p] = a.shape.slice(-2);
      const q = b.shape[b.shape.length - 1];
      if (n * q > n * p) {
        const bt = swapped(b);
        let ct: tf.TensorInfo;
        try {
          ct = original.kernelFunc({ inputs: { a: bt, b: a }, backend: args.backend, attrs: plain }) as tf.TensorInfo;
        } finally {
          backend.disposeData(bt.dataId);
        }
        try {
          return swapped(ct);
        } finally {
          backend.disposeData(ct.dataId);
        }
      }
    }
    const a2 = attrs.transposeA ? swapped(a) : a;
    const b2 = attrs.transposeB ? swapped(b) : b;
    try {
      return original.kernelFunc({ inputs: { a: a2, b: b2 }, backend: args.backend, attrs: plain });
    } finally {
      if (a2 !== a) backend.disposeData(a2.dataId);
      if (b2 !== b) backend.disposeData(b2.dataId);
    }
  };
}

/**
 * tf.transpose on wasm of a 4-byte numeric tensor (float32, int32) whose perm swaps its last two axes and keeps the
 * others (a matrix or a batch of them), as a blocked copy over the heap: 64 x 64 tiles, eight output rows at a time.
 * wasm's own walks the input in order and scatters every value a row apart in the output: 50 ms for [4096, 1024],
 * against 6–8 here. Other perms and dtypes go to the original kernel. The same values, moved.
 */
function wasmTranspose(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { perm } = args.attrs as unknown as tf.TransposeAttrs;
    const rank = x.shape.length;
    const swapsLastTwo = rank >= 2 && perm.length === rank && perm.every((d, i) => d === (i < rank - 2 ? i : i === rank - 2 ? rank - 1 : rank - 2));
    if (!swapsLastTwo || (x.dtype !== 'float32' && x.dtype !== 'int32')) return original.kernelFunc(args);
    const backend = args.backend as WasmBackendLike;
    const rows = x.shape[rank - 2];
    const cols = x.shape[rank - 1];
    const out = backend.makeOutput([...x.shape.slice(0, rank - 2), cols, rows], x.dtype);
    // views taken after the allocation above, which may grow (and so detach) the heap
    const xv = backend.typedArrayFromHeap(x);
    const ov = backend.typedArrayFromHeap(out);
    const size = rows * cols;
    for (let at = 0; at < xv.length; at += size) transposeBlocked(xv, at, rows, cols, ov);
    return out;
  };
}

/** out[at + j·rows + i] = x[at + i·cols + j] for the rows x cols matrix at `at`, tile by tile (see wasmTranspose). */
export function transposeBlocked(x: backend_util.TypedArray, at: number, rows: number, cols: number, out: backend_util.TypedArray): void {
  const tile = 64;
  for (let i0 = 0; i0 < rows; i0 += tile) {
    const i1 = Math.min(rows, i0 + tile);
    for (let j0 = 0; j0 < cols; j0 += tile) {
      const j1 = Math.min(cols, j0 + tile);
      let j = j0;
      // eight output rows at a time: each input row's eight values in one go
      for (; j + 8 <= j1; j += 8) {
        const o = at + j * rows;
        for (let i = i0, xi = at + i0 * cols + j; i < i1; i++, xi += cols) {
          out[o + i] = x[xi];
          out[o + rows + i] = x[xi + 1];
          out[o + 2 * rows + i] = x[xi + 2];
          out[o + 3 * rows + i] = x[xi + 3];
          out[o + 4 * rows + i] = x[xi + 4];
          out[o + 5 * rows + i] = x[xi + 5];
          out[o + 6 * rows + i] = x[xi + 6];
          out[o + 7 * rows + i] = x[xi + 7];
        }
      }
      for (; j < j1; j++) {
        const o = at + j * rows;
        for (let i = i0, xi = at + i0 * cols + j; i < i1; i++, xi += cols) out[o + i] = x[xi];
      }
    }
  }
}

/**
 * tf.sum over leading axes of a float32 tensor on wasm (a bias gradient: [n, K] → [K]; a conv bias: [B, R, C, ch]
 * → [ch]) as column sums straight over the heap. wasm's own Sum reduces innermost axes only, so it first
 * transposes the whole input (the [4096, 1024] logits gradient: 47 ms, against 5 ms here). Each output adds its
 * column row by row in float32 (Math.fround after every add), the order of wasm's loop over the transposed
 * rows: the same bits. Other axes, dtypes and full reductions go to the original kernel.
 */
function wasmSumLeading(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = x.dtype === 'float32' ? tf.util.parseAxisParam(axis, x.shape).slice().sort((a, b) => a - b) : [];
    const lead = axes.length;
    if (lead === 0 || lead >= rank || !axes.every((a, i) => a === i)) return original.kernelFunc(args);
    const backend = args.backend as WasmBackendLike;
    const rows = tf.util.sizeFromShape(x.shape.slice(0, lead));
    const cols = tf.util.sizeFromShape(x.shape.slice(lead));
    const simd = cols % 4 === 0 && rows >= 4 ? heapSimdOf(backend) : null;
    const sum5 = simd?.tapSum(5);
    const sum2 = simd?.tapSum(2);
    // the scratch first: it and the output may grow the heap, so views are taken after both
    const table = simd && sum5 && sum2 ? simd.reserve(4 * 5, 0) : 0;
    const out = backend.makeOutput([...(keepDims ? new Array<number>(lead).fill(1) : []), ...x.shape.slice(lead)], 'float32');
    // views taken after the allocation above, which may grow (and so detach) the heap
    const xv = backend.typedArrayFromHeap(x) as Float32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    if (simd && sum5 && sum2) columnSumsSimd(simd, sum5, sum2, table, xv, rows, cols, ov);
    else columnSums(xv, rows, cols, ov);
    return out;
  };
}

/** out[j] = Σ_i x[i·cols + j] for i = 0, 1, … in turn, each add rounded to float32 (four rows per pass over out). */
export function columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const fr = Math.fround;
  out.fill(0, 0, cols);
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) {
      let a = out[j];
      a = fr(a + x[o + j]);
      a = fr(a + x[o + cols + j]);
      a = fr(a + x[o + 2 * cols + j]);
      out[j] = a + x[o + 3 * cols + j];
    }
  }
  for (; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) out[j] += x[o + j];
  }
}

/**
 * {@link columnSums} with the SIMD tap sums of simd.ts (cols a multiple of 4, x and out views of the heap): out
 * starts at zeros, and each block of four rows is out = (((out + x[i]) + x[i+1]) + x[i+2]) + x[i+3], the rows left
 * over one at a time. The same adds in the same order, four columns a lane each: the same bits.
 */
function columnSumsSimd(simd: HeapSimd, sum5: TapSum, sum2: TapSum, table: number, x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  out.fill(0, 0, cols);
  const t32 = simd.heap32;
  const at = table >> 2;
  const o = out.byteOffset;
  const len = 4 * cols;
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    // tap s is added after tap s + 1: out first, then rows i … i + 3
    const row = x.byteOffset + i * len;
    t32[at + 4] = o;
    t32[at + 3] = row;
    t32[at + 2] = row + len;
    t32[at + 1] = row + 2 * len;
    t32[at] = row + 3 * len;
    sum5(o, len, table, 1);
  }
  for (; i < rows; i++) {
    t32[at + 1] = o;
    t32[at] = x.byteOffset + i * len;
    sum2(o, len, table, 1);
  }
}

/** Kernel name of {@link im2colKernel}: [B, R, C, cin] → [B, R, C, k²·cin], each cell's zero-padded k x k neighbourhood. */
export const IM2COL = 'VqvidIm2Col';
/** Kernel name of {@link col2imKernel}: the gradient of {@link IM2COL}. */
export const COL2IM = 'VqvidCol2Im';

/**
 * The output cells of a windowed convolution: rows [top, top + rows) and columns [left, left + cols) of the input's
 * grid (attribute `window` of the Im2Col, Im2ColT and Col2Im kernels; absent: every cell, the 'same' convolution).
 */
export type ConvWindow = [top: number, left: number, rows: number, cols: number];

/**
 * The input x ([B, R, C, cin]), kernel size k and output window of {@link im2colKernel} and {@link im2colTKernel},
 * with p = (k − 1) / 2.
 */
function im2colInput(args: KernelArgs): { x: tf.TensorInfo; k: number; b: number; rows: number; cols: number; cin: number; p: number; win: ConvWindow } {
  const x = args.inputs.x as tf.TensorInfo;
  const { kernel: k, window } = args.attrs as { kernel: number; window?: ConvWindow };
  const [b, rows, cols, cin] = x.shape;
  return { x, k, b, rows, cols, cin, p: (k - 1) / 2, win: window ?? [0, 0, rows, cols] };
}

/**
 * The rows of a 'same' k x k convolution as a matrix, in one pass: out[b, r, c, (dy·k + dx)·cin + ch] =
 * x[b, r + dy − p, c + dx − p, ch] (p = (k − 1) / 2; 0 outside the grid). The values of pad, k² slices and a
 * concat along the channels (src/im2col.ts), without their k² + 2 tensors.
 */
function im2colKernel(args: KernelArgs, io: KernelIO): tf.TensorInfo {
  const { x, k, b, rows, cols, cin, p, win } = im2colInput(args);
  const width = k * k * cin;
  const [top, left, wr, wc] = win;
  const [info, out] = io.output([b, wr, wc, width]);
  // views taken after the allocation above, which may grow (and so detach) the heap
  const copy = runCopier(io.view(x), out);
  out.fill(0);
  for (let n = 0; n < b; n++) {
    for (let wy = 0; wy < wr; wy++) {
      const r = wy + top;
      for (let wx = 0; wx < wc; wx++) {
        const c = wx + left;
        const o = ((n * wr + wy) * wc + wx) * width;
        // the dx that stay inside the grid read consecutive cells of x: one run per dy
        const dx0 = Math.max(0, p - c);
        const dx1 = Math.min(k - 1, cols - 1 - c + p);
        if (dx1 < dx0) continue;
        const len = (dx1 - dx0 + 1) * cin;
        for (let dy = 0; dy < k; dy++) {
          const rr = r + dy - p;
          if (rr < 0 || rr >= rows) continue;
          const from = ((n * rows + rr) * cols + c + dx0 - p) * cin;
          const to = o + (dy * k + dx0) * cin;
          copy(from, to, len);
        }
      }
    }
  }
  return info;
}

/** Kernel name of {@link im2colTKernel}: [B, R, C, cin] → [k²·cin, B·R·C], the transpose of {@link IM2COL}'s matrix. */
export const IM2COLT = 'VqvidIm2ColT';

/**
 * The im2col matrix transposed, [k²·cin, B·R·C], written straight from x: out[(dy·k + dx)·cin + ch, cell] = x at
 * (r + dy − p, c + dx − p), channel ch, 0 outside the grid. The weight gradient of a convolution is this times dy
 * ([k²·cin, n] · [n, cout]): a plain product, where im2col's matrix would be transposed first (2.4 M values a layer
 * at n = 4096, cin = 64, scattered a row apart) or packed by XNNPACK as the product's right operand (slower still).
 * Reads x (small: n·cin) eight channels at a time and writes eight output rows in order.
 */
function im2colTKernel(args: KernelArgs, io: KernelIO): tf.TensorInfo {
  const { x, k, b, rows, cols, cin, p, win } = im2colInput(args);
  const [top, left, wr, wc] = win;
  const n = b * wr * wc;
  const [info, out] = io.output([k * k * cin, n]);
  // views taken after the allocation above, which may grow (and so detach) the heap
  const xv = io.view(x) as Float32Array;
  for (let s = 0; s < k * k; s++) {
    const dy = Math.floor(s / k) - p;
    const dx = (s % k) - p;
    for (let ch = 0; ch < cin; ch += 8) {
      const lanes = Math.min(8, cin - ch);
      const o0 = (s * cin + ch) * n;
      for (let img = 0, cell = 0; img < b; img++) {
        for (let wy = 0; wy < wr; wy++) {
          const rr = wy + top + dy;
          if (rr < 0 || rr >= rows) {
            for (let l = 0; l < lanes; l++) out.fill(0, o0 + l * n + cell, o0 + l * n + cell + wc);
            cell += wc;
            continue;
          }
          const rowBase = (img * rows + rr) * cols;
          for (let wx = 0; wx < wc; wx++, cell++) {
            const cc = wx + left + dx;
            const inside = cc >= 0 && cc < cols;
            const at = (rowBase + cc) * cin + ch;
            if (lanes === 8 && inside) {
              out[o0 + cell] = xv[at];
              out[o0 + n + cell] = xv[at + 1];
              out[o0 + 2 * n + cell] = xv[at + 2];
              out[o0 + 3 * n + cell] = xv[at + 3];
              out[o0 + 4 * n + cell] = xv[at + 4];
              out[o0 + 5 * n + cell] = xv[at + 5];
              out[o0 + 6 * n + cell] = xv[at + 6];
              out[o0 + 7 * n + cell] = xv[at + 7];
            } else {
              for (let l = 0; l < lanes; l++) out[o0 + l * n + cell] = inside ? xv[at + l] : 0;
            }
          }
        }
      }
    }
  }
  return info;
}

/**
 * The gradient of {@link im2colKernel}: dx[b, r, c, ch] sums the k² entries of `dcols` ([B·R·C, k²·cin]) that
 * copied x[b, r, c, ch], in the order and float32 rounding of the im2col path's gradient: tfjs adds the k² padded
 * slice gradients of the padded input as the backward pass meets them, the last slice first
 * (((g[k²−1] + g[k²−2]) + …) + g[0]), a slice that does not reach the cell adding +0. So the bits are those of
 * tf.grad through pad, slices and concat, without their split, k² pads and k² − 1 adds.
 */
function col2imKernel(args: KernelArgs, io: KernelIO): tf.TensorInfo {
  const g = args.inputs.dcols as tf.TensorInfo;
  const { kernel: k, shape, window } = args.attrs as unknown as { kernel: number; shape: [number, number, number, number]; window?: ConvWindow };
  const [b, rows, cols, cin] = shape;
  // dcols has a row per output cell of the window (every cell without one)
  const win = window ?? [0, 0, rows, cols];
  const taps = k * k;
  const sum = io.simd && cin % 4 === 0 ? io.simd.tapSum(taps) : null;
  if (sum) return col2imSimd(io, io.simd!, sum, g, shape, k, win);
  const [info, out] = io.output(shape);
  const gv = io.view(g) as Float32Array;
  const fr = Math.fround;
  const from = new Int32Array(taps); // per tap s, where the cell's run starts in dcols (−1: the slice misses it)
  for (let n = 0; n < b; n++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const o = ((n * rows + r) * cols + c) * cin;
        const all = col2imRuns(n, r, c, k, cin, win, from, 0);
        for (let ch = 0; ch < cin; ch++) {
          let a = from[taps - 1] >= 0 ? gv[from[taps - 1] + ch] : 0;
          if (all) for (let s = taps - 2; s >= 0; s--) a = fr(a + gv[from[s] + ch]);
          else for (let s = taps - 2; s >= 0; s--) a = fr(a + (from[s] >= 0 ? gv[from[s] + ch] : 0)); // −0 + 0 is +0, as in the sum of padded tensors
          out[o + ch] = a;
        }
      }
    }
  }
  return info;
}

/**
 * Where col2im's k² slices read x[n, r, c] (window `win` of the output cells, cin channels): from[at + s] = the start
 * of slice s's run of cin values in dcols, −1 where the slice's window cell would lie outside the window (it never
 * read this cell). Returns whether every slice reaches the cell.
 */
function col2imRuns(n: number, r: number, c: number, k: number, cin: number, win: ConvWindow, from: Int32Array, at: number): boolean {
  const [top, left, wr, wc] = win;
  const p = (k - 1) / 2;
  const width = k * k * cin;
  let all = true;
  for (let s = 0; s < k * k; s++) {
    // slice s read x[r, c] at its cell (r + p − dy, c + p − dx), row (r + p − dy − top, …) of the window
    const rr = r + p - Math.floor(s / k) - top;
    const cc = c + p - (s % k) - left;
    const inside = rr >= 0 && rr < wr && cc >= 0 && cc < wc;
    from[at + s] = inside ? ((n * wr + rr) * wc + cc) * width + s * cin : -1;
    all &&= inside;
  }
  return all;
}

/**
 * {@link col2imKernel} on wasm with cin a multiple of 4: per row of the grid, the byte offsets of each cell's k² runs
 * of dcols (a block of zeros for a slice that misses the cell) go into a table in the heap, and the SIMD `sum` of
 * simd.ts adds them in the scalar loop's order, four channels a lane each: the same float32 sums, bit for bit.
 */
function col2imSimd(io: KernelIO, simd: HeapSimd, sum: TapSum, g: tf.TensorInfo, shape: [number, number, number, number], k: number, win: ConvWindow): tf.TensorInfo {
  const [b, rows, cols, cin] = shape;
  const taps = k * k;
  const len = 4 * cin;
  // allocations first (either may grow the heap and detach views), then the views
  const zeros = simd.reserve(len + 4 * taps * cols, len);
  const [info, out] = io.output(shape);
  const gBase = (io.view(g) as Float32Array).byteOffset;
  const tab = zeros + len;
  const t32 = simd.heap32;
  const tab32 = tab >> 2;
  for (let n = 0; n < b; n++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0, at = tab32; c < cols; c++, at += taps) {
        // the runs' element offsets, then as byte offsets (the block of zeros where a slice misses the cell)
        col2imRuns(n, r, c, k, cin, win, t32, at);
        for (let s = at; s < at + taps; s++) t32[s] = t32[s] >= 0 ? gBase + 4 * t32[s] : zeros;
      }
      sum(out.byteOffset + len * (n * rows + r) * cols, len, tab, cols);
    }
  }
  return info;
}

const WASM_KERNELS: ReadonlyArray<{ kernelName: string; compute: Compute }> = [
  { kernelName: tf.UnsortedSegmentSum, compute: unsortedSegmentSum },
  { kernelName: tf.Conv2DBackpropFilter, compute: conv2DBackpropFilter },
  { kernelName: IM2COL, compute: im2colKernel },
  { kernelName: COL2IM, compute: col2imKernel },
  { kernelName: IM2COLT, compute: im2colTKernel },
];
const WASM_WRAPPERS: ReadonlyArray<{ kernelName: string; wrap: (original: tf.KernelConfig) => tf.KernelFunc }> = [
  { kernelName: tf.BatchMatMul, wrap: wasmMatMulWithoutTransposeFlags },
  { kernelName: tf.SplitV, wrap: numericOnly((args) => wasmSplitV(args)) },
  { kernelName: tf.Slice, wrap: numericOnly((args) => wasmSlice(args)) },
  { kernelName: tf.Unpack, wrap: numericOnly((args) => wasmUnpack(args), 'value') },
  { kernelName: tf.GatherV2, wrap: numericOnly((args) => wasmGather(args)) },
  { kernelName: tf.Identity, wrap: numericOnly((args) => wasmIdentity(args)) },
  { kernelName: tf.Sum, wrap: wasmSumLeading },
  { kernelName: tf.Transpose, wrap: wasmTranspose },
];
const CPU_REPLACEMENTS: ReadonlyArray<{ kernelName: string; compute: Compute }> = [
  { kernelName: tf.UnsortedSegmentSum, compute: unsortedSegmentSum },
  { kernelName: IM2COL, compute: im2colKernel },
  { kernelName: COL2IM, compute: col2imKernel },
  { kernelName: IM2COLT, compute: im2colTKernel },
];

const provided: Record<'wasm' | 'cpu', Set<string>> = { wasm: new Set(), cpu: new Set() };

function register(backendName: 'wasm' | 'cpu', kernels: ReadonlyArray<{ kernelName: string; compute: Compute }>, replace: boolean): void {
  for (const { kernelName, compute } of kernels) {
    if (provided[backendName].has(kernelName)) continue;
    const existing = tf.getKernel(kernelName, backendName) !== undefined;
    if (existing && !replace) continue;
    if (existing) tf.unregisterKernel(kernelName, backendName);
    const kernelFunc = ((args: KernelArgs) => compute(args, IO_OF[backendName](args.backend))) as tf.KernelFunc;
    tf.registerKernel({ kernelName, backendName, kernelFunc });
    provided[backendName].add(kernelName);
  }
}

function wrapWasm(): void {
  for (const { kernelName, wrap } of WASM_WRAPPERS) {
    const original = tf.getKernel(kernelName, 'wasm');
    if (provided.wasm.has(kernelName) || original === undefined) continue;
    tf.unregisterKernel(kernelName, 'wasm');
    // The original setupFunc binds the wasm function its kernelFunc calls, when the backend initialises.
    tf.registerKernel({ ...original, kernelFunc: wrap(original) });
    provided.wasm.add(kernelName);
  }
}

/**
 * Registers, for the 'wasm' backend, the kernels of this module that the backend does not already have
 * (UnsortedSegmentSum: gradient of `tf.gather`; Conv2DBackpropFilter: gradient of `tf.conv2d` w.r.t. its
 * filter), and wraps BatchMatMul so that transposed operands are transposed explicitly first: wasm's own
 * transposeA/transposeB path is 10–25× slower than a transpose plus a plain product, and every matMul
 * gradient uses it; and Transpose of the last two axes by a blocked copy (wasm's scatters its writes: 3–4x slower
 * on a [4096, 1024] logits gradient); and replaces SplitV, Slice and Unpack by ones that read only what they return (wasm's copy the
 * whole input out of the heap per call, per part for SplitV and Unpack), and GatherV2 by one that copies whole slices
 * (wasm's computes every element's address, twenty times slower), and Identity by one that shares its input's
 * data instead of copying it (the engine clones every tensor a gradient saves), and Sum over leading axes (every
 * bias gradient) by column sums that skip wasm's transpose of the whole input; and adds the convolution's im2col
 * matrix, its gradient and its transpose as three kernels of this package (VqvidIm2Col, VqvidCol2Im, VqvidIm2ColT; see
 * `sameConv` in im2col.ts).
 * Idempotent; other kernels are left alone.
 * @returns the names of the kernels this module provides for 'wasm' (the same list on every call).
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * registerWasmKernels();  // ['UnsortedSegmentSum', 'Conv2DBackpropFilter', 'VqvidIm2Col', 'VqvidCol2Im', 'BatchMatMul', …]
 * await tf.setBackend('wasm');
 * const g = tf.grad((e: tf.Tensor) => tf.sum(tf.gather(e, [0, 2, 0])))(tf.ones([4, 8]));
 * ```
 */
export function registerWasmKernels(): string[] {
  register('wasm', WASM_KERNELS, false);
  wrapWasm();
  return [...provided.wasm];
}

/**
 * Replaces the cpu backend's UnsortedSegmentSum (O(segments · rows · width), minutes for a gather gradient
 * over 10,000 codes) with a direct O(rows · width) loop giving the same values, and adds the convolution's
 * VqvidIm2Col, VqvidCol2Im and VqvidIm2ColT kernels (as for wasm). Idempotent.
 * @returns the names of the cpu kernels this module provides (the same list on every call).
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-cpu';
 * registerCpuKernels();            // ['UnsortedSegmentSum', 'VqvidIm2Col', 'VqvidCol2Im', 'VqvidIm2ColT']
 * ```
 */
export function registerCpuKernels(): string[] {
  register('cpu', CPU_REPLACEMENTS, true);
  return [...provided.cpu];
}

/**
 * A float32 tensor's values read in place where the backend allows: on wasm a view of its heap memory, valid only
 * until the next tfjs allocation (take views after making every tensor to be read, read, then dispose); elsewhere
 * `dataSync()`. For large reads (a frame's member logits) whose copies and garbage cost more than the read.
 */
export function valuesInPlace(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`valuesInPlace: expected a float32 tensor, got dtype ${t.dtype}`);
  const name = tf.getBackend();
  return name === 'wasm' || name === 'cpu' ? (IO_OF[name](tf.backend()).view(t) as Float32Array) : (t.dataSync() as Float32Array);
}
