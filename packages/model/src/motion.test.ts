import { sliceCodes } from '@vqvid/core';
import { initBackend, RCNN, RNN } from './index';
import { motionCodes } from './testing';

// Two objects bouncing on an 8x8 grid (see motionCodes): the next frame is a deterministic function of the
// last two frames in a 5x5 neighbourhood, so the rCNN can learn it exactly; a per-cell RNN cannot see motion
// arriving from a neighbour.
// The exactness checks use the same-cell bigram prior: the default spatial prior counts, for a cell beside a
// moving block, both directions under one 5-code context, and after this budget still outweighs the network at
// 2 of 64 cells on some frames (its own test below).
// They also keep the gate as trained (adapt: false): with online adaptation, at t = 3 one cell near a tie flips
// after a +0.06 prior offset fitted on the one 64-cell frame observed so far.
const model = { k: 4, embedDim: 6, hidden: 12, seed: 1, prior: 'bigram' as const, adapt: false };
// 8 epochs: at 6 the exact-prediction check sat at the edge of the budget. Seeds 2 and 6 missed 2 cells at t = 3 and
// t = 17 (a bounce) with the gradient of before, and seed 1 missed 1 there once the softmax gradient's rounding changed
// (dy·e/s from the forward pass's exps, weights within 1.4e-6 of before). At 8 epochs seeds 1, 3, 4 and 6 pass.
const fit = { epochs: 8, stepsPerEpoch: 25, lr: 0.03, batch: 4, bptt: 5, lrDecay: 0.8 };
const train = [0, 3, 6, 9].map((phase) => motionCodes(40, phase));
const test = motionCodes(24, 5);

function nextFrameCorrect(m: RCNN, t: number): boolean {
  const pred = m.predictNext(sliceCodes(test, 0, t));
  const truth = sliceCodes(test, t, t + 1);
  return pred.codes.every((c, i) => c === truth.codes[i]);
}

describe('synthetic deterministic motion', () => {
  let rcnnBits = NaN;

  beforeAll(async () => {
    await initBackend(['wasm']);
  });

  it('the rCNN drives bits/code close to 0 and predicts the motion exactly', async () => {
    const m = new RCNN(model);
    const r = await m.fit(train, fit);
    expect(r.epochs[5].loss).toBeLessThan(r.epochs[0].loss);
    rcnnBits = m.evaluate(test).bitsPerCode;
    expect(rcnnBits).toBeLessThan(0.1);
    // every next frame once the context shows the direction (two frames)
    for (let t = 2; t < test.frames; t++) expect([t, nextFrameCorrect(m, t)]).toEqual([t, true]);
    // feeding predictions back keeps following the motion
    const gen = m.generate(sliceCodes(test, 0, 10), 3);
    expect(Array.from(gen.codes)).toEqual(Array.from(sliceCodes(test, 10, 13).codes));
    // the paper's filling protocol: 3 missing frames between two known ones are recovered exactly, wherever the
    // gap falls (including gaps where an object bounces off the grid edge)
    for (const t of [4, 9, 14, 18]) {
      const filled = m.fill(sliceCodes(test, 0, t), sliceCodes(test, t + 3, t + 4), { missing: 3 });
      expect([t, Array.from(filled.codes)]).toEqual([t, Array.from(sliceCodes(test, t, t + 3).codes)]);
    }
    m.dispose();
  });

  it('with the default spatial prior the rCNN learns the motion too: bits/code < 0.1, at most 2 cells wrong per frame', async () => {
    const m = new RCNN({ ...model, prior: undefined });
    expect(m.config.prior).toBe('spatial');
    await m.fit(train, fit);
    expect(m.evaluate(test).bitsPerCode).toBeLessThan(0.1);
    let wrongFrames = 0;
    for (let t = 2; t < test.frames; t++) {
      const pred = m.predictNext(sliceCodes(test, 0, t)).codes;
      const truth = sliceCodes(test, t, t + 1).codes;
      const wrong = pred.filter((c, i) => c !== truth[i]).length;
      expect([t, wrong <= 2]).toEqual([t, true]);
      if (wrong > 0) wrongFrames++;
    }
    expect(wrongFrames).toBeLessThan((test.frames - 2) / 2);
    m.dispose();
  });

  it('the per-cell RNN (kernel 1) cannot: clearly more bits/code and wrong next frames', async () => {
    const m = new RNN(model);
    await m.fit(train, fit);
    const bits = m.evaluate(test).bitsPerCode;
    expect(bits).toBeGreaterThan(0.25);
    expect(bits).toBeGreaterThan(3 * rcnnBits);
    const wrong = Array.from({ length: test.frames - 2 }, (_, i) => i + 2).filter((t) => !nextFrameCorrect(m, t));
    expect(wrong.length).toBeGreaterThan((test.frames - 2) / 2);
    m.dispose();
  });
});
