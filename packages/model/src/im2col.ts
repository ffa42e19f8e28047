import * as tf from '@tensorflow/tfjs-core';

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
 * The model's 'same' convolution (`w` as in {@link im2colConv}): the backend's own Conv2D kernel when no gradient
 * is being recorded (prediction, evaluation) on a backend where it gives the same bits as {@link im2colConv}
 * (wasm: XNNPACK's convolution sums each output in the same order as its matMul of the im2col rows; a test holds
 * this), else {@link im2colConv}, which has gradients on every backend. On wasm the kernel skips the
 * k*k slices and their concat (about 1.6x faster at a 30x40 frame); elsewhere the sums would be reordered, and
 * training and prediction would no longer see the same numbers, so they keep one path.
 */
export function sameConv(x: tf.Tensor4D, w: tf.Tensor2D, kernel: number): tf.Tensor4D {
  if (!nativeConvHere()) return im2colConv(x, w, kernel);
  return tf.tidy(() => tf.conv2d(x, tf.reshape(w, [kernel, kernel, x.shape[3], w.shape[1]]) as tf.Tensor4D, 1, 'same'));
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
