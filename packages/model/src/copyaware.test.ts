import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import { readStore, writeStore } from './persist';
import { initBackend, RCNN, RNN } from './index';
import { MixtureOutput } from './output';
import { motionCodes } from './testing';
import { partsOf } from './internals';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-copyaware-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const small = { k: 4, embedDim: 6, hidden: 8, seed: 4 };
const quick = { epochs: 1, stepsPerEpoch: 4, batch: 2, bptt: 3, lr: 0.01 };

test('a new model has the copy-aware output with a counted prior; the plain output is one option away', () => {
  const m = new RCNN(small);
  expect(m.config.copy).toBe(true);
  expect(m.config.prior).toBe('spatial');
  expect(partsOf(m).output).toBeInstanceOf(MixtureOutput);
  expect((partsOf(m).output as MixtureOutput).components).toEqual(['net', 'copy', 'prior']);
  expect((partsOf(m).output as MixtureOutput).width).toBe(5);
  // the RNN has no spatial context: its default prior is the same-cell bigram; an explicit prior is kept
  const rnn = new RNN(small);
  expect(rnn.config.prior).toBe('bigram');
  expect((partsOf(rnn).output as MixtureOutput).width).toBe(1);
  const rnnSpatial = new RNN({ ...small, prior: 'spatial' });
  const rcnnBigram = new RCNN({ ...small, prior: 'bigram' });
  expect(rnnSpatial.config.prior).toBe('spatial');
  expect(rcnnBigram.config.prior).toBe('bigram');
  for (const x of [rnn, rnnSpatial, rcnnBigram]) x.dispose();
  const plain = new RCNN({ ...small, copy: false, prior: 'none' });
  expect(partsOf(plain).output).not.toBeInstanceOf(MixtureOutput);
  expect(() => new RCNN({ ...small, prior: 'trigram' as 'bigram' })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  m.dispose();
  plain.dispose();
});

test('fit counts the prior and starts the gate at the EM mixture weights: before any step the model beats uniform', async () => {
  const codes = motionCodes(12);
  const m = new RNN(small);
  await m.fit(codes, { epochs: 0 });
  const out = partsOf(m).output as MixtureOutput;
  expect(out.prior).not.toBeNull();
  expect(out.gatesAreFresh()).toBe(false);
  // motionCodes keep most cells: the untrained mixture is already far below log2(4) = 2 bits
  const bits = m.evaluate(motionCodes(8, 1)).bitsPerCode;
  expect(bits).toBeLessThan(1);
  m.dispose();
});

test('save/load keeps the mixture and its prior exactly; a model file from before the mixture still loads as a plain model', async () => {
  const m = new RCNN(small);
  await m.fit(motionCodes(10), quick);
  const dir = path.join(tmp, 'mix');
  await m.save(dir);
  const probe = motionCodes(5, 2);
  const back = await RCNN.load(dir);
  expect(Array.from(back.logProb(probe))).toEqual(Array.from(m.logProb(probe)));
  expect((partsOf(back).output as MixtureOutput).prior?.pairs).toBe((partsOf(m).output as MixtureOutput).prior?.pairs);

  // an older file: a plain model whose config has no copy/prior fields
  const plain = new RCNN({ ...small, copy: false, prior: 'none' });
  await plain.fit(motionCodes(10), quick);
  const old = path.join(tmp, 'old');
  await plain.save(old);
  const { header, arrays } = await readStore(old, 'model');
  const config = { ...(header.config as Record<string, unknown>) };
  delete config.copy;
  delete config.prior;
  await writeStore(old, 'model', { ...header, config }, arrays);
  const loaded = await RCNN.load(old);
  expect(loaded.config.copy).toBe(false);
  expect(partsOf(loaded).output).not.toBeInstanceOf(MixtureOutput);
  expect(Array.from(loaded.logProb(probe))).toEqual(Array.from(plain.logProb(probe)));
  for (const x of [m, back, plain, loaded]) x.dispose();
});

test('fillDistribution: a posterior per cell over its candidates whose argmax is the filled code', async () => {
  const codes = motionCodes(14);
  const m = new RCNN(small);
  await m.fit(codes, { ...quick, epochs: 2 });
  const before = sliceCodes(codes, 0, 9);
  const after = sliceCodes(codes, 10, 11);
  const opts = { candidates: 3, sweeps: 20 };
  const filled = m.fill(before, after, opts);
  const d = m.fillDistribution(before, after, opts);
  const n = codes.rows * codes.cols;
  for (let i = 0; i < n; i++) {
    const row = d.probs!.subarray(i * 4, (i + 1) * 4);
    expect(Math.abs(row.reduce((s, p) => s + p, 0) - 1)).toBeLessThan(1e-5);
    expect(row.filter((p) => p > 0).length).toBeLessThanOrEqual(3);
    let best = 0;
    for (let c = 1; c < 4; c++) if (row[c] > row[best]) best = c;
    expect(best).toBe(filled.codes[i]);
    expect(d.entropy[i]).toBeGreaterThanOrEqual(0);
    expect(d.entropy[i]).toBeLessThanOrEqual(Math.log2(3) + 1e-5);
  }
  m.dispose();
});

test('training and prediction with the mixture keep numTensors flat', async () => {
  const m = new RCNN(small);
  const codes = motionCodes(10);
  await m.fit(codes, quick);
  const start = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    await m.fit(codes, quick);
    m.predictDistribution(codes);
    m.fillDistribution(sliceCodes(codes, 0, 5), sliceCodes(codes, 6, 7), { candidates: 2, sweeps: 1 });
  }
  expect(tf.memory().numTensors).toBe(start);
  m.dispose();
});

