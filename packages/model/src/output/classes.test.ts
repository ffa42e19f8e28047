import { VqvidError } from '@vqvid/core';
import { assignClasses } from './classes';
import { createOutputLayer } from './index';

function expectPartition(classOf: Int32Array, members: Int32Array[], k: number): void {
  const seen = new Int32Array(k);
  members.forEach((m, c) => {
    expect(m.length).toBeGreaterThan(0);
    for (let j = 1; j < m.length; j++) expect(m[j]).toBeGreaterThan(m[j - 1]);
    for (const code of m) {
      seen[code]++;
      expect(classOf[code]).toBe(c);
    }
  });
  expect(Array.from(seen)).toEqual(new Array(k).fill(1));
}

describe('assignClasses', () => {
  it('without frequencies: contiguous classes of equal size (±1)', () => {
    const { classOf, members } = assignClasses(10, 3);
    expectPartition(classOf, members, 10);
    expect(members.map((m) => Array.from(m))).toEqual([[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    const big = assignClasses(10000, 100);
    expect(big.members.length).toBe(100);
    expect(big.members.every((m) => m.length === 100)).toBe(true);
    expectPartition(big.classOf, big.members, 10000);
  });

  it('frequency binning: equal frequency shares, frequent codes in small classes', () => {
    // Zipf-like counts on shuffled codes, so classes are not simply contiguous ranges.
    const k = 400;
    const freq = Float64Array.from({ length: k }, (_, i) => 1000 / (1 + ((i * 37) % k)));
    const { classOf, members } = assignClasses(k, 20, freq);
    expectPartition(classOf, members, k);
    const total = freq.reduce((a, b) => a + b, 0);
    const mass = members.map((m) => Array.from(m).reduce((a, x) => a + freq[x], 0) / total);
    // Each class but those of the few codes heavier than a share stays near 1/20 = 0.05 of the mass.
    for (let c = 0; c < members.length; c++) {
      const heaviest = Math.max(...Array.from(members[c], (x) => freq[x])) / total;
      expect(mass[c]).toBeLessThanOrEqual(0.05 + heaviest + 1e-12);
    }
    // Classes are ordered by frequency: every code of class c is at least as frequent as any code of class c+1.
    for (let c = 0; c + 1 < members.length; c++) {
      const minHere = Math.min(...Array.from(members[c], (x) => freq[x]));
      const maxNext = Math.max(...Array.from(members[c + 1], (x) => freq[x]));
      expect(minHere).toBeGreaterThanOrEqual(maxNext);
    }
    expect(members[0].length).toBeLessThan(members[members.length - 1].length);
    expect(members[0].length).toBe(1); // the most frequent code (12.6% of the mass) is alone
  });

  it('a code heavier than several shares advances one class only; no empty class', () => {
    const freq = [100, 1, 1, 1, 1, 1, 1, 1];
    const { classOf, members } = assignClasses(8, 4, freq);
    expectPartition(classOf, members, 8);
    expect(members.map((m) => Array.from(m))).toEqual([[0], [1], [2], [3, 4, 5, 6, 7]]);
  });

  it('all-zero frequencies fall back to equal sizes', () => {
    expect(assignClasses(6, 2, new Float32Array(6)).members.map((m) => Array.from(m))).toEqual([[0, 1, 2], [3, 4, 5]]);
  });

  it('rejects bad arguments with VqvidError', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(VqvidError);
        return (e as VqvidError).code;
      }
      return 'none';
    };
    expect(code(() => assignClasses(0, 1))).toBe('E_RANGE');
    expect(code(() => assignClasses(5, 6))).toBe('E_RANGE');
    expect(code(() => assignClasses(5, 2, [1, 2]))).toBe('E_SHAPE');
    expect(code(() => assignClasses(3, 2, [1, -1, 2]))).toBe('E_RANGE');
    expect(code(() => assignClasses(3, 2, [1, NaN, 2]))).toBe('E_RANGE');
    const config = { kind: 'factored', k: 4, hidden: 2, classes: 3, classOf: [0, 2, 2, 0] };
    expect(code(() => createOutputLayer({ kind: 'factored', k: 4, hidden: 2, seed: 1, config }))).toBe('E_FORMAT');
    expect(code(() => createOutputLayer({ kind: 'factored', k: 4, hidden: 3, seed: 1, config: { ...config, classOf: [0, 1, 1, 0] } }))).toBe('E_FORMAT');
  });
});
