import * as tf from '@tensorflow/tfjs-core';
import { COL2IM, type ConvWindow, IM2COL, IM2COLT } from './kernels';

export type { ConvWindow } from './kernels';

/**
 * 'Same' 2-D convolution with zero padding written as pad + k*k shifted slices + matMul, because the wasm
 * backend has no Conv2DBackpropFilter kernel while pad, slice, concat and matMul all have gradients there.
 * `x` is [B, R, C, Cin]; `w` is [kernel*kernel*Cin, Cout] with rows ordered (dy, dx, cin), i.e. the
 * tf.conv2d filter [kh, kw, Cin, Cout] reshaped; result [B, R, C, Cout].
 * @example
 * ```ts
 * const y = im2colConv(x, tf.reshape(filter, [9 * cin, cout]), 3); // = tf.conv2d(x, filter, 1, 'same')
 * ```
 */
export function im2colConv(x: tf.Tensor4D, w: tf.Tensor2D, kernel: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, rows, cols, cin] = x.shape;
    const flat = im2col(x, kernel);
    const y = tf.matMul(tf.reshape(flat, [b * rows * cols, kernel * kernel * cin]), w);
    return tf.reshape(y, [b, rows, cols, w.shape[1]]);
  });
}

/**
 * The model's 'same' convolution (`w` as in {@link im2colConv}), always with im2colConv's bits:
 * - the backend's own Conv2D kernel when no gradient is being recorded (prediction, evaluation) on wasm, where it
 *   gives the same bits (XNNPACK's convolution sums each output in the same order as its matMul of the im2col
 *   rows; a test holds this) and skips the im2col matrix (about 1.6x faster at a 30x40 frame). On cpu tf.conv2d
 *   sums in another order, so training and prediction would no longer see the same numbers;
 * - else, where this package's Im2Col and Col2Im kernels are registered (wasm, cpu) and k > 1, {@link kernelConv};
 * - else {@link im2colConv} itself (pad, slices, concat, matMul), which has gradients on every backend.
 */
export function sameConv(x: tf.Tensor4D, w: tf.Tensor2D, kernel: number): tf.Tensor4D {
  if (nativeConvHere()) return tf.tidy(() => tf.conv2d(x, tf.reshape(w, [kernel, kernel, x.shape[3], w.shape[1]]) as tf.Tensor4D, 1, 'same'));
  if (kernel > 1 && im2colKernelsHere()) return kernelConv(kernel)(x, w);
  return im2colConv(x, w, kernel);
}

/** Whether the active backend has this package's Im2Col and Col2Im kernels (registerWasmKernels, registerCpuKernels). */
function im2colKernelsHere(): boolean {
  const backend = tf.getBackend();
  return [IM2COL, COL2IM, IM2COLT].every((name) => tf.getKernel(name, backend) !== undefined);
}

const kernelConvs = new Map<number, (x: tf.Tensor4D, w: tf.Tensor2D) => tf.Tensor4D>();

/**
 * {@link im2colConv} as one recorded op over the Im2Col, Col2Im and Im2ColT kernels (src/kernels): the im2col matrix
 * in one pass instead of a pad, k² slices and a concat, and in the backward pass the same two matMuls with the
 * input's gradient summed by Col2Im instead of a split, k² pads and k² − 1 adds, and the weight gradient's
 * transposed im2col matrix written from x by Im2ColT. Same bits as im2colConv, value and
 * gradients (a test compares them on wasm and cpu).
 */
export function kernelConv(kernel: number): (x: tf.Tensor4D, w: tf.Tensor2D) => tf.Tensor4D {
  let f = kernelConvs.get(kernel);
  if (!f) kernelConvs.set(kernel, (f = buildKernelConv(kernel, null)));
  return f;
}

/**
 * The cells `window` of {@link sameConv}(x, w, kernel) (zero padding at x's borders), [B, window rows, window cols,
 * Cout], the same values, without computing the other cells where this package's kernels run (wasm and cpu while a
 * gradient is recorded, kernel > 1): the Im2Col, Im2ColT and Col2Im kernels take the window; elsewhere the whole
 * convolution is computed and sliced.
 */
export function windowConv(x: tf.Tensor4D, w: tf.Tensor2D, kernel: number, window: ConvWindow): tf.Tensor4D {
  const [, rows, cols] = x.shape;
  const [top, left, wr, wc] = window;
  if (top === 0 && left === 0 && wr === rows && wc === cols) return sameConv(x, w, kernel);
  if (kernel === 1) return sameConv(tf.slice(x, [0, top, left, 0], [-1, wr, wc, -1]), w, 1);
  if (nativeConvHere() || !im2colKernelsHere()) return tf.slice(sameConv(x, w, kernel), [0, top, left, 0], [-1, wr, wc, -1]);
  return buildKernelConv(kernel, window)(x, w);
}

/** {@link kernelConv}'s op, over the cells of `window` (null: every cell). */
function buildKernelConv(kernel: number, window: ConvWindow | null): (x: tf.Tensor4D, w: tf.Tensor2D) => tf.Tensor4D {
  const attrs = (window ? { kernel, window } : { kernel }) as unknown as tf.NamedAttrMap;
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, w, save] = args as [tf.Tensor4D, tf.Tensor2D, tf.GradSaveFunc];
    const [b, rows, cols, cin] = x.shape;
    const [wr, wc] = window ? [window[2], window[3]] : [rows, cols];
    const n = b * wr * wc;
    const flat = tf.reshape(tf.engine().runKernel(IM2COL, { x }, attrs) as tf.Tensor, [n, kernel * kernel * cin]) as tf.Tensor2D;
    // x, not the im2col matrix, is kept for the backward pass (k² times smaller)
    save([x, w]);
    return {
      value: tf.reshape(tf.matMul(flat, w), [b, wr, wc, w.shape[1]]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor2D];
        const dy2 = tf.reshape(dy, [n, ws.shape[1]]) as tf.Tensor2D;
        // the matMul gradients as tfjs writes them: dA = dy·Bᵀ, dB = Aᵀ·dy, with Aᵀ written by Im2ColT (the same sums
        // in the same order as transposing A)
        const dcols = tf.matMul(dy2, ws, false, true);
        const dx = tf.engine().runKernel(COL2IM, { dcols }, { ...attrs, shape: [b, rows, cols, cin] } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const colsT = tf.engine().runKernel(IM2COLT, { x: xs }, attrs) as tf.Tensor2D;
        return [dx, tf.matMul(colsT, dy2)];
      },
    };
  }) as unknown as (x: tf.Tensor4D, w: tf.Tensor2D) => tf.Tensor4D;
}

/** Whether {@link sameConv} takes the backend's Conv2D now: wasm, with no tape recording (no gradient wanted). */
export function nativeConvHere(): boolean {
  return tf.getBackend() === 'wasm' && tf.engine().state.gradientDepth === 0;
}

/** [B, R, C, Cin] -> [B, R, C, kernel*kernel*Cin]: each cell's zero-padded neighbourhood, (dy, dx, cin) order. */
export function im2col(x: tf.Tensor4D, kernel: number): tf.Tensor4D {
  if (kernel === 1) return x.clone();
  return tf.tidy(() => {
    const [b, rows, cols, cin] = x.shape;
    const p = (kernel - 1) / 2;
    const padded = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]);
    const parts: tf.Tensor4D[] = [];
    for (let dy = 0; dy < kernel; dy++) {
      for (let dx = 0; dx < kernel; dx++) parts.push(tf.slice(padded, [0, dy, dx, 0], [b, rows, cols, cin]));
    }
    return tf.concat(parts, 3);
  });
}
