import { Rng } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { BigramModel, CopyPreviousModel, SpatialNgramModel, UnigramModel } from './index';

function randomVolume(frames: number, rows: number, cols: number, k: number, seed: number): CodeVolume {
  const rng = new Rng(seed);
  const codes = new Int32Array(frames * rows * cols);
  for (let i = 0; i < codes.length; i++) codes[i] = i >= rows * cols && rng.next() < 0.7 ? codes[i - rows * cols] : rng.int(k);
  return { rows, cols, frames, k, codes };
}

/** The context of cell (r, c) in `frame` the slow way: the documented neighbour order, K outside the grid. */
function contextOf(frame: ArrayLike<number>, rows: number, cols: number, k: number, r: number, c: number, n: number): number[] {
  const offs = [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1], [-1, -1], [-1, 1], [1, -1], [1, 1]].slice(0, n);
  return offs.map(([dr, dc]) => (r + dr < 0 || r + dr >= rows || c + dc < 0 || c + dc >= cols ? k : frame[(r + dr) * cols + c + dc]));
}

describe('stepper() of the counted models', () => {
  const train = randomVolume(6, 4, 5, 7, 1);
  const frame = randomVolume(1, 4, 5, 7, 2).codes;
  it.each([
    ['unigram', () => new UnigramModel().fit(train), 0],
    ['bigram', () => new BigramModel().fit(train), 1],
    ['spatial 4', () => new SpatialNgramModel({ neighbours: 4 }).fit(train), 5],
    ['spatial 8', () => new SpatialNgramModel({ neighbours: 8 }).fit(train), 9],
  ] as const)('%s: every cell gets distribution(its context) as float32', (_, make, n) => {
    const m = make();
    const s = m.stepper(4, 5);
    const probs = s.next(frame);
    expect(probs.length).toBe(20 * 7);
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 5; c++) {
        const want = Float32Array.from(m.distribution(contextOf(frame, 4, 5, 7, r, c, n)));
        expect(probs.subarray((r * 5 + c) * 7, (r * 5 + c + 1) * 7)).toEqual(want);
      }
    }
    expect(s.identity.backend).toBe('js');
  });

  it('copy-previous: every cell gets distribution([its code])', () => {
    const m = new CopyPreviousModel().fit(train);
    const probs = m.stepper(4, 5).next(frame);
    for (let i = 0; i < 20; i++) expect(probs.subarray(i * 7, (i + 1) * 7)).toEqual(Float32Array.from(m.distribution([frame[i]])));
  });

  it('identities: the same fit gives the same checksum, other codes or options another', () => {
    const a = new BigramModel().fit(train).stepper(2, 2).identity;
    expect(new BigramModel().fit({ ...train, codes: Uint16Array.from(train.codes) }).stepper(2, 2).identity).toEqual(a);
    expect(new BigramModel({ alpha: 0.3 }).fit(train).stepper(2, 2).identity.checksum).not.toBe(a.checksum);
    expect(new BigramModel().fit(randomVolume(6, 4, 5, 7, 3)).stepper(2, 2).identity.checksum).not.toBe(a.checksum);
    expect(new UnigramModel().fit(train).stepper(2, 2).identity.kind).toBe('unigram');
    const c = new CopyPreviousModel().fit(train).stepper(2, 2).identity;
    expect(c.kind).toBe('copy-previous');
    expect(new CopyPreviousModel().fit(randomVolume(6, 4, 5, 7, 3)).stepper(2, 2).identity.checksum).not.toBe(c.checksum);
    expect(() => new BigramModel().stepper(2, 2)).toThrow(expect.objectContaining({ code: 'E_STATE' }));
    expect(() => new BigramModel().fit(train).stepper(2, 2).next([1, 2, 3])).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });
});
