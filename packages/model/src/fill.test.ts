import { sliceCodes } from '@vqvid/core';
import { anchorCandidates } from './fill';
import { initBackend, RCNN } from './index';
import { randomCodes } from './testing';

beforeAll(async () => {
  await initBackend(['wasm']);
});

describe('anchorCandidates', () => {
  const run = (list: number[], after: number, before: number) => {
    // two cells' lists side by side: only the one at `at` may change
    const cand = Int32Array.from([...list, ...list.map((c) => c + 100)]);
    anchorCandidates(cand, list.length, list.length, after + 100, before + 100);
    expect(Array.from(cand.subarray(0, list.length))).toEqual(list);
    return Array.from(cand.subarray(list.length)).map((c) => c - 100);
  };

  it.each([
    // list, after, before, expected
    [[5, 6, 7, 8], 9, 10, [5, 6, 10, 9]], // both missing: after takes the last slot, before the one above it
    [[5, 6, 7, 8], 9, 6, [5, 6, 7, 9]], // before already there
    [[5, 6, 7, 8], 8, 10, [5, 6, 10, 8]], // after already in the last slot: kept, before goes above it
    [[5, 6, 7, 8], 9, 9, [5, 6, 7, 9]], // the same code before and after: placed once
    [[5, 6, 7, 8], 5, 6, [5, 6, 7, 8]], // both there (after is the most probable code)
    [[5, 6], 9, 10, [5, 9]], // room for one anchor only: the code after
    [[5], 9, 10, [5]], // the most probable code is never replaced
  ])('candidates %j, after %d, before %d → %j', (list, after, before, expected) => {
    expect(run(list, after, before)).toEqual(expected);
  });
});

describe('fill anchors', () => {
  it('candidates include each cell\'s codes before and after the gap with anchors, the top M alone without (the default)', () => {
    const k = 12;
    const m = new RCNN({ k, embedDim: 4, hidden: 6, seed: 3, copy: false, prior: 'none' });
    const codes = randomCodes(5, 4, 5, k, 7);
    const before = sliceCodes(codes, 0, 3);
    const after = sliceCodes(codes, 4, 5);
    const cells = 20;
    const last = before.codes.subarray(2 * cells, 3 * cells);
    const next = after.codes.subarray(0, cells);
    const candidates = 3;
    const withAnchors = m.fillDistribution(before, after, { candidates, sweeps: 2, anchors: true }).probs!;
    const without = m.fillDistribution(before, after, { candidates, sweeps: 2 }).probs!;
    expect(Array.from(m.fillDistribution(before, after, { candidates, sweeps: 2, anchors: false }).probs!)).toEqual(Array.from(without));
    // the forward prediction's top 3 (an untrained model: they rarely hold a given code)
    const forward = m.predictDistribution(before).probs!;
    let missedAfter = 0;
    for (let i = 0; i < cells; i++) {
      const order = Array.from({ length: k }, (_, c) => c).sort((a, b) => forward[i * k + b] - forward[i * k + a] || a - b);
      const top = order.slice(0, candidates);
      const support = (p: Float32Array) => Array.from({ length: k }, (_, c) => c).filter((c) => p[i * k + c] > 0);
      expect(support(without).sort((a, b) => a - b)).toEqual([...top].sort((a, b) => a - b));
      const anchored = support(withAnchors);
      expect(anchored).toContain(next[i]);
      expect(anchored).toContain(last[i]);
      expect(anchored).toContain(top[0]);
      expect(anchored.length).toBe(candidates);
      if (!top.includes(next[i])) missedAfter++;
    }
    // the case the anchors are for occurs here
    expect(missedAfter).toBeGreaterThan(5);
    m.dispose();
  });
});