describe('pixels: predictFrames and fillFrame render through a codec', () => {
  it("'skip' at alpha 1 equals the codec's own skip decode of the argmax codes (an independent implementation)", async () => {
    const { PatchCodec } = await import('@vqvid/quantize');
    const { syntheticVideo } = await import('@vqvid/video');
    const video = syntheticVideo({ kind: 'bouncing', width: 32, height: 32, frames: 10, seed: 2 });
    const codec = await PatchCodec.fit(video, { k: 8, seed: 1, maxIter: 5, backend: 'cpu', sample: 2000 });
    const codes = await codec.encode(video);
    const m = new RCNN({ k: 8, embedDim: 6, hidden: 8, seed: 5 });
    await m.fit(sliceCodes(codes, 0, 8), quick);
    const context = sliceCodes(codes, 0, 6);
    const reference = sliceVideo(video, 5);
    const got = m.predictFrames(context, 3, { codec, reference, decoder: 'skip' });
    const argmax = m.generate(context, 3, { mode: 'argmax' });
    const want = codec.decode({ ...argmax, geometry: codes.geometry }, { reference, referenceCodes: context });
    expect(got.frames).toBe(3);
    let diff = 0;
    for (let i = 0; i < want.data.length; i++) diff = Math.max(diff, Math.abs(got.data[i] - want.data[i]));
    expect(diff).toBeLessThan(1e-3);
    // 'mean' at alpha 0 renders every cell as the reference patch: the first frame is the last real frame
    const still = m.predictFrames(context, 1, { codec, reference, decoder: 'mean', alpha: 0 });
    for (let i = 0; i < still.data.length; i++) expect(Math.abs(still.data[i] - reference.data[i])).toBeLessThan(1e-3);
    // fill at alpha 0 is the linear interpolation of its two frames
    const next = sliceVideo(video, 7);
    const mid = m.fillFrame(context, sliceCodes(codes, 7, 8), { codec, reference, next, decoder: 'mbr', alpha: 0, candidates: 2, sweeps: 1 });
    for (let i = 0; i < mid.data.length; i++) expect(Math.abs(mid.data[i] - (reference.data[i] + next.data[i]) / 2)).toBeLessThan(1e-3);
    expect(() => m.predictFrames({ ...context, geometry: undefined }, 1, { codec, reference })).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    m.dispose();
    codec.dispose();
  });
});

test('a model records the codebook checksum of its training codes, keeps it through save/load, and refuses codes of another codebook', async () => {
  const withBook = (v: ReturnType<typeof motionCodes>, codebook: string) => ({ ...v, geometry: { patch: 8, stride: 8, width: 64, height: 64, std: 1, codebook } });
  const m = new RCNN(small);
  expect(m.codebook).toBeNull();
  await m.fit(withBook(motionCodes(10), 'aaaa0001'), quick);
  expect(m.codebook).toBe('aaaa0001');
  expect(m.evaluate(withBook(motionCodes(5, 1), 'aaaa0001')).count).toBe(4 * 64);
  expect(() => m.evaluate(withBook(motionCodes(5, 1), 'bbbb0002'))).toThrow(expect.objectContaining({ code: 'E_SHAPE', message: expect.stringContaining('codes.geometry.codebook') }));
  expect(() => m.predictNext(withBook(motionCodes(5, 1), 'bbbb0002'))).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  // codes without a checksum (bare volumes) are still accepted
  expect(m.evaluate(motionCodes(5, 1)).count).toBe(4 * 64);
  await expect(m.fit(withBook(motionCodes(10), 'bbbb0002'), quick)).rejects.toMatchObject({ code: 'E_SHAPE' });
  const dir = path.join(tmp, 'book');
  await m.save(dir);
  const back = await RCNN.load(dir);
  expect(back.codebook).toBe('aaaa0001');
  // a file from before the checksum: no codebook recorded, nothing refused
  const { header, arrays } = await readStore(dir, 'model');
  const { codebook: _, ...old } = header;
  await writeStore(dir, 'model', old, arrays);
  const legacy = await RCNN.load(dir);
  expect(legacy.codebook).toBeNull();
  expect(legacy.evaluate(withBook(motionCodes(5, 1), 'bbbb0002')).count).toBe(4 * 64);
  for (const x of [m, back, legacy]) x.dispose();
});
