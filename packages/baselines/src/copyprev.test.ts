import { Rng } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { CopyPreviousModel } from './copyprev';

/** Random volume where each cell keeps its code with probability `stay`, else draws a skewed code. */
function stickyVolume(seed: number, rows: number, cols: number, frames: number, k: number, stay: number): CodeVolume {
  const rng = new Rng(seed);
  const draw = () => Math.min(k - 1, Math.floor(k * rng.next() ** 2));
  const codes = new Uint16Array(rows * cols * frames);
  const frame = rows * cols;
  for (let i = 0; i < codes.length; i++) codes[i] = i >= frame && rng.next() < stay ? codes[i - frame] : draw();
  return { rows, cols, frames, k, codes };
}

/** Slow reference: add-one unigram over every training cell, then each scored event as (kept code?, u(x)). */
function referenceEvents(train: CodeVolume, held: CodeVolume): Array<{ same: boolean; u: number }> {
  const k = train.k;
  const counts = new Array<number>(k).fill(0);
  for (const c of train.codes) counts[c]++;
  const frame = held.rows * held.cols;
  const events = [];
  for (let t = 1; t < held.frames; t++) {
    for (let cell = 0; cell < frame; cell++) {
      const a = held.codes[(t - 1) * frame + cell];
      const x = held.codes[t * frame + cell];
      events.push({ same: x === a, u: (counts[x] + 1) / (train.codes.length + k) });
    }
  }
  return events;
}

/** Log-likelihood of the events at ε, with p(x | a) = (1 − ε)·[x = a] + ε·u(x) written out per event. */
function referenceLogLikelihood(train: CodeVolume, held: CodeVolume, eps: number): { sum: number; count: number } {
  const events = referenceEvents(train, held);
  return { sum: logLikelihood(events, eps), count: events.length };
}

function logLikelihood(events: Array<{ same: boolean; u: number }>, eps: number): number {
  let sum = 0;
  for (const { same, u } of events) sum += Math.log((same ? 1 - eps : 0) + eps * u);
  return sum;
}

const K = 6;
const train = stickyVolume(1, 4, 5, 8, K, 0.6);
const valid = stickyVolume(2, 4, 5, 6, K, 0.75);
const testCodes = stickyVolume(3, 3, 4, 7, K, 0.7);

