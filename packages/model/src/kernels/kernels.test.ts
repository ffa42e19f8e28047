import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng } from '@vqvid/core';
import { registerCpuKernels, registerWasmKernels, transposeBlocked, valuesInPlace } from './index';

function randomArray(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** Runs `f` on a backend and returns its result as a plain array (so tensors never cross backends). */
async function on(backend: string, f: () => tf.Tensor): Promise<Float32Array | Int32Array> {
  await tf.setBackend(backend);
  const t = tf.tidy(f);
  const v = (await t.data()) as Float32Array | Int32Array;
  t.dispose();
  return v;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  expect(worst).toBeLessThanOrEqual(tol);
}

describe('registerWasmKernels', () => {
  const names = registerWasmKernels();

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('registers the missing kernels, idempotently', () => {
    expect(names.sort()).toEqual(['BatchMatMul', 'Conv2DBackpropFilter', 'GatherV2', 'Identity', 'Slice', 'SplitV', 'Sum', 'Transpose', 'Unpack', 'UnsortedSegmentSum', 'VqvidCol2Im', 'VqvidIm2Col', 'VqvidIm2ColT']);
    expect(registerWasmKernels().sort()).toEqual(names);
    for (const n of names) expect(tf.getKernel(n, 'wasm')).toBeDefined();
  });

  it('wasm initialises in jest (node) without setWasmPaths', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('Identity shares the data instead of copying it: same values, either tensor may be disposed first, no leak', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const backend = tf.backend() as unknown as { refCount(dataId: object): number; numDataIds(): number };
    const x = tf.tensor2d([1, -2, 3.5, 4, 0, -0.25], [3, 2]);
    const ids = backend.numDataIds();
    const y = tf.clone(x);
    expect(backend.numDataIds()).toBe(ids); // no new buffer
    expect(backend.refCount(x.dataId)).toBe(2);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, -2, 3.5, 4, 0, -0.25]);
    const z = tf.clone(y);
    y.dispose();
    const sum = tf.add(z, 1);
    expect(Array.from(sum.dataSync())).toEqual([2, -1, 4.5, 5, 1, 0.75]);
    sum.dispose();
    z.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(backend.numDataIds()).toBe(ids - 1); // x's buffer freed with its last reference
    // strings keep the backend's own kernel
    const s = tf.tensor1d(['a', 'bc']);
    const sc = tf.clone(s);
    expect(await sc.array()).toEqual(['a', 'bc']);
    tf.dispose([s, sc]);
  });

  it('gradients through saved tensors (clones) equal the cpu backend\'s, and a variable keeps its values after assign', async () => {
    const rng = new Rng(4);
    const a = randomArray(rng, 6 * 5);
    const w = randomArray(rng, 5 * 4);
    const f = () => {
      const v = tf.variable(tf.tensor2d(w, [5, 4]));
      const x = tf.tensor2d(a, [6, 5]);
      const g = tf.grad((vv: tf.Tensor) => tf.sum(tf.logSumExp(tf.tanh(tf.matMul(x, vv as tf.Tensor2D)), 1)))(v);
      v.assign(tf.sub(v, tf.mul(g, 0.5)));
      const out = tf.concat([tf.reshape(g, [-1]), tf.reshape(v, [-1])]);
      v.dispose();
      return out;
    };
    expectClose(await on('wasm', f), await on('cpu', f), 1e-5);
  });

  it('UnsortedSegmentSum matches cpu (float32 and int32, out-of-range ids dropped)', async () => {
    const rng = new Rng(1);
    const x = randomArray(rng, 13 * 3 * 2);
    const ids = Int32Array.from({ length: 13 }, () => rng.int(7) - 1); // includes -1: dropped
    const f = () => tf.unsortedSegmentSum(tf.tensor3d(x, [13, 3, 2]), tf.tensor1d(ids, 'int32'), 5);
    const cpu = await on('cpu', f);
    const wasm = await on('wasm', f);
    expectClose(wasm, cpu);
    const xi = Int32Array.from(x, (v) => Math.round(v * 10));
    const g = () => tf.unsortedSegmentSum(tf.tensor2d(xi, [13, 6], 'int32'), tf.tensor1d(ids, 'int32'), 6);
    expect(Array.from(await on('wasm', g))).toEqual(Array.from(await on('cpu', g)));
  });

  it('gradient of tf.gather (axis 0 and 1) matches cpu under wasm', async () => {
    const rng = new Rng(2);
    const p = randomArray(rng, 6 * 4);
    const w0 = randomArray(rng, 9 * 4);
    const w1 = randomArray(rng, 6 * 9);
    const idx = Int32Array.from({ length: 9 }, () => rng.int(4));
    const loss = (axis: number, w: Float32Array, wShape: [number, number]) => (e: tf.Tensor) =>
      tf.sum(tf.mul(tf.gather(e, tf.tensor1d(idx, 'int32'), axis), tf.tensor2d(w, wShape)));
    const g0 = () => tf.grad(loss(0, w0, [9, 4]))(tf.tensor2d(p, [6, 4]));
    const g1 = () => tf.grad(loss(1, w1, [6, 9]))(tf.tensor2d(p, [6, 4]));
    expectClose(await on('wasm', g0), await on('cpu', g0));
    expectClose(await on('wasm', g1), await on('cpu', g1));
  });

  it.each([
    ['NHWC', 'same', 1],
    ['NHWC', 'valid', 2],
    ['NCHW', 'valid', 1],
    ['NCHW', 'same', 2],
  ] as const)('Conv2DBackpropFilter matches cpu (%s, %s, stride %d)', async (format, pad, stride) => {
    const rng = new Rng(3);
    const xShape: [number, number, number, number] = format === 'NHWC' ? [2, 7, 6, 3] : [2, 3, 7, 6];
    const x = randomArray(rng, 2 * 7 * 6 * 3);
    const filterShape: [number, number, number, number] = [3, 2, 3, 4];
    const outHW = (n: number, f: number) => (pad === 'same' ? Math.ceil(n / stride) : Math.ceil((n - f + 1) / stride));
    const [oh, ow] = [outHW(7, 3), outHW(6, 2)];
    const dyShape: [number, number, number, number] = format === 'NHWC' ? [2, oh, ow, 4] : [2, 4, oh, ow];
    const dy = randomArray(rng, 2 * oh * ow * 4);
    // conv2DBackpropFilter is not a public op, so the kernel is run directly (NCHW is only reachable this way on wasm).
    const f = () =>
      tf.engine().runKernel(
        tf.Conv2DBackpropFilter,
        { x: tf.tensor4d(x, xShape), dy: tf.tensor4d(dy, dyShape) },
        { strides: stride, pad, dataFormat: format, filterShape } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor;
    expectClose(await on('wasm', f), await on('cpu', f), 1e-4);
  });

  it('gradient of tf.conv2d w.r.t. its filter matches cpu under wasm', async () => {
    const rng = new Rng(5);
    const x = randomArray(rng, 2 * 6 * 5 * 3);
    const w = randomArray(rng, 3 * 3 * 3 * 2);
    const g = () =>
      tf.grad((f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(tf.tensor4d(x, [2, 6, 5, 3]), f as tf.Tensor4D, 1, 'same'))))(
        tf.tensor4d(w, [3, 3, 3, 2]),
      );
    expectClose(await on('wasm', g), await on('cpu', g), 1e-4);
  });

  it.each([
    [[5, 3], [3, 4]],
    [[2, 5, 3], [2, 3, 4]],
    [[2, 5, 3], [1, 3, 4]], // broadcast batch
    [[1, 3], [3, 1]], // size-one dims: wasm's transpose returns a shared view there
    [[30, 40], [40, 3]], // transposeA with a wide A: computed as (Bᵀ·A)ᵀ
  ])('BatchMatMul %j x %j matches cpu for every transpose flag, without leaking wasm memory', async (aShape, bShape) => {
    const rng = new Rng(7);
    const swap = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      const av = randomArray(rng, aShape.reduce((x, y) => x * y, 1));
      const bv = randomArray(rng, bShape.reduce((x, y) => x * y, 1));
      const f = () => tf.matMul(tf.tensor(av, ta ? swap(aShape) : aShape), tf.tensor(bv, tb ? swap(bShape) : bShape), ta, tb);
      const cpu = await on('cpu', f);
      const dataIds = tf.engine().backend.numDataIds();
      expectClose(await on('wasm', f), cpu);
      expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    }
  });

  it.each([
    [72, 8], // a convolution weight gradient's shape: transposes A, packs B
    [8, 72], // the logits' weight gradient's shape: computed as (Bᵀ·A)ᵀ, packs A
    [16, 16],
  ])('Aᵀ·B ([600, %d]ᵀ · [600, %d]) gives the bits of the product with A transposed first, by either route', async (p, q) => {
    await tf.setBackend('wasm');
    const rng = new Rng(12);
    const a = tf.tensor2d(randomArray(rng, 600 * p), [600, p]);
    const b = tf.tensor2d(randomArray(rng, 600 * q), [600, q]);
    const flagged = tf.matMul(a, b, true, false);
    const at = tf.transpose(a);
    const plainPath = tf.matMul(at, b);
    expect(flagged.shape).toEqual([p, q]);
    expect(Array.from(flagged.dataSync())).toEqual(Array.from(plainPath.dataSync()));
    // a batch of one (rank 3) takes the same route, to the same bits
    const batched = tf.tidy(() => tf.matMul(tf.reshape(a, [1, 600, p]), tf.reshape(b, [1, 600, q]), true, false));
    expect(batched.shape).toEqual([1, p, q]);
    expect(Array.from(batched.dataSync())).toEqual(Array.from(plainPath.dataSync()));
    batched.dispose();
    // and the value of the product, against a float64 reference
    const av = a.dataSync();
    const bv = b.dataSync();
    const got = flagged.dataSync();
    let worst = 0;
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < q; j++) {
        let s = 0;
        for (let r = 0; r < 600; r++) s += av[r * p + i] * bv[r * q + j];
        worst = Math.max(worst, Math.abs(got[i * q + j] - s));
      }
    }
    expect(worst).toBeLessThan(1e-3);
    tf.dispose([a, b, flagged, at, plainPath]);
  });

  it.each([
    [[37, 70], [1, 0]],
    [[64, 32], [1, 0]],
    [[3, 33, 5], [0, 2, 1]],
    [[2, 3, 4, 35], [0, 1, 3, 2]],
    [[1, 1], [1, 0]],
    [[0, 5], [1, 0]],
  ] as const)('Transpose of shape %j by %j on wasm equals the reference, float32 and int32', async (shape, perm) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const rng = new Rng(4);
    const values = randomArray(rng, size);
    // reference: out[index with axes permuted] = x[index]
    const ref = (v: ArrayLike<number>): number[] => {
      const outShape = perm.map((d) => shape[d]);
      const out = new Array<number>(size);
      const idx = new Array<number>(shape.length).fill(0);
      for (let flat = 0; flat < size; flat++) {
        let o = 0;
        for (let d = 0; d < shape.length; d++) o = o * outShape[d] + idx[perm[d]];
        out[o] = v[flat];
        for (let d = shape.length - 1; d >= 0; d--) {
          if (++idx[d] < shape[d]) break;
          idx[d] = 0;
        }
      }
      return out;
    };
    await tf.setBackend('wasm');
    for (const dtype of ['float32', 'int32'] as const) {
      const v = dtype === 'float32' ? values : Int32Array.from(values, (x) => Math.round(x * 1000));
      const x = tf.tensor(v, [...shape], dtype);
      const before = tf.memory().numTensors;
      const t = tf.transpose(x, [...perm]);
      expect(t.shape).toEqual(perm.map((d) => shape[d]));
      expect(t.dtype).toBe(dtype);
      expect(Array.from(t.dataSync())).toEqual(ref(v));
      expect(tf.memory().numTensors).toBe(before + 1);
      tf.dispose([x, t]);
    }
  });

  it('transposeBlocked moves every value of a matrix inside a larger buffer and touches nothing else', () => {
    for (const [rows, cols] of [[70, 37], [32, 64], [5, 129], [1, 3]]) {
      const at = 11;
      const x = Float32Array.from({ length: at + rows * cols + 7 }, (_, i) => i + 0.5);
      const out = new Float32Array(x.length).fill(-1);
      transposeBlocked(x, at, rows, cols, out);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) expect(out[at + j * rows + i]).toBe(x[at + i * cols + j]);
      expect(Array.from(out.subarray(0, at)).every((v) => v === -1)).toBe(true);
      expect(Array.from(out.subarray(at + rows * cols)).every((v) => v === -1)).toBe(true);
    }
  });

  it.each([
    [0, 2],
    [1, [1, -1, 2]],
    [2, [3, 2]],
    [-1, 5],
  ] as const)('SplitV on axis %d into %j matches cpu (float32 and int32), without leaking wasm memory', async (axis, splits) => {
    const rng = new Rng(9);
    const x = randomArray(rng, 4 * 6 * 5);
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const values = dtype === 'float32' ? x : Int32Array.from(x, (v) => (dtype === 'bool' ? +(v > 0) : Math.round(v * 100)));
      const parts = () => tf.split(tf.tensor3d(values, [4, 6, 5], dtype), splits as number | number[], axis);
      const f = () => tf.concat(parts().map((p) => tf.reshape(tf.cast(p, 'float32'), [-1])));
      const cpu = await on('cpu', f);
      const dataIds = tf.engine().backend.numDataIds();
      expect(Array.from(await on('wasm', f))).toEqual(Array.from(cpu));
      expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    }
  });

  it.each([
    [[7], [2], [4]],
    [[5, 6], [1, 2], [3, -1]],
    [[4, 1, 6], [1, 0, 2], [2, 1, 3]],
    [[3, 4, 2, 5], [0, 1, 1, 0], [3, 2, 1, 5]],
    [[3, 4, 2, 5], [1, 3, 0, 4], [1, 1, 2, 1]],
    [[2, 3], [0, 3], [2, 0]], // empty result
  ])('Slice of %j at %j size %j matches cpu (float32, int32, bool), without leaking wasm memory', async (shape, begin, size) => {
    const rng = new Rng(10);
    const x = randomArray(rng, shape.reduce((a, b) => a * b, 1));
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const values = dtype === 'float32' ? x : Int32Array.from(x, (v) => (dtype === 'bool' ? +(v > 0) : Math.round(v * 100)));
      const f = () => tf.cast(tf.slice(tf.tensor(values, shape, dtype), begin, size), 'float32');
      const cpu = await on('cpu', f);
      const dataIds = tf.engine().backend.numDataIds();
      expect(Array.from(await on('wasm', f))).toEqual(Array.from(cpu));
      expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    }
  });

  it.each([
    [[5], 0],
    [[4, 6, 5], 0],
    [[4, 6, 5], 1],
    [[4, 6, 5], -1],
    [[3, 1, 2, 4], 2],
    [[0, 3], 1], // empty parts
  ] as const)('Unpack of %j on axis %d matches cpu (float32, int32, bool), without leaking wasm memory', async (shape, axis) => {
    const rng = new Rng(12);
    const x = randomArray(rng, shape.reduce((a, b) => a * b, 1));
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const values = dtype === 'float32' ? x : Int32Array.from(x, (v) => (dtype === 'bool' ? +(v > 0) : Math.round(v * 100)));
      const f = () => {
        const parts = tf.unstack(tf.tensor(values, [...shape], dtype), axis);
        return tf.concat([tf.tensor1d([parts.length, ...parts.flatMap((p) => p.shape)], 'float32'), ...parts.map((p) => tf.reshape(tf.cast(p, 'float32'), [-1]))]);
      };
      const cpu = await on('cpu', f);
      const dataIds = tf.engine().backend.numDataIds();
      expect(Array.from(await on('wasm', f))).toEqual(Array.from(cpu));
      expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    }
  });

  it.each([
    // x shape, indices shape, axis, batchDims
    [[7, 3], [5], 0, 0],
    [[7, 40], [9], 0, 0], // rows of 40: copied as runs within the heap
    [[3, 2, 24], [5], 1, 0],
    [[4, 9], [6], 1, 0],
    [[3, 5, 4], [2, 3], 1, 0],
    [[3, 5, 4], [4], -1, 0],
    [[6], [8], 0, 0],
    [[2, 5, 3], [2, 4], 1, 1],
    [[2, 3, 5, 2], [2, 3, 2], 2, 2],
    [[4, 3], [0], 0, 0], // no index: empty result
  ] as const)('GatherV2 of x %j by indices %j on axis %d (batchDims %d) matches cpu (float32, int32, bool), without leaking wasm memory', async (shape, ishape, axis, batchDims) => {
    const rng = new Rng(11);
    const x = randomArray(rng, shape.reduce((a, b) => a * b, 1));
    const ax = axis < 0 ? shape.length + axis : axis;
    const idx = Int32Array.from({ length: ishape.reduce((a, b) => a * b, 1) }, () => rng.int(shape[ax])); // repeats included
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const values = dtype === 'float32' ? x : Int32Array.from(x, (v) => (dtype === 'bool' ? +(v > 0) : Math.round(v * 100)));
      const f = () => {
        const out = tf.gather(tf.tensor(values, [...shape], dtype), tf.tensor(idx, [...ishape], 'int32'), axis, batchDims);
        return tf.concat([tf.tensor1d(out.shape, 'float32'), tf.reshape(tf.cast(out, 'float32'), [-1])]);
      };
      const cpu = await on('cpu', f);
      const dataIds = tf.engine().backend.numDataIds();
      expect(Array.from(await on('wasm', f))).toEqual(Array.from(cpu));
      expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    }
  });

  // An output allocation that grows the wasm heap detaches every view of the heap taken before it. GatherV2 once
  // read its indices' length through such a view after allocating, saw 0 and returned its output unwritten: the
  // factored softmax's first full distribution in a process whose heap was still small came out unnormalised.
  it('GatherV2, SplitV, Slice, Unpack and UnsortedSegmentSum on wasm are right when their output allocation grows the heap', async () => {
    await tf.setBackend('wasm');
    const wasm = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    const rng = new Rng(5);
    const rows = 64;
    const x = tf.tensor2d(randomArray(rng, rows * 100), [rows, 100]);
    const xv = x.dataSync();
    // an output larger than the whole heap now: its allocation must grow it
    const heapFloats = () => wasm.wasm.HEAPU8.length / 4;
    const wide = Math.ceil((heapFloats() + (1 << 20)) / rows);
    const idx = Int32Array.from({ length: wide }, (_, j) => (j * 37) % 100);
    let before = wasm.wasm.HEAPU8.length;
    const g = tf.gather(x, tf.tensor1d(idx, 'int32'), 1);
    expect(wasm.wasm.HEAPU8.length).toBeGreaterThan(before);
    const gv = g.dataSync();
    for (let r = 0; r < rows; r += 7) for (let j = 0; j < wide; j += 997) expect(gv[r * wide + j]).toBe(xv[r * 100 + idx[j]]);
    // splitting and slicing that output into two halves needs as much again: the heap grows once more
    before = wasm.wasm.HEAPU8.length;
    const half = Math.floor(wide / 2);
    const [a, b] = tf.split(g, [half, wide - half], 1);
    expect(wasm.wasm.HEAPU8.length).toBeGreaterThan(before);
    const av = a.dataSync();
    const bv = b.dataSync();
    for (let r = 0; r < rows; r += 7) {
      for (let j = 0; j < half; j += 991) expect(av[r * half + j]).toBe(gv[r * wide + j]);
      for (let j = 0; j < wide - half; j += 991) expect(bv[r * (wide - half) + j]).toBe(gv[r * wide + half + j]);
    }
    before = wasm.wasm.HEAPU8.length;
    const s = tf.slice(g, [1, 3], [rows - 1, wide - 3]);
    expect(wasm.wasm.HEAPU8.length).toBeGreaterThan(before);
    const sv = s.dataSync();
    for (let r = 0; r < rows - 1; r += 7) for (let j = 0; j < wide - 3; j += 991) expect(sv[r * (wide - 3) + j]).toBe(gv[(r + 1) * wide + 3 + j]);
    // unstacking it into rows, and a segment sum of its rows into twice as many segments
    before = wasm.wasm.HEAPU8.length;
    const rowsOf = tf.unstack(g);
    expect(wasm.wasm.HEAPU8.length).toBeGreaterThan(before);
    for (let r = 0; r < rows; r += 7) {
      const rv = rowsOf[r].dataSync();
      for (let j = 0; j < wide; j += 991) expect(rv[j]).toBe(gv[r * wide + j]);
    }
    before = wasm.wasm.HEAPU8.length;
    const ids = Int32Array.from({ length: rows }, (_, r) => (r * 5) % (2 * rows));
    const seg = tf.unsortedSegmentSum(g, tf.tensor1d(ids, 'int32'), 2 * rows);
    expect(wasm.wasm.HEAPU8.length).toBeGreaterThan(before);
    const segv = seg.dataSync();
    for (let r = 0; r < rows; r += 7) for (let j = 0; j < wide; j += 991) expect(segv[ids[r] * wide + j]).toBe(gv[r * wide + j]);
    expect(segv[1 * wide + 5]).toBe(0); // segment 1 gets no row
    tf.dispose([x, g, a, b, s, ...rowsOf, seg]);
  });

  it('Sum over leading axes on wasm adds each column row by row in float32 (the original\'s bits), keepDims and all', async () => {
    await tf.setBackend('wasm');
    const rng = new Rng(17);
    /** The obviously right reduction over the first `lead` axes: each column summed in turn, rounded to float32. */
    const reference = (v: Float32Array, rows: number, cols: number) =>
      Float32Array.from({ length: cols }, (_, j) => {
        let acc = 0;
        for (let i = 0; i < rows; i++) acc = Math.fround(acc + v[i * cols + j]);
        return acc;
      });
    const cases: Array<[number[], number[] | number, boolean]> = [
      [[4097, 33], 0, false], // rows not a multiple of 4
      [[4099, 36], 0, false], // columns a multiple of 4: the SIMD sums (kernels/simd.ts), three rows left over
      [[3, 8], 0, false], // fewer than four rows
      [[7, 2, 4], [0, 1], true],
      [[5, 6, 7, 8], [0, 1, 2], false], // a conv bias gradient's shape
      [[5, 6, 7, 8], [2, 1, 0], true], // axes in any order
      [[3, 4, 5], [-3, -2], false], // negative axes
      [[2, 3], [0], true],
      [[1, 9], 0, false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const size = shape.reduce((a, b) => a * b, 1);
      const v = Float32Array.from(randomArray(rng, size), (x, i) => (i % 11 === 0 ? x * 1e4 : x)); // uneven magnitudes: order matters
      const x = tf.tensor(v, shape);
      const y = tf.sum(x, axis, keepDims);
      const lead = Array.isArray(axis) ? axis.length : 1;
      const cols = shape.slice(lead).reduce((a, b) => a * b, 1);
      expect(y.shape).toEqual([...(keepDims ? new Array(lead).fill(1) : []), ...shape.slice(lead)]);
      expect({ shape, got: Array.from(y.dataSync()) }).toEqual({ shape, got: Array.from(reference(v, size / cols, cols)) });
      tf.dispose([x, y]);
    }
    // other reductions go to wasm's own kernel: compare them with cpu
    const v = randomArray(rng, 3 * 4 * 5);
    const others: Array<[number[] | number | undefined, 'float32' | 'int32']> = [[1, 'float32'], [[0, 2], 'float32'], [undefined, 'float32'], [0, 'int32'], [2, 'float32']];
    for (const [axis, dtype] of others) {
      const data = dtype === 'int32' ? Int32Array.from(v, (x) => Math.round(10 * x)) : v;
      const got = await on('wasm', () => tf.sum(tf.tensor(data, [3, 4, 5], dtype), axis));
      const want = await on('cpu', () => tf.sum(tf.tensor(data, [3, 4, 5], dtype), axis));
      expectClose(got, want);
    }
  });

  it('a bias gradient on wasm (the Sum of the Add\'s backward) equals the column sums of dy', async () => {
    await tf.setBackend('wasm');
    const rng = new Rng(18);
    const [n, k] = [37, 12];
    const z = tf.tensor2d(randomArray(rng, n * k), [n, k]);
    const dy = tf.tensor2d(randomArray(rng, n * k), [n, k]);
    const b = tf.zeros([k]);
    const gb = tf.grad((bias: tf.Tensor) => tf.sum(tf.mul(tf.add(z, bias), dy)))(b);
    const dv = dy.dataSync();
    const want = Array.from({ length: k }, (_, j) => {
      let acc = 0;
      for (let i = 0; i < n; i++) acc = Math.fround(acc + dv[i * k + j]);
      return acc;
    });
    expect(Array.from(gb.dataSync())).toEqual(want);
    tf.dispose([z, dy, b, gb]);
  });

  it('GatherV2 on wasm rejects an index outside [0, dim) naming it, as cpu does', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    expect(() => tf.gather(x, tf.tensor1d([0, 3], 'int32'))).toThrow(/index value 3 is not in \[0, 2\]/);
    expect(() => tf.gather(x, tf.tensor1d([-1], 'int32'), 1)).toThrow(/index value -1 is not in \[0, 1\]/);
    x.dispose();
  });

  it('gradient of tf.matMul matches cpu under wasm', async () => {
    const rng = new Rng(8);
    const a = randomArray(rng, 6 * 4);
    const b = randomArray(rng, 4 * 5);
    const g = () => {
      const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D))))([
        tf.tensor2d(a, [6, 4]),
        tf.tensor2d(b, [4, 5]),
      ]);
      return tf.concat([tf.reshape(ga, [-1]), tf.reshape(gb, [-1])]);
    };
    expectClose(await on('wasm', g), await on('cpu', g), 1e-5);
  });

  it('registerCpuKernels replaces cpu UnsortedSegmentSum with one giving the same values', async () => {
    const rng = new Rng(6);
    const x = randomArray(rng, 40 * 5);
    const ids = Int32Array.from({ length: 40 }, () => rng.int(12) - 1);
    const f = () => tf.unsortedSegmentSum(tf.tensor2d(x, [40, 5]), tf.tensor1d(ids, 'int32'), 11);
    const original = await on('cpu', f);
    const before = tf.getKernel('UnsortedSegmentSum', 'cpu');
    expect(registerCpuKernels()).toEqual(['UnsortedSegmentSum', 'VqvidIm2Col', 'VqvidCol2Im', 'VqvidIm2ColT']);
    expect(registerCpuKernels()).toEqual(['UnsortedSegmentSum', 'VqvidIm2Col', 'VqvidCol2Im', 'VqvidIm2ColT']);
    expect(tf.getKernel('UnsortedSegmentSum', 'cpu')).not.toBe(before);
    expectClose(await on('cpu', f), original);
  });

  it('keeps numTensors flat under repeated gather gradients on wasm', async () => {
    await tf.setBackend('wasm');
    const e = tf.variable(tf.randomNormal([50, 8], 0, 1, 'float32', 4));
    const idx = tf.tensor1d([3, 1, 4, 1, 5, 9, 2, 6], 'int32');
    const step = () => tf.tidy(() => tf.variableGrads(() => tf.sum(tf.square(tf.gather(e, idx)))).value);
    step().dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step().dispose();
    expect(tf.memory().numTensors).toBe(before);
    e.dispose();
    idx.dispose();
  });
});

describe('valuesInPlace', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['wasm', 'cpu'])('%s: the values of each tensor, every view taken after the last allocation', async (backend) => {
    registerWasmKernels();
    await tf.setBackend(backend);
    const rng = new Rng(17);
    const before = tf.memory().numTensors;
    const small = tf.tensor2d(randomArray(rng, 6 * 7), [6, 7]);
    // a large allocation after `small` was placed (it may grow the wasm heap)
    const large = tf.tensor1d(randomArray(rng, 1 << 22));
    const made = tf.tidy(() => tf.add(small, 1));
    const views = [small, large, made].map(valuesInPlace);
    [small, large, made].forEach((t, i) => expect(Array.from(views[i])).toEqual(Array.from(t.dataSync() as Float32Array)));
    expect(() => valuesInPlace(tf.tensor1d([1, 2], 'int32'))).toThrow(/float32/);
    tf.dispose([small, large, made]);
    expect(tf.memory().numTensors).toBe(before + 1); // the int32 tensor made for the error case
  });
});
