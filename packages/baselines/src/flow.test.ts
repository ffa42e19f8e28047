import { VqvidError } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { opticalFlow, warp } from './flow';
import type { FlowField } from './flow';
import { makeTexture, render, shifted } from './fixtures/texture';

const SIZE = 64;
/** Border excluded from error averages: pixels whose motion brings in content from outside the frame. */
const MARGIN = 8;

function aee(f: FlowField, gt: (x: number, y: number) => [number, number], margin = MARGIN): number {
  let s = 0;
  let n = 0;
  for (let y = margin; y < f.height - margin; y++) {
    for (let x = margin; x < f.width - margin; x++) {
      const [gu, gv] = gt(x, y);
      const i = y * f.width + x;
      s += Math.hypot(f.u[i] - gu, f.v[i] - gv);
      n++;
    }
  }
  return s / n;
}

const flowOf = (width: number, height: number, u: number[], v: number[]): FlowField => ({
  width, height, u: Float32Array.from(u), v: Float32Array.from(v),
});

describe('warp', () => {
  const frame: Video = { width: 3, height: 2, frames: 1, data: Float32Array.from([0, 10, 20, 30, 40, 50]) };

  test('samples frame(x + s·u, y + s·v) bilinearly (hand computation)', () => {
    const flow = flowOf(3, 2, [0.5, 0.5, 0.5, 0, 0, -1], [0.25, 0.25, 0.25, 0, -1, 0]);
    const out = warp(frame, flow);
    // (0,0)→(0.5,0.25): 0.75·(0·.5+10·.5) + 0.25·(30·.5+40·.5) = 3.75 + 8.75 = 12.5
    // (1,0)→(1.5,0.25): 0.75·15 + 0.25·45 = 22.5;  (2,0)→(2.5,0.25) clamps x to 2: 0.75·20 + 0.25·50 = 27.5
    // (0,1)→(0,1): 30;  (1,1)→(1,0): 10;  (2,1)→(1,1): 40
    expect(Array.from(out.data)).toEqual([12.5, 22.5, 27.5, 30, 10, 40]);
  });

  test('scale multiplies the displacement and clamping holds at the border', () => {
    const flow = flowOf(3, 2, [2, 2, 2, -4, -4, -4], [0, 0, 0, 0, 0, 0]);
    expect(Array.from(warp(frame, flow, 0.5).data)).toEqual([10, 20, 20, 30, 30, 30]);
    expect(Array.from(warp(frame, flow, 0).data)).toEqual(Array.from(frame.data));
  });

  test('rejects a flow of another size', () => {
    expect(() => warp(frame, flowOf(2, 1, [0, 0], [0, 0]))).toThrow(/flow: expected a 3x2 field/);
    expect(() => warp(frame, { width: 3, height: 2, u: new Float32Array(6), v: [] } as unknown as FlowField)).toThrow(VqvidError);
  });
});

