import { VqvidError } from '@vqvid/core';
import { bitsPerCode, codeAccuracy, crossEntropy, entropy, perplexity, topKAccuracy, topKCodes } from './index';

describe('code-level likelihood metrics', () => {
  test('crossEntropy is the mean negative log-likelihood in nats', () => {
    expect(crossEntropy([Math.log(0.5), Math.log(0.25)])).toBeCloseTo((Math.LN2 + Math.log(4)) / 2, 14);
    expect(crossEntropy(Float32Array.of(0, 0))).toBe(0);
  });

  test('a uniform model over k codes scores log2(k) bits and perplexity k', () => {
    const lp = new Float64Array(7).fill(Math.log(1 / 64));
    expect(bitsPerCode(lp)).toBeCloseTo(6, 12);
    expect(perplexity(lp)).toBeCloseTo(64, 9);
  });

  test('perplexity equals exp(crossEntropy)', () => {
    const lp = [-0.1, -2.3, -0.7, -5];
    expect(perplexity(lp)).toBeCloseTo(Math.exp(crossEntropy(lp)), 10);
  });

  test.each([[[0.1]], [[Number.NaN]], [[-Infinity]], [[]]])('rejects log-probabilities %p', (bad) => {
    expect(() => crossEntropy(bad)).toThrow(VqvidError);
  });

  test('entropy of distributions in bits', () => {
    expect(entropy([0.5, 0.25, 0.25])).toBeCloseTo(1.5, 14);
    expect(entropy([1, 0, 0])).toBe(0);
    expect(entropy(new Float32Array(8).fill(1 / 8))).toBeCloseTo(3, 6);
  });

  test.each([[[0.5, 0.6]], [[-0.1, 1.1]], [[Number.NaN, 1]], [[]]])('entropy rejects %p', (bad) => {
    expect(() => entropy(bad)).toThrow(VqvidError);
  });
});

describe('code accuracy', () => {
  test('codeAccuracy counts exact matches', () => {
    expect(codeAccuracy(Uint16Array.of(1, 2, 3, 4), Uint16Array.of(1, 2, 0, 4))).toBe(0.75);
    expect(codeAccuracy(Int32Array.of(5), Int32Array.of(6))).toBe(0);
  });

  test('topKAccuracy looks at the first k ranked candidates', () => {
    const predicted = Int32Array.of(4, 1, 7, 2, 0, 9, 3, 3, 8);
    const truth = Int32Array.of(1, 9, 5);
    expect(topKAccuracy(predicted, truth, 1)).toBe(0);
    expect(topKAccuracy(predicted, truth, 2)).toBeCloseTo(1 / 3, 15);
    expect(topKAccuracy(predicted, truth)).toBeCloseTo(2 / 3, 15);
  });

  test('shape and dtype errors', () => {
    expect(() => codeAccuracy(Int32Array.of(1, 2), Int32Array.of(1))).toThrow(VqvidError);
    expect(() => topKAccuracy(Int32Array.of(1, 2, 3), Int32Array.of(1, 2))).toThrow(VqvidError);
    expect(() => topKAccuracy(Int32Array.of(1, 2), Int32Array.of(1), 3)).toThrow(VqvidError);
    expect(() => codeAccuracy([1] as unknown as Int32Array, Int32Array.of(1))).toThrow(VqvidError);
  });

  test('topKCodes ranks scores like a full sort (ties: lower code first)', () => {
    expect(Array.from(topKCodes(Float32Array.of(0.1, 0.7, 0.2, 0.5, 0.3, 0.2), 3, 2))).toEqual([1, 2, 0, 1]);
    const scores = Float64Array.of(3, 1, 3, 2, 0, 2, 5, 5);
    const expected = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b).slice(0, 5);
    expect(Array.from(topKCodes(scores, 8, 5))).toEqual(expected);
    expect(() => topKCodes(scores, 3, 1)).toThrow(VqvidError);
  });
});
