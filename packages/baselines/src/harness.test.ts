import type { CodeVolume } from '@vqvid/core';
import { countedModels, scoreCodeModels } from './harness';

function sticky(frames: number, seed: number): CodeVolume {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const codes = new Uint16Array(frames * 12);
  for (let i = 0; i < codes.length; i++) codes[i] = i >= 12 && rand() < 0.6 ? codes[i - 12] : Math.floor(rand() * 5);
  return { rows: 3, cols: 4, frames, k: 5, codes };
}

test('countedModels fits the four counted models; scoreCodeModels scores any list of CodeModels plus uniform', () => {
  const train = sticky(20, 1);
  const val = sticky(6, 2);
  const test = sticky(8, 3);
  const counted = countedModels(train, val);
  expect(counted.map((m) => m.name)).toEqual(['spatial n-gram', 'bigram', 'copy-previous', 'unigram']);
  const rows = scoreCodeModels(counted, test);
  expect(rows.map((r) => r.name)).toEqual(['spatial n-gram', 'bigram', 'copy-previous', 'unigram', 'uniform']);
  counted.forEach((m, i) => {
    const e = m.model.evaluate(test);
    expect(rows[i].bitsPerCode).toBe(e.bitsPerCode);
    expect(rows[i].perplexity).toBe(e.perplexity);
  });
  expect(rows[4]).toEqual({ name: 'uniform', bitsPerCode: Math.log2(5), perplexity: 5 });
  // codes that mostly stay: every contextual model beats the unigram
  for (const r of rows.slice(0, 3)) expect(r.bitsPerCode).toBeLessThan(rows[3].bitsPerCode);
});
