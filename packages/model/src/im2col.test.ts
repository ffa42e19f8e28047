import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@vqvid/core';
import { type ConvWindow, im2col, im2colConv, kernelConv, nativeConvHere, sameConv, windowConv } from './im2col';
import { registerCpuKernels, registerWasmKernels } from './kernels';

/** Random [b, rows, cols, cin] input and [kernel²·cin, cout] weights, seeded. */
function problem(seed: number, [b, rows, cols, cin, cout]: number[], kernel: number): [tf.Tensor4D, tf.Tensor2D] {
  const rng = new Rng(seed);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  return [tf.tensor4d(rand(b * rows * cols * cin), [b, rows, cols, cin]), tf.tensor2d(rand(kernel * kernel * cin * cout), [kernel * kernel * cin, cout])];
}

/** The bits of both paths on the active backend. */
function bothPaths(seed: number, shape: number[], kernel: number): [Float32Array, Float32Array] {
  const [x, w] = problem(seed, shape, kernel);
  const a = tf.tidy(() => sameConv(x, w, kernel));
  const b = tf.tidy(() => im2colConv(x, w, kernel));
  const out: [Float32Array, Float32Array] = [a.dataSync() as Float32Array, b.dataSync() as Float32Array];
  tf.dispose([x, w, a, b]);
  return out;
}

