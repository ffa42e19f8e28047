import { evaluateLogProb, summarizeLogProbs } from './codemodel';
import type { CodeVolume } from './types';

test('summarizeLogProbs is the count-weighted mean nll, in nats, bits and perplexity', () => {
  const a = Float64Array.from([-1, -2]);
  const b = Float64Array.from([-0.5]);
  const e = summarizeLogProbs([a, b]);
  expect(e.count).toBe(3);
  expect(e.nll).toBeCloseTo(3.5 / 3, 12);
  expect(e.bitsPerCode).toBeCloseTo(3.5 / 3 / Math.LN2, 12);
  expect(e.perplexity).toBeCloseTo(Math.exp(3.5 / 3), 12);
  expect(() => summarizeLogProbs([])).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  expect(() => summarizeLogProbs([new Float64Array(0)])).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
});

test('evaluateLogProb scores one volume or several together through the model own logProb', () => {
  const vol = (frames: number): CodeVolume => ({ rows: 1, cols: 2, frames, k: 4, codes: new Uint16Array(frames * 2) });
  // a model that gives ln p = -t for every cell of frame t
  const model = { logProb: (v: CodeVolume) => Float64Array.from({ length: (v.frames - 1) * 2 }, (_, i) => -(1 + Math.floor(i / 2))) };
  expect(evaluateLogProb(model, vol(3)).nll).toBeCloseTo((1 + 1 + 2 + 2) / 4, 12);
  const both = evaluateLogProb(model, [vol(3), vol(2)]);
  expect(both.count).toBe(6);
  expect(both.nll).toBeCloseTo((6 + 2) / 6, 12);
  expect(() => evaluateLogProb(model, [])).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
});
