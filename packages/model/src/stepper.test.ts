import * as tf from '@tensorflow/tfjs-core';
import { sliceCodes, VqvidError } from '@vqvid/core';
import { initBackend, RCNN } from './index';
import { motionCodes, randomCodes } from './testing';

beforeAll(async () => {
  await initBackend(['wasm']);
});

describe('RCNN.stepper', () => {
  it.each([
    ['tanh, full softmax', { k: 4, embedDim: 4, hidden: 6, seed: 4 }],
    ['gru, copy-aware', { k: 6, embedDim: 4, hidden: 5, seed: 2, cell: 'gru' as const, copy: true }],
  ])('gives frame by frame exactly predictDistribution of the same frames (%s), with flat tensor counts', async (_, opts) => {
    const m = new RCNN(opts);
    const codes = opts.k === 4 ? motionCodes(7) : randomCodes(7, 5, 6, opts.k, 3);
    await m.fit(codes, { epochs: 1, stepsPerEpoch: 2, batch: 2, bptt: 3, lr: 0.01, seed: 1 });
    const n = codes.rows * codes.cols;
    const s = m.stepper(codes.rows, codes.cols);
    expect(s.identity.kind).toBe('rcnn');
    expect(s.identity.backend).toBe('wasm');
    s.next(codes.codes.subarray(0, n)); // warm-up allocations
    const before = tf.memory().numTensors;
    for (let t = 1; t < codes.frames; t++) {
      const probs = s.next(codes.codes.subarray(t * n, (t + 1) * n));
      const want = m.predictDistribution(sliceCodes(codes, 0, t + 1)).probs!;
      expect(probs).toEqual(want); // bit for bit: the same ops in the same order
      expect(tf.memory().numTensors).toBe(before);
    }
    s.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
    m.dispose();
  });

  it('has a checksum that changes with any weight and a backend in its identity', async () => {
    const a = new RCNN({ k: 4, embedDim: 4, hidden: 6, seed: 4 });
    const b = new RCNN({ k: 4, embedDim: 4, hidden: 6, seed: 5 });
    const same = new RCNN({ k: 4, embedDim: 4, hidden: 6, seed: 4 });
    expect(a.stepper(2, 2).identity.checksum).toBe(same.stepper(2, 2).identity.checksum);
    expect(a.stepper(2, 2).identity.checksum).not.toBe(b.stepper(2, 2).identity.checksum);
    expect(() => a.stepper(2, 2).next(new Int32Array(3))).toThrow(VqvidError);
    for (const m of [a, b, same]) m.dispose();
  });

  it('wasm and cpu agree within 1e-5 but not bit for bit (so compressed files record the backend)', async () => {
    const m = new RCNN({ k: 16, embedDim: 8, hidden: 12, seed: 7, kernel: 3 });
    const codes = randomCodes(4, 6, 7, 16, 9);
    const n = codes.rows * codes.cols;
    const run = () => {
      const s = m.stepper(codes.rows, codes.cols);
      const out = [0, 1, 2].map((t) => s.next(codes.codes.subarray(t * n, (t + 1) * n)));
      s.dispose();
      return out;
    };
    const onWasm = run();
    await tf.setBackend('cpu');
    try {
      expect(m.stepper(1, 1).identity.backend).toBe('cpu');
      const onCpu = run();
      let identical = true;
      onWasm.forEach((p, t) => {
        for (let i = 0; i < p.length; i++) {
          expect(Math.abs(p[i] - onCpu[t][i])).toBeLessThan(1e-5);
          if (p[i] !== onCpu[t][i]) identical = false;
        }
      });
      expect(identical).toBe(false);
    } finally {
      await tf.setBackend('wasm');
      m.dispose();
    }
  });
});