describe('sameConv', () => {
  beforeAll(() => {
    registerWasmKernels();
    registerCpuKernels();
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  const shapes = [
    [1, 30, 40, 64, 96],
    [3, 7, 5, 6, 4],
    [2, 1, 9, 3, 5],
  ];

  it.each([1, 3, 5])('gives im2colConv\'s bits on wasm with its own Conv2D (kernel %i)', async (kernel) => {
    await tf.setBackend('wasm');
    expect(nativeConvHere()).toBe(true);
    shapes.forEach((shape, i) => {
      const [a, b] = bothPaths(10 * kernel + i, shape, kernel);
      expect(a.length).toBe(shape[0] * shape[1] * shape[2] * shape[4]);
      expect(Array.from(a)).toEqual(Array.from(b));
    });
  });

  it('leaves the backend\'s Conv2D while a gradient is recorded, and its gradient matches cpu\'s tf.conv2d', async () => {
    await tf.setBackend('wasm');
    const kernel = 3;
    const shape = [2, 4, 5, 3, 2];
    const [x, w] = problem(5, shape, kernel);
    const inside: boolean[] = [];
    const gw = tf.grad((v: tf.Tensor) => {
      inside.push(nativeConvHere());
      return tf.sum(tf.square(sameConv(x, v as tf.Tensor2D, kernel)));
    })(w);
    expect(inside).toEqual([false]);
    const ours = Array.from(gw.dataSync());
    const [xs, ws] = [x.dataSync().slice(), w.dataSync().slice()];
    tf.dispose([x, w, gw]);
    await tf.setBackend('cpu');
    const ref = tf.tidy(() => {
      const xc = tf.tensor4d(xs, shape.slice(0, 4) as [number, number, number, number]);
      const f = (v: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xc, tf.reshape(v, [kernel, kernel, shape[3], shape[4]]) as tf.Tensor4D, 1, 'same')));
      return tf.grad(f)(tf.tensor2d(ws, [kernel * kernel * shape[3], shape[4]]));
    });
    const e = ref.dataSync();
    ours.forEach((g, i) => expect(Math.abs(g - e[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(e[i]))));
    ref.dispose();
  });

  /** Value and both gradients of conv(x, w) · r summed (r random: every output gets its own weight). */
  function valueAndGrads(conv: (x: tf.Tensor4D, w: tf.Tensor2D) => tf.Tensor4D, x: tf.Tensor4D, w: tf.Tensor2D, r: tf.Tensor4D): number[][] {
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor2D), r)))([x, w]);
    const out = [Array.from(value.dataSync()), ...grads.map((g) => Array.from(g.dataSync()))];
    tf.dispose([value, ...grads]);
    return out;
  }

  it.each(['wasm', 'cpu'])('the Im2Col/Col2Im op gives im2colConv\'s value and gradients to the bit (%s)', async (backend) => {
    await tf.setBackend(backend);
    const cases: Array<[number[], number]> = [
      [[2, 5, 4, 3, 4], 3],
      [[1, 1, 9, 2, 3], 3], // a row thinner than the kernel
      [[3, 2, 2, 1, 2], 5],
      [[1, 16, 16, 16, 8], 3],
      [[2, 6, 7, 4, 5], 5],
    ];
    cases.forEach(([shape, kernel], i) => {
      const [x, w] = problem(40 + i, shape, kernel);
      const rng = new Rng(60 + i);
      // exact zeros in the output weights: gradients that are sums of zeros (and the sign of a zero) must agree too
      const r = tf.tensor4d(Float32Array.from({ length: shape[0] * shape[1] * shape[2] * shape[4] }, () => (rng.int(4) === 0 ? 0 : rng.normal())), [shape[0], shape[1], shape[2], shape[4]]);
      const ours = valueAndGrads(kernelConv(kernel), x, w, r);
      const ref = valueAndGrads((a, b) => im2colConv(a, b, kernel), x, w, r);
      expect(ours[1].length).toBe(x.size);
      expect(ours[2].length).toBe(w.size);
      ours.forEach((v, j) => v.forEach((e, q) => expect(Object.is(e, ref[j][q]) ? e : { backend, i, j, q, e }).toBe(ref[j][q])));
      tf.dispose([x, w, r]);
    });
  });

  it.each(['wasm', 'cpu'])('windowConv gives the window\'s cells of the whole convolution, value and input gradient to the bit, weight gradient to float rounding (%s)', async (backend) => {
    await tf.setBackend(backend);
    const cases: Array<[number[], number, ConvWindow]> = [
      [[2, 6, 7, 3, 4], 3, [1, 1, 4, 5]], // inner: every tap inside x
      [[2, 6, 7, 3, 4], 3, [0, 2, 3, 5]], // at the top and right borders: zero padding there
      [[1, 5, 5, 2, 3], 5, [1, 0, 3, 2]],
      [[3, 4, 4, 2, 2], 3, [3, 3, 1, 1]], // one cell, a corner
      [[2, 5, 6, 3, 2], 1, [1, 2, 3, 3]], // kernel 1: the rows of the window
      [[1, 20, 20, 16, 8], 3, [1, 1, 18, 18]], // a training layer's shape
    ];
    cases.forEach(([shape, kernel, win], i) => {
      const [x, w] = problem(140 + i, shape, kernel);
      const [t, l, wr, wc] = win;
      const rng = new Rng(160 + i);
      const r = tf.tensor4d(Float32Array.from({ length: shape[0] * wr * wc * shape[4] }, () => (rng.int(4) === 0 ? 0 : rng.normal())), [shape[0], wr, wc, shape[4]]);
      const ours = valueAndGrads((a, b) => windowConv(a, b, kernel, win), x, w, r);
      const ref = valueAndGrads((a, b) => tf.slice(sameConv(a, b, kernel), [0, t, l, 0], [-1, wr, wc, -1]), x, w, r);
      expect(ours.map((v) => v.length)).toEqual([1, x.size, w.size]);
      // the value is a sum of the outputs: rounding may differ there; the gradient of x is summed in the same order
      expect(Math.abs(ours[0][0] - ref[0][0])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ref[0][0])));
      ours[1].forEach((e, q) => expect(Object.is(e, ref[1][q]) ? e : { backend, i, q, e }).toBe(ref[1][q]));
      ours[2].forEach((e, q) => expect(Math.abs(e - ref[2][q])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ref[2][q]))));
      // and the values themselves, cell by cell, to the bit
      const [a, b] = [tf.tidy(() => windowConv(x, w, kernel, win).dataSync()), tf.tidy(() => tf.slice(sameConv(x, w, kernel), [0, t, l, 0], [-1, wr, wc, -1]).dataSync())];
      a.forEach((e, q) => expect(Object.is(e, b[q]) ? e : { backend, i, q, e }).toBe(b[q]));
      tf.dispose([x, w, r]);
    });
  });

  it.each(['wasm', 'cpu'])('Col2Im sums like the padded slices\' gradients, the sign of zero too: −0 inside, +0 at the border (%s)', async (backend) => {
    await tf.setBackend(backend);
    const cases: Array<[number[], number]> = [
      [[2, 4, 5, 3], 3],
      [[1, 1, 6, 2], 3], // a row thinner than the kernel: every cell at the border
      [[1, 5, 5, 2], 5],
      // channels a multiple of 4: the SIMD sums of kernels/simd.ts on wasm (their zero block for a missing tap)
      [[2, 4, 5, 4], 3],
      [[1, 3, 6, 8], 5],
    ];
    cases.forEach(([shape, kernel], i) => {
      const [b, rows, cols, cin] = shape;
      const n = b * rows * cols;
      const rng = new Rng(90 + i);
      // upstream gradients of the im2col matrix: all −0, then a mix of −0, +0 and values
      for (const mix of [false, true]) {
        const d = Float32Array.from({ length: n * kernel * kernel * cin }, () => (!mix ? -0 : [-0, 0, rng.normal()][rng.int(3)]));
        const dcols = tf.tensor2d(d, [n, kernel * kernel * cin]);
        const x = tf.zeros(shape) as tf.Tensor4D;
        // reference: the gradient of pad + slices + concat (the padded slices' gradients summed by the engine)
        const dims = [b, rows, cols, kernel * kernel * cin];
        const want = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(im2col(v as tf.Tensor4D, kernel), tf.reshape(dcols, dims))))(x);
        const got = tf.engine().runKernel('VqvidCol2Im', { dcols }, { kernel, shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const [wv, gv] = [want.dataSync(), got.dataSync()];
        expect(gv.length).toBe(wv.length);
        gv.forEach((e, q) => expect(Object.is(e, wv[q]) ? e : { backend, i, mix, q, e }).toBe(wv[q]));
        if (!mix) {
          // both signs of zero occur: the test sees the border's +0 and the inside's −0
          expect(Array.from(gv).some((e) => Object.is(e, 0))).toBe(true);
          if (rows >= kernel && cols >= kernel) expect(Array.from(gv).some((e) => Object.is(e, -0))).toBe(true);
        }
        tf.dispose([dcols, x, want, got]);
      }
    });
  });

  it.each(['wasm', 'cpu'])('Im2ColT writes the transpose of the im2col matrix, zeros outside the grid (%s)', async (backend) => {
    await tf.setBackend(backend);
    const cases: Array<[number[], number, ConvWindow?]> = [
      [[2, 5, 4, 3], 3],
      [[1, 1, 9, 6], 3], // a row thinner than the kernel
      [[3, 2, 2, 1], 5],
      [[1, 7, 6, 9], 3], // channels not a multiple of 4
      [[2, 9, 11, 8], 5, [1, 2, 6, 7]], // an output window (attribute `window`)
      [[1, 6, 6, 4], 3, [0, 3, 5, 3]], // a window 3 cells wide at the right border
      [[2, 20, 20, 16], 3, [1, 1, 18, 18]], // a training layer's shape
    ];
    cases.forEach(([shape, kernel, window], i) => {
      const rng = new Rng(80 + i);
      const x = tf.tensor4d(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape as [number, number, number, number]);
      const [b, rows, cols, cin] = shape;
      const [top, left, wr, wc] = window ?? [0, 0, rows, cols];
      const n = b * wr * wc;
      const got = tf.engine().runKernel('VqvidIm2ColT', { x }, { kernel, ...(window ? { window } : {}) } as unknown as tf.NamedAttrMap) as tf.Tensor;
      expect(got.shape).toEqual([kernel * kernel * cin, n]);
      // reference: the definition, element by element
      const xv = x.dataSync();
      const gv = got.dataSync();
      const p = (kernel - 1) / 2;
      for (let dy = 0; dy < kernel; dy++) {
        for (let dx = 0; dx < kernel; dx++) {
          for (let ch = 0; ch < cin; ch++) {
            for (let cell = 0; cell < n; cell++) {
              const c = (cell % wc) + left;
              const r = (Math.floor(cell / wc) % wr) + top;
              const img = Math.floor(cell / (wr * wc));
              const rr = r + dy - p;
              const cc = c + dx - p;
              const want = rr >= 0 && rr < rows && cc >= 0 && cc < cols ? xv[((img * rows + rr) * cols + cc) * cin + ch] : 0;
              const at = ((dy * kernel + dx) * cin + ch) * n + cell;
              if (gv[at] !== want) throw new Error(`${backend} case ${i}: (${dy}, ${dx}, ${ch}, ${cell}) ${gv[at]} ≠ ${want}`);
            }
          }
        }
      }
      tf.dispose([x, got]);
    });
  });

  it('the Im2Col/Col2Im op leaves no tensor behind, and sameConv takes it while training on wasm', async () => {
    await tf.setBackend('wasm');
    const [x, w] = problem(7, [2, 6, 5, 3, 4], 3);
    const run = () => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(sameConv(a as tf.Tensor4D, b as tf.Tensor2D, 3)))([x, w]);
      tf.dispose(g);
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    const info = await tf.profile(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(sameConv(a as tf.Tensor4D, b as tf.Tensor2D, 3)))([x, w]);
      tf.dispose(g);
    });
    const seen = info.kernels.map((k) => k.name);
    expect(seen).toContain('VqvidIm2Col');
    expect(seen).toContain('VqvidCol2Im');
    expect(seen).toContain('VqvidIm2ColT');
    expect(seen).not.toContain(tf.Transpose);
    expect(seen).not.toContain(tf.Concat);
    expect(seen).not.toContain(tf.SplitV);
    tf.dispose([x, w]);
  });

  it('keeps the im2col path on cpu, so its training and prediction see the same numbers', async () => {
    await tf.setBackend('cpu');
    expect(nativeConvHere()).toBe(false);
    const [a, b] = bothPaths(3, [2, 5, 4, 3, 4], 3);
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});
