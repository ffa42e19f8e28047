import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { sliceCodes } from '@vqvid/core';
import { readStore, writeStore } from './persist';
import { initBackend, RCNN, RNN } from './index';
import { MixtureOutput } from './output';
import { motionCodes } from './testing';

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
  expect(m.config.prior).toBe('bigram');
  expect(m.output).toBeInstanceOf(MixtureOutput);
  expect((m.output as MixtureOutput).components).toEqual(['net', 'copy', 'prior']);
  const plain = new RCNN({ ...small, copy: false, prior: 'none' });
  expect(plain.output).not.toBeInstanceOf(MixtureOutput);
  expect(() => new RCNN({ ...small, prior: 'trigram' as 'bigram' })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  m.dispose();
  plain.dispose();
});

test('fit counts the prior and starts the gate at the EM mixture weights: before any step the model beats uniform', async () => {
  const codes = motionCodes(12);
  const m = new RNN(small);
  await m.fit(codes, { epochs: 0 });
  const out = m.output as MixtureOutput;
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
  expect((back.output as MixtureOutput).prior?.pairs).toBe((m.output as MixtureOutput).prior?.pairs);

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
  expect(loaded.output).not.toBeInstanceOf(MixtureOutput);
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
