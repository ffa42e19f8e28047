import * as tf from '@tensorflow/tfjs-core';
import { sliceCodes, VqvidError } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { FEATURE_LAYERS, initBackend, RCNN } from './index';
import type { CellFeatures } from './index';
import { partsOf } from './internals';
import { motionCodes, naiveConvStack, randomCodes } from './testing';

beforeAll(async () => {
  await initBackend(['wasm']);
});

const tiny = { k: 4, embedDim: 3, hidden: 5, kernel: 3, layers: 2, seed: 7 };
const codes = motionCodes(6, 1, 5, 6);

/** The feature vector of cell i of frame t. */
function at(f: CellFeatures, t: number, i: number): Float32Array {
  const n = f.rows * f.cols;
  return f.data.subarray((t * n + i) * f.dims, (t * n + i + 1) * f.dims);
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeLessThanOrEqual(tol);
}

/**
 * Slow float64 reference of the input drive of one frame, cell by cell: each conv layer sums, over the kernel
 * window around the cell (zero outside the grid), the previous layer's vectors times the layer's weights.
 */
function naiveDrive(m: RCNN, volume: CodeVolume, t: number): Float64Array[] {
  const { kernel, layers, embedDim } = m.config;
  const w = partsOf(m).net.snapshot();
  const { rows, cols } = volume;
  const E = w.get('embedding')!;
  const cells = Array.from({ length: rows * cols }, (_, i) => Float64Array.from(E.subarray(volume.codes[t * rows * cols + i] * embedDim, (volume.codes[t * rows * cols + i] + 1) * embedDim)));
  return naiveConvStack(cells, rows, cols, kernel, layers, w);
}

describe.each(['tanh', 'gru'] as const)('RCNN.features (%s cell)', (cell) => {
  let m: RCNN;
  beforeAll(async () => {
    // adapt: false: the reference below runs the output layer on the state as trained (no gate offsets)
    m = new RCNN({ ...tiny, cell, adapt: false });
    // no training steps: builds the output layer and its counted prior, so predictDistribution runs
    await m.fit(codes, { epochs: 0 });
  });
  afterAll(() => m.dispose());

  test("'hidden' at frame t is the state predictDistribution reads after frames 0..t", () => {
    const f = m.features(codes, { layer: 'hidden' });
    const n = codes.rows * codes.cols;
    expect(f).toMatchObject({ frames: codes.frames, rows: codes.rows, cols: codes.cols, dims: tiny.hidden });
    expect(f.data.length).toBe(codes.frames * n * tiny.hidden);
    const parts = partsOf(m);
    for (let t = 0; t < codes.frames; t++) {
      const context = sliceCodes(codes, 0, t + 1);
      const h = parts.stateAfter(context);
      expectClose(f.data.subarray(t * n * f.dims, (t + 1) * n * f.dims), h.dataSync(), 1e-6);
      h.dispose();
      // the output layer on the feature gives the model's own next-frame distribution
      const logp = parts.nextLogProbs(tf.tensor2d(f.data.subarray(t * n * f.dims, (t + 1) * n * f.dims), [n, f.dims]), context.codes.subarray(t * n), codes.rows, codes.cols);
      expectClose(Float32Array.from(logp, Math.exp), m.predictDistribution(context).probs!, 1e-6);
    }
  });

  test("'input-drive' at frame t equals a naive per-cell convolution of frame t alone", () => {
    const f = m.features(codes, { layer: 'input-drive' });
    const gates = cell === 'gru' ? 3 : 1;
    expect(f.dims).toBe(gates * tiny.hidden);
    for (let t = 0; t < codes.frames; t++) {
      naiveDrive(m, codes, t).forEach((ref, i) => expectClose(at(f, t, i), ref, 1e-5));
    }
    // no temporal context: frame t's drive does not depend on the frames before it
    const alone = m.features(sliceCodes(codes, 3, 4), { layer: 'input-drive' });
    expectClose(alone.data, f.data.subarray(3 * alone.data.length, 4 * alone.data.length), 0);
  });
});

test('features of many frames batch the input drive without changing it, and free every tensor', () => {
  const m = new RCNN({ ...tiny, k: 16 });
  const long = randomCodes(40, 32, 33, 16, 3);
  const start = tf.memory().numTensors;
  const all = m.features(long, { layer: 'input-drive' });
  const hidden = m.features(long);
  expect(tf.memory().numTensors).toBe(start);
  expect(hidden.dims).toBe(tiny.hidden);
  const n = long.rows * long.cols;
  for (const t of [0, 30, 39]) {
    const one = m.features(sliceCodes(long, t, t + 1), { layer: 'input-drive' });
    expectClose(one.data, all.data.subarray(t * n * all.dims, (t + 1) * n * all.dims), 1e-6);
  }
  m.dispose();
});

test('features: E_SHAPE for codes of another k or a wrong grid, E_RANGE for an unknown layer', () => {
  const m = new RCNN(tiny);
  const fails = (f: () => unknown, code: string, arg: string) => {
    const e = (() => {
      try {
        f();
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(VqvidError);
    expect((e as VqvidError).code).toBe(code);
    expect((e as VqvidError).message).toContain(arg);
  };
  const start = tf.memory().numTensors;
  fails(() => m.features({ ...codes, k: 8 }), 'E_SHAPE', 'codes.k');
  fails(() => m.features({ ...codes, rows: 4 }), 'E_SHAPE', 'codes.codes.length');
  fails(() => m.features(codes, { layer: 'output' as never }), 'E_RANGE', 'opts.layer');
  expect(tf.memory().numTensors).toBe(start);
  expect(FEATURE_LAYERS).toEqual(['hidden', 'input-drive']);
  m.dispose();
});
