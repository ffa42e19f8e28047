import { Rng } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { assembleBatch, batchGeometry, epochPlan, epochSeed } from './batch';

function volume(frames: number, rows: number, cols: number, k = 50): CodeVolume {
  return { rows, cols, frames, k, codes: Int32Array.from({ length: frames * rows * cols }, (_, i) => (i * 7) % k) };
}

describe('training batches', () => {
  it('shrinks crop and window to the data and adds a margin only where the crop is smaller than a grid', () => {
    const g = batchGeometry([volume(5, 6, 9), volume(9, 10, 4)], 6, 3, 5, 2);
    expect(g).toEqual({ steps: 4, warmup: 0, batch: 3, cropRows: 5, cropCols: 4, marginRows: 2, marginCols: 2 });
    // warm-up frames take what the shortest volume leaves after the bptt window
    expect(batchGeometry([volume(7, 6, 9)], 4, 1, 5, 2, 5)).toMatchObject({ steps: 4, warmup: 2 });
    expect(batchGeometry([volume(9, 4, 4)], 3, 1, 16, 2)).toMatchObject({ cropRows: 4, marginRows: 0, marginCols: 0 });
  });

  it('plans windows inside every volume, the same for the same (seed, epoch)', () => {
    const vols = [volume(5, 6, 9), volume(9, 10, 4)];
    const g = batchGeometry(vols, 6, 3, 5, 2);
    const plan = epochPlan(vols, g, 20, new Rng(epochSeed(3, 1)));
    for (let i = 0; i < 60; i++) {
      const v = vols[plan[i * 4]];
      expect(plan[i * 4 + 1] + g.steps).toBeLessThan(v.frames);
      expect(plan[i * 4 + 2] + g.cropRows).toBeLessThanOrEqual(v.rows);
      expect(plan[i * 4 + 3] + g.cropCols).toBeLessThanOrEqual(v.cols);
    }
    expect(new Set(Array.from({ length: 60 }, (_, i) => plan[i * 4])).size).toBe(2);
    expect(Array.from(epochPlan(vols, g, 20, new Rng(epochSeed(3, 1))))).toEqual(Array.from(plan));
    expect(Array.from(epochPlan(vols, g, 20, new Rng(epochSeed(3, 2))))).not.toEqual(Array.from(plan));
  });

  it('gathers inputs with a masked margin and next-frame targets on the crop', () => {
    const v = volume(6, 5, 6);
    const g = { steps: 2, warmup: 0, batch: 1, cropRows: 3, cropCols: 2, marginRows: 1, marginCols: 1 };
    const plan = Int32Array.from([0, 2, 0, 4]); // t0 = 2, rows 0..2, cols 4..5
    const b = assembleBatch([v], g, plan, 0);
    const at = (t: number, r: number, c: number) => v.codes[(t * 5 + r) * 6 + c];
    const [er, ec] = [5, 4];
    for (let l = 0; l < 2; l++) {
      for (let y = 0; y < er; y++) {
        for (let x = 0; x < ec; x++) {
          const [r, c] = [y - 1, 4 + x - 1];
          const inside = r >= 0 && r < 5 && c >= 0 && c < 6;
          expect(b.mask![(l * er + y) * ec + x]).toBe(inside ? 1 : 0);
          expect(b.inputs[(l * er + y) * ec + x]).toBe(inside ? at(2 + l, r, c) : 0);
        }
      }
      for (let y = 0; y < 3; y++) for (let x = 0; x < 2; x++) expect(b.targets[(l * 3 + y) * 2 + x]).toBe(at(3 + l, y, 4 + x));
    }
  });

  it('puts warm-up frames before the window and takes targets only after them', () => {
    const v = volume(6, 3, 3);
    const g = { steps: 2, warmup: 1, batch: 1, cropRows: 3, cropCols: 3, marginRows: 0, marginCols: 0 };
    const b = assembleBatch([v], g, Int32Array.from([0, 1, 0, 0]), 0); // t0 = 1
    expect(b.mask).toBeNull();
    expect(Array.from(b.inputs)).toEqual(Array.from(v.codes.subarray(9, 9 + 27)));   // frames 1, 2, 3
    expect(Array.from(b.targets)).toEqual(Array.from(v.codes.subarray(27, 27 + 18))); // frames 3, 4
  });
});
