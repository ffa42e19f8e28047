/**
 * Every code model of the family, counted or learned, is one CodeModel: the same k, evaluate, logProb and
 * predictNext, so the CLI, the bench and the demo can loop over a list of them.
 */
import type { CodeModel, CodeVolume } from '@vqvid/core';
import { sliceCodes, summarizeLogProbs } from '@vqvid/core';
import { BigramModel, CopyPreviousModel, SpatialNgramModel, UnigramModel } from '@vqvid/baselines';
import { initBackend, RCNN, RNN } from '@vqvid/model';

function stickyCodes(frames: number, rows: number, cols: number, k: number, seed: number): CodeVolume {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const codes = new Uint16Array(frames * rows * cols);
  const n = rows * cols;
  for (let i = 0; i < codes.length; i++) codes[i] = i >= n && rand() < 0.7 ? codes[i - n] : Math.floor(rand() * k);
  return { rows, cols, frames, k, codes };
}

test('unigram, bigram, spatial n-gram, copy-previous, RNN and RCNN all score codes as CodeModels', async () => {
  await initBackend(['wasm']);
  const train = stickyCodes(12, 4, 5, 6, 3);
  const a = stickyCodes(5, 4, 5, 6, 4);
  const b = stickyCodes(3, 4, 5, 6, 5);
  const rcnn = new RCNN({ k: 6, embedDim: 4, hidden: 6, seed: 2 });
  const rnn = new RNN({ k: 6, embedDim: 4, hidden: 6, seed: 2 });
  await rcnn.fit(train, { epochs: 1, stepsPerEpoch: 2, batch: 2, bptt: 3 });
  await rnn.fit(train, { epochs: 1, stepsPerEpoch: 2, batch: 2, bptt: 3 });
  const models: Array<[string, CodeModel]> = [
    ['unigram', new UnigramModel().fit(train)],
    ['bigram', new BigramModel().fit(train)],
    ['spatial', new SpatialNgramModel().fit(train)],
    ['copy-previous', new CopyPreviousModel().fit(train, { validation: a })],
    ['rnn', rnn],
    ['rcnn', rcnn],
  ];
  for (const [name, m] of models) {
    expect([name, m.k]).toEqual([name, 6]);
    const lpA = m.logProb(a);
    expect(lpA).toHaveLength(4 * 20);
    for (const v of lpA) expect(v).toBeLessThanOrEqual(1e-6);
    // one volume, and several summarised together (count-weighted), both from logProb
    expect(m.evaluate(a)).toEqual(summarizeLogProbs([lpA]));
    const both = m.evaluate([a, b]);
    expect(both.count).toBe(4 * 20 + 2 * 20);
    expect(both.nll).toBeCloseTo(summarizeLogProbs([lpA, m.logProb(b)]).nll, 12);
    // every model here does better than uniform on codes that mostly stay
    if (name !== 'unigram') expect(m.evaluate(a).bitsPerCode).toBeLessThan(Math.log2(6));
    const next = m.predictNext(sliceCodes(a, 0, 3));
    expect([next.rows, next.cols, next.frames, next.k]).toEqual([4, 5, 1, 6]);
  }
  rcnn.dispose();
  rnn.dispose();
});
