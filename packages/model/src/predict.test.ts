import * as tf from '@tensorflow/tfjs-core';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import type { CodeVolume, Video } from '@vqvid/core';
import { PatchCodec } from '@vqvid/quantize';
import { syntheticVideo } from '@vqvid/video';
import { initBackend, RCNN } from './index';
import type { ModelOptions } from './config';

let video: Video;
let codec: PatchCodec;
let codes: CodeVolume;
const K = 30;
const quick = { epochs: 1, stepsPerEpoch: 3, batch: 2, bptt: 3, lr: 0.01 };

beforeAll(async () => {
  await initBackend(['wasm']);
  video = syntheticVideo({ kind: 'bouncing', width: 32, height: 24, frames: 10, seed: 3 });
  codec = await PatchCodec.fit(video, { k: K, seed: 1, maxIter: 5, backend: 'cpu', sample: 2000 });
  codes = await codec.encode(video);
});
afterAll(() => codec.dispose());

const maxDiff = (a: Video, b: Video): number => a.data.reduce((d, x, i) => Math.max(d, Math.abs(x - b.data[i])), 0);

describe('predictFrames from top candidates renders what the dense path renders', () => {
  const models: Array<[string, ModelOptions]> = [
    ['full softmax, copy + bigram', { k: K }],
    ['factored softmax, copy + bigram', { k: K, softmax: 'factored', classes: 5 }],
    ['factored softmax, plain', { k: K, softmax: 'factored', classes: 5, copy: false, prior: 'none' }],
    ['full softmax, direct', { k: K, direct: true, copy: false, prior: 'none' }],
  ];
  test.each(models)('%s: every decoder, with and without the motion search, 3 steps', async (_, options) => {
    const m = new RCNN({ embedDim: 6, hidden: 8, seed: 5, ...options });
    await m.fit(sliceCodes(codes, 0, 8), quick);
    const context = sliceCodes(codes, 0, 6);
    const reference = sliceVideo(video, 5);
    for (const decoder of ['centroid', 'skip', 'mbr', 'mean'] as const) {
      for (const search of [0, 2]) {
        const render = { codec, reference, decoder, search, topM: 6, alpha: 0.8 };
        const spy = jest.spyOn(codec, 'decodeCandidates');
        const dense = m.predictFrames(context, 3, { ...render, dense: true });
        expect(spy).toHaveBeenCalledTimes(0);
        const top = m.predictFrames(context, 3, render);
        // every step took the top path (its lists were proven exact)
        expect(spy).toHaveBeenCalledTimes(3);
        spy.mockRestore();
        // pixels 0..255: the probabilities differ by float rounding only (1e-6), which moves the weighted decoders slightly
        expect(maxDiff(top, dense)).toBeLessThan(1e-3);
      }
    }
    // no tensor is left behind by the top path
    m.predictFrames(context, 2, { codec, reference });
    const before = tf.memory().numTensors;
    for (let r = 0; r < 3; r++) m.predictFrames(context, 2, { codec, reference });
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  test('a class beam (opt-in) renders a frame, and with a beam of every class it is the exact frame', async () => {
    const m = new RCNN({ k: K, embedDim: 6, hidden: 8, seed: 6, softmax: 'factored', classes: 5 });
    await m.fit(sliceCodes(codes, 0, 8), quick);
    const context = sliceCodes(codes, 0, 6);
    const reference = sliceVideo(video, 5);
    const exact = m.predictFrames(context, 2, { codec, reference, decoder: 'mbr', dense: true });
    expect(maxDiff(m.predictFrames(context, 2, { codec, reference, decoder: 'mbr', classBeam: 5 }), exact)).toBeLessThan(1e-3);
    const beam = m.predictFrames(context, 2, { codec, reference, decoder: 'mbr', classBeam: 1 });
    expect(beam.frames).toBe(2);
    expect(beam.data.every(Number.isFinite)).toBe(true);
    expect(() => m.predictFrames(context, 1, { codec, reference, classBeam: 0 })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
    m.dispose();
  });
});

describe('a prediction that fails part way leaves no tensor behind', () => {
  test('a renderer that throws at step 2 (predictFrames), a source or a stepper that rejects (predictFramesAsync)', async () => {
    const m = new RCNN({ k: K, embedDim: 6, hidden: 8, seed: 7, softmax: 'factored', classes: 5, copy: false, prior: 'none' });
    await m.fit(sliceCodes(codes, 0, 8), quick);
    const context = sliceCodes(codes, 0, 6);
    const reference = sliceVideo(video, 5);
    m.predictFrames(context, 2, { codec, reference });
    const before = tf.memory().numTensors;
    let calls = 0;
    const failing = Object.create(codec) as PatchCodec;
    failing.decodeCandidates = (...args: Parameters<PatchCodec['decodeCandidates']>) => {
      if (++calls === 2) throw new Error('renderer gave out');
      return codec.decodeCandidates(...args);
    };
    expect(() => m.predictFrames(context, 3, { codec: failing, reference })).toThrow('renderer gave out');
    expect(calls).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    const source = { k: K, hidden: 8, logCandidatesAsync: () => Promise.reject(new Error('source gave out')) };
    await expect(m.predictFramesAsync(context, 2, { codec, reference, source })).rejects.toThrow('source gave out');
    expect(tf.memory().numTensors).toBe(before);
    let steps = 0;
    const stepper = {
      stepAsync: async (h: Float32Array) => {
        if (++steps === 3) throw new Error('stepper gave out');
        return new Float32Array(h.length);
      },
    };
    await expect(m.predictFramesAsync(context, 2, { codec, reference, source, stepper })).rejects.toThrow('stepper gave out');
    expect(steps).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});