describe('opticalFlow (pyramidal Farnebäck) on synthetic motion with known ground truth', () => {
  const tex = makeTexture(7);
  const base = shifted(SIZE, SIZE, tex, 0, 0);

  test.each([
    [1.5, -0.75, 0.03],
    [0.3, 0.2, 0.03],
    [4, 3, 0.03],
    [-6.5, 2.25, 0.03],
  ])('translation by (%p, %p) px: AEE < %p px', (dx, dy, bound) => {
    const flow = opticalFlow(base, shifted(SIZE, SIZE, tex, dx, dy));
    const err = aee(flow, () => [dx, dy]);
    expect(err).toBeLessThan(bound);
  });

  test("window 'gaussian' (OpenCV's FARNEBACK_GAUSSIAN): translation by (1.5, -0.75) px, AEE < 0.06 px", () => {
    const flow = opticalFlow(base, shifted(SIZE, SIZE, tex, 1.5, -0.75), { window: 'gaussian' });
    expect(aee(flow, () => [1.5, -0.75])).toBeLessThan(0.06);
  });

  test('rotation by 3° about the centre: AEE < 0.2 px', () => {
    const th = (3 * Math.PI) / 180;
    const c = (SIZE - 1) / 2;
    const rotated = render(SIZE, SIZE, 1, tex, (_t, x, y) => {
      const X = x - c;
      const Y = y - c;
      return [Math.cos(th) * X + Math.sin(th) * Y + c, -Math.sin(th) * X + Math.cos(th) * Y + c];
    });
    const gt = (x: number, y: number): [number, number] => {
      const X = x - c;
      const Y = y - c;
      return [Math.cos(th) * X - Math.sin(th) * Y + c - x, Math.sin(th) * X + Math.cos(th) * Y + c - y];
    };
    const flow = opticalFlow(base, rotated);
    expect(aee(flow, gt)).toBeLessThan(0.2);
    // The motion is real (max ≈ 2.3 px at the corners), so zero flow would fail the bound.
    expect(aee({ ...flow, u: new Float32Array(SIZE * SIZE), v: new Float32Array(SIZE * SIZE) }, gt)).toBeGreaterThan(0.8);
  });

  test('warping b with the a→b flow reconstructs a', () => {
    const b = shifted(SIZE, SIZE, tex, 2.5, -1.25);
    const rec = warp(b, opticalFlow(base, b));
    let mse = 0;
    let mseNoWarp = 0;
    let n = 0;
    for (let y = MARGIN; y < SIZE - MARGIN; y++) {
      for (let x = MARGIN; x < SIZE - MARGIN; x++) {
        const i = y * SIZE + x;
        mse += (rec.data[i] - base.data[i]) ** 2;
        mseNoWarp += (b.data[i] - base.data[i]) ** 2;
        n++;
      }
    }
    expect(mse / n).toBeLessThan(0.5);
    expect(mseNoWarp / n).toBeGreaterThan(100);
  });

  test('identical and constant frames give zero flow; intensity scale does not matter', () => {
    const same = opticalFlow(base, base);
    expect(Math.max(...same.u.map(Math.abs), ...same.v.map(Math.abs))).toBeLessThan(1e-4);
    const flat: Video = { width: 8, height: 8, frames: 1, data: new Float32Array(64).fill(3) };
    expect(Array.from(opticalFlow(flat, flat).u)).toEqual(new Array(64).fill(0));
    const b = shifted(SIZE, SIZE, tex, 1, 1);
    const std = (v: Video): Video => ({ ...v, data: v.data.map((p) => (p - 127.5) / 50) });
    const f1 = opticalFlow(base, b);
    const f2 = opticalFlow(std(base), std(b));
    for (let i = 0; i < f1.u.length; i += 97) expect(f2.u[i]).toBeCloseTo(f1.u[i], 3);
  });

  test('tiny frames give finite flows (nothing to match: zero)', () => {
    for (const [w, h] of [[1, 5], [3, 3], [5, 1]]) {
      const a: Video = { width: w, height: h, frames: 1, data: Float32Array.from({ length: w * h }, (_, i) => i * 10) };
      const b: Video = { ...a, data: a.data.map((x) => 255 - x) };
      const f = opticalFlow(a, b);
      expect(f.u.length).toBe(w * h);
      expect([...f.u, ...f.v].every(Number.isFinite)).toBe(true);
    }
  });

  test('validates its inputs', () => {
    const nan: Video = { ...base, data: base.data.map((x, i) => (i === 5 ? NaN : x)) };
    expect(() => opticalFlow(base, nan)).toThrow(/b.data\[5\]/);
    const two: Video = { width: SIZE, height: SIZE, frames: 2, data: new Float32Array(SIZE * SIZE * 2) };
    expect(() => opticalFlow(two, base)).toThrow(/a.frames: expected 1/);
    expect(() => opticalFlow(base, base, { winSize: 4 })).toThrow(/odd/);
    expect(() => opticalFlow(base, base, { levels: 0 })).toThrow(VqvidError);
    expect(() => opticalFlow(base, base, { window: 'hann' as 'box' })).toThrow(/opts.window/);
  });
});