describe('CopyPreviousModel', () => {
  test('every conditional distribution sums to 1 and is positive', () => {
    const m = new CopyPreviousModel().fit(train, { validation: valid });
    expect(m.k_).toBe(K);
    for (let a = 0; a < K; a++) {
      const p = m.distribution([a]);
      expect(p).toHaveLength(K);
      expect(Math.abs(p.reduce((s, x) => s + x, 0) - 1)).toBeLessThan(1e-12);
      expect(Math.min(...p)).toBeGreaterThan(0);
      expect(p.indexOf(Math.max(...p))).toBe(a);
    }
  });

  test('logProb and evaluate equal the slow reference', () => {
    const m = new CopyPreviousModel().fit(train, { validation: valid });
    const eps = m.epsilon_ as number;
    const ref = referenceLogLikelihood(train, testCodes, eps);
    const lp = m.logProb(testCodes);
    expect(lp).toHaveLength(ref.count);
    expect(lp.reduce((s, x) => s + x, 0)).toBeCloseTo(ref.sum, 9);
    const e = m.evaluate(testCodes);
    expect(e.count).toBe(ref.count);
    expect(e.nll).toBeCloseTo(-ref.sum / ref.count, 12);
    expect(e.bitsPerCode).toBeCloseTo(e.nll / Math.LN2, 12);
    expect(e.perplexity).toBeCloseTo(Math.exp(e.nll), 12);
    // A list pools the cells of its volumes.
    const both = m.evaluate([testCodes, valid]);
    const refValid = referenceLogLikelihood(train, valid, eps);
    expect(both.count).toBe(ref.count + refValid.count);
    expect(both.nll).toBeCloseTo(-(ref.sum + refValid.sum) / both.count, 12);
  });

  test.each([
    ['validation', valid],
    ['training codes', undefined],
  ])('ε maximises the likelihood of the %s (grid search and zero derivative)', (_, validation) => {
    const m = new CopyPreviousModel().fit(train, { validation });
    const eps = m.epsilon_ as number;
    const held = validation ?? train;
    const events = referenceEvents(train, held);
    const ll = (e: number) => logLikelihood(events, e);
    // Grid of step 1e-3, then (L is concave) step 1e-6 around its best point.
    const gridSearch = (from: number, to: number, step: number): number => {
      let best = from;
      for (let e = from; e <= to; e += step) if (e > 0 && e <= 1 && ll(e) > ll(best)) best = e;
      return best;
    };
    const coarse = gridSearch(1e-3, 1, 1e-3);
    const best = gridSearch(Math.max(1e-6, coarse - 2e-3), Math.min(1, coarse + 2e-3), 1e-6);
    expect(eps).toBeGreaterThan(0.01);
    expect(eps).toBeLessThan(0.99);
    expect(Math.abs(eps - best)).toBeLessThan(1e-4);
    const h = 1e-6;
    const slope = (ll(eps + h) - ll(eps - h)) / (2 * h);
    const curvature = (ll(eps + h) - 2 * ll(eps) + ll(eps - h)) / h ** 2;
    expect(Math.abs(slope)).toBeLessThan(1e-3);
    expect(curvature).toBeLessThan(0);
  });

  test('ε at the ends: all codes kept → the floor 1e-9; codes independent of the last frame → up to 1', () => {
    const still: CodeVolume = { rows: 2, cols: 2, frames: 3, k: 3, codes: Uint16Array.from([0, 1, 2, 0, 0, 1, 2, 0, 0, 1, 2, 0]) };
    const m = new CopyPreviousModel().fit(still);
    expect(m.epsilon_).toBe(1e-9);
    expect(Number.isFinite(m.evaluate(stickyVolume(4, 2, 2, 4, 3, 0)).nll)).toBe(true);
    // Every cell changes code every frame: copying never helps, so p = u.
    const flip: CodeVolume = { rows: 1, cols: 2, frames: 4, k: 2, codes: Uint16Array.from([0, 1, 1, 0, 0, 1, 1, 0]) };
    expect(new CopyPreviousModel().fit(flip).epsilon_).toBe(1);
  });

  test('predict keeps each cell code unless ε makes the unigram favourite win', () => {
    const m = new CopyPreviousModel().fit(train, { validation: valid });
    const last: CodeVolume = { rows: 1, cols: K, frames: 1, k: K, codes: Uint16Array.from({ length: K }, (_, i) => i) };
    expect(Array.from(m.predict(last).codes)).toEqual([0, 1, 2, 3, 4, 5]);
    const flip: CodeVolume = { rows: 1, cols: 2, frames: 4, k: 2, codes: Uint16Array.from([0, 1, 1, 0, 0, 1, 1, 0]) };
    // ε = 1 and u = (0.5, 0.5): a tie at every cell goes to the lower code.
    expect(Array.from(new CopyPreviousModel().fit(flip).predict(flip).codes)).toEqual([0, 0]);
  });

  test('refitting replaces the earlier fit', () => {
    const m = new CopyPreviousModel().fit(train, { validation: valid });
    const before = m.epsilon_;
    m.fit(testCodes);
    expect(m.epsilon_).toBe(new CopyPreviousModel().fit(testCodes).epsilon_);
    expect(m.epsilon_).not.toBe(before);
  });

  test('reports progress once per training frame', () => {
    const events: number[] = [];
    new CopyPreviousModel().fit([train, valid], { onProgress: (e) => events.push(e.done) });
    expect(events).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
  });

  test('bad input → typed errors naming the argument', () => {
    const expectError = (f: () => unknown, code: string, argument: string) =>
      expect(f).toThrow(expect.objectContaining({ name: 'VqvidError', code, details: expect.objectContaining({ argument }) }));
    const m = new CopyPreviousModel();
    expectError(() => m.evaluate(testCodes), 'E_STATE', 'model');
    expectError(() => m.distribution([0]), 'E_STATE', 'model');
    expectError(() => m.fit([]), 'E_SHAPE', 'codes');
    expectError(() => m.fit({ ...train, codes: train.codes.subarray(1) }), 'E_SHAPE', 'codes.codes.length');
    expectError(() => m.fit([train, { ...valid, k: K + 1 }]), 'E_SHAPE', 'codes[1].k');
    expectError(() => m.fit(train, { validation: { ...valid, k: K + 1 } }), 'E_SHAPE', 'opts.validation.k');
    expectError(() => m.fit({ ...train, frames: 1, codes: train.codes.subarray(0, 20) }), 'E_SHAPE', 'codes');
    expectError(() => m.fit(train, { validation: { ...valid, frames: 1, codes: valid.codes.subarray(0, 20) } }), 'E_SHAPE', 'opts.validation');
    m.fit(train);
    expectError(() => m.logProb({ ...testCodes, k: K + 1 }), 'E_SHAPE', 'codes.k');
    expectError(() => m.logProb({ ...testCodes, frames: 1, codes: testCodes.codes.subarray(0, 12) }), 'E_SHAPE', 'codes.frames');
    expectError(() => m.distribution([K]), 'E_RANGE', 'context[0]');
    expectError(() => m.distribution([0, 1]), 'E_SHAPE', 'context.length');
    expectError(() => m.predict({ ...testCodes, k: K + 1 }), 'E_SHAPE', 'prev.k');
  });
});
