import * as tf from '@tensorflow/tfjs-core';
import { Rng, VqvidError } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { initBackend, RCNN } from '@vqvid/model';
import { syntheticVideo } from '@vqvid/video';
import { PatchCodec } from '@vqvid/quantize';
import { unigramFrame0Bits } from './test-helpers';
import { CodesDecoder, compressCodes, decompressCodes } from './index';

let codes: CodeVolume;
let model: RCNN;
beforeAll(async () => {
  await initBackend(['wasm']);
  const video = syntheticVideo({ kind: 'bouncing', width: 64, height: 48, frames: 14, seed: 2 });
  const codec = await PatchCodec.fit(video, { k: 16, patch: 8, stride: 8, seed: 1 });
  codes = await codec.encode(video);
  model = new RCNN({ k: 16, embedDim: 6, hidden: 8, seed: 3 });
  await model.fit(codes, { epochs: 1, stepsPerEpoch: 4, batch: 2, bptt: 4, lr: 0.02, seed: 1 });
});
afterAll(() => model.dispose());

describe('compressing with an RCNN', () => {
  it('round-trips the codes of the synthetic clip bit for bit, within 1% + framing of the model bits, tensors flat', () => {
    const before = tf.memory().numTensors;
    const bytes = compressCodes(codes, model, { chunkBytes: 0 });
    const back = decompressCodes(bytes, model);
    expect(tf.memory().numTensors).toBe(before);
    expect(back.codes.codes).toEqual(codes.codes);
    expect(back.codes.geometry).toEqual(codes.geometry);
    expect(back.header.model.kind).toBe('rcnn');
    expect(back.header.model.backend).toBe('wasm');
    const modelBits = -model.logProb(codes).reduce((a, b) => a + b, 0) / Math.LN2 + unigramFrame0Bits(codes);
    const stream = bytes.length - 8 - new DataView(bytes.buffer).getUint32(4, true);
    const framing = 19 * codes.frames + 12;
    expect(stream).toBeLessThanOrEqual((modelBits / 8) * 1.01 + framing);
    expect(stream).toBeGreaterThanOrEqual((modelBits / 8) * 0.99);
  });

  it('streams: a decoder fed random-sized pieces gives the same frames', () => {
    const bytes = compressCodes(codes, model, { chunkBytes: 0 });
    const dec = new CodesDecoder(model);
    const rng = new Rng(4);
    const frames: Int32Array[] = [];
    for (let at = 0; at < bytes.length; ) {
      const step = 1 + rng.int(40);
      frames.push(...dec.push(bytes.subarray(at, at + step)));
      at += step;
    }
    dec.finish();
    const n = codes.rows * codes.cols;
    expect(frames.length).toBe(codes.frames);
    frames.forEach((f, t) => expect(Array.from(f)).toEqual(Array.from(codes.codes.subarray(t * n, (t + 1) * n))));
  });

  it('refuses another RCNN (E_FORMAT) and the cpu backend for a file made on wasm (E_STATE)', async () => {
    const bytes = compressCodes(codes, model);
    const other = new RCNN({ k: 16, embedDim: 6, hidden: 8, seed: 4 });
    try {
      expect(() => decompressCodes(bytes, other)).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    } finally {
      other.dispose();
    }
    await tf.setBackend('cpu');
    try {
      let err: unknown;
      try {
        decompressCodes(bytes, model);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VqvidError);
      expect((err as VqvidError).code).toBe('E_STATE');
      expect((err as VqvidError).message).toContain('wasm');
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
