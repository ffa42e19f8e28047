/**
 * Kernels that tfjs-backend-wasm 4.22 lacks but training needs, written in TypeScript over the
 * backend's typed arrays and registered for the 'wasm' backend.
 *
 * Why: `tf.grad` through `tf.gather` (the embedding lookup, the target pick of the softmax) calls
 * UnsortedSegmentSum, which the wasm backend does not have, so training would throw there.
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

/** The part of tfjs-backend-wasm's BackendWasm these kernels use (typed structurally to avoid a hard import). */
interface WasmBackendLike {
  readSync(dataId: object): backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): backend_util.TypedArray;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function numericValues(backend: WasmBackendLike, t: tf.TensorInfo, arg: string): backend_util.TypedArray {
  const v = backend.readSync(t.dataId);
  if (!ArrayBuffer.isView(v)) throw new Error(`${arg}: expected a numeric tensor, got dtype ${t.dtype}`);
  return v as backend_util.TypedArray;
}

/**
 * TF semantics: out[segmentIds[i...], ...] += x[i..., ...]; ids outside [0, numSegments) are dropped.
 * segmentIds' shape is a prefix of x's shape.
 */
function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x as tf.TensorInfo;
  const segmentIds = args.inputs.segmentIds as tf.TensorInfo;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const inner = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
  const xv = numericValues(backend, x, 'x');
  const ids = numericValues(backend, segmentIds, 'segmentIds');
  const out = backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  const ov = backend.typedArrayFromHeap(out);
  ov.fill(0);
  for (let i = 0; i < rows; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) ov[dst + j] += xv[src + j];
  }
  return out;
}

/** dW[r, c, i, o] = Σ_b,y x[b, y·stride + r − pad, ·, i] · dy[b, y, ·, o] (port of the cpu kernel, flat indexing). */
function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
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
  const xv = numericValues(backend, x, 'x');
  const dyv = numericValues(backend, dy, 'dy');
  const out = backend.makeOutput([fh, fw, ci, co], 'float32');
  const dw = backend.typedArrayFromHeap(out);
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
  return out;
}

const KERNELS: ReadonlyArray<{ kernelName: string; kernelFunc: tf.KernelFunc }> = [
  { kernelName: tf.UnsortedSegmentSum, kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc },
  { kernelName: tf.Conv2DBackpropFilter, kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc },
];

const provided = new Set<string>();

/**
 * Registers, for the 'wasm' backend, the kernels of this module that the backend does not already have
 * (UnsortedSegmentSum: gradient of `tf.gather`; Conv2DBackpropFilter: gradient of `tf.conv2d` w.r.t. its
 * filter). Idempotent; a kernel that tfjs already provides for wasm is left alone.
 * @returns the names of the kernels this module provides for 'wasm' (the same list on every call).
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * registerWasmKernels();           // ['UnsortedSegmentSum', 'Conv2DBackpropFilter']
 * await tf.setBackend('wasm');
 * const g = tf.grad((e: tf.Tensor) => tf.gather(e, [0, 2, 0]).sum())(tf.ones([4, 8]));
 * ```
 */
export function registerWasmKernels(): string[] {
  for (const k of KERNELS) {
    if (provided.has(k.kernelName) || tf.getKernel(k.kernelName, 'wasm') !== undefined) continue;
    tf.registerKernel({ kernelName: k.kernelName, backendName: 'wasm', kernelFunc: k.kernelFunc });
    provided.add(k.kernelName);
  }
  return [...provided];
}
