import type { Video } from '@vqvid/core';
import { opticalFlow } from './flow';
import { flowExtrapolate, flowInterpolate } from './flowframes';
import { copyLast, linearExtrapolate, linearInterpolate } from './frames';
import { makeTexture, render, shifted } from './fixtures/texture';
import type { Texture } from './fixtures/texture';

const SIZE = 64;
const MARGIN = 8;

/** Mean squared error over the interior (content entering through the border is unknowable). */
function interiorMse(a: Video, b: Video, margin = MARGIN): number {
  let s = 0;
  let n = 0;
  for (let y = margin; y < a.height - margin; y++) {
    for (let x = margin; x < a.width - margin; x++) {
      const i = y * a.width + x;
      s += (a.data[i] - b.data[i]) ** 2;
      n++;
    }
  }
  return s / n;
}

const tex = makeTexture(11);
const at = (dx: number, dy: number): Video => shifted(SIZE, SIZE, tex, dx, dy);

describe('flowInterpolate', () => {
  test('midpoint of a translating texture: MSE far below linear interpolation', () => {
    const a = at(0, 0);
    const b = at(4, -3);
    const truth = at(2, -1.5);
    const flowMse = interiorMse(flowInterpolate(a, b), truth);
    const linMse = interiorMse(linearInterpolate(a, b), truth);
    expect(linMse).toBeGreaterThan(50);
    expect(flowMse).toBeLessThan(0.01 * linMse);
  });

  test('t = 0.25 lands a quarter of the way', () => {
    const truth = at(1, -0.75);
    const out = flowInterpolate(at(0, 0), at(4, -3), { t: 0.25 });
    expect(interiorMse(out, truth)).toBeLessThan(0.01 * interiorMse(at(2, -1.5), truth));
  });

  test('frame pairs of multi-frame inputs are interpolated independently', () => {
    const a = render(SIZE, SIZE, 2, tex, (t, x, y) => [x - 3 * t, y]);
    const b = render(SIZE, SIZE, 2, tex, (t, x, y) => [x - 3 * t - 2, y - 2 * t]);
    const out = flowInterpolate(a, b);
    expect(out.frames).toBe(2);
    const n = SIZE * SIZE;
    const second: Video = { width: SIZE, height: SIZE, frames: 1, data: out.data.slice(n) };
    expect(interiorMse(second, at(4, 1))).toBeLessThan(1);
  });

  test('occlusion: content entering through the border is taken from the frame that shows it', () => {
    const a = at(0, 0);
    const b = at(6, -4);
    const truth = at(3, -2);
    const aware = interiorMse(flowInterpolate(a, b), truth, 0);
    const plain = interiorMse(flowInterpolate(a, b, { occlusion: false }), truth, 0);
    expect(aware).toBeLessThan(0.1 * plain);
  });

  test('occlusion: a square sliding over a textured background beats linear interpolation', () => {
    const bg = makeTexture(3);
    const fg: Texture = (x, y) => 255 - bg(y * 1.3 + 40, x * 0.7 - 17);
    const scene = (shift: number): Video => {
      const inside = (x: number, y: number): boolean => x >= 20 + shift && x < 40 + shift && y >= 20 && y < 40;
      return render(SIZE, SIZE, 1, (x, y) => (inside(x, y) ? fg(x - shift, y) : bg(x, y)), (_t, x, y) => [x, y]);
    };
    const truth = scene(3);
    const flowMse = interiorMse(flowInterpolate(scene(0), scene(6)), truth, 0);
    const linMse = interiorMse(linearInterpolate(scene(0), scene(6)), truth, 0);
    expect(flowMse).toBeLessThan(0.5 * linMse);
  });

  test('validates t and sigma', () => {
    expect(() => flowInterpolate(at(0, 0), at(1, 0), { t: 2 })).toThrow(/opts.t/);
    expect(() => flowInterpolate(at(0, 0), at(1, 0), { consistencySigma: -1 })).toThrow(/consistencySigma/);
    expect(() => flowInterpolate(at(0, 0), at(1, 0), { occlusion: 1 as unknown as boolean })).toThrow(/occlusion/);
  });
});

describe('flowExtrapolate', () => {
  test('constant translation: next frame predicted far better than copy-last and linear extrapolation', () => {
    const prev = at(0, 0);
    const cur = at(2.5, 1.5);
    const truth = at(5, 3);
    const flowMse = interiorMse(flowExtrapolate(prev, cur), truth);
    const copyMse = interiorMse(copyLast(cur), truth);
    const linMse = interiorMse(linearExtrapolate(prev, cur), truth);
    expect(copyMse).toBeGreaterThan(100);
    expect(flowMse).toBeLessThan(0.01 * Math.min(copyMse, linMse));
  });

  test('steps: n frames ahead under the same constant motion (steps 1 is the default)', () => {
    const prev = at(0, 0);
    const cur = at(2, 1);
    expect(Array.from(flowExtrapolate(prev, cur, { steps: 1 }).data)).toEqual(Array.from(flowExtrapolate(prev, cur).data));
    const truth3 = at(8, 4);
    const three = interiorMse(flowExtrapolate(prev, cur, { steps: 3 }), truth3, 16);
    expect(interiorMse(copyLast(cur), truth3, 16)).toBeGreaterThan(100);
    expect(three).toBeLessThan(0.02 * interiorMse(copyLast(cur), truth3, 16));
    // one step ahead is not three
    expect(interiorMse(flowExtrapolate(prev, cur), truth3, 16)).toBeGreaterThan(20 * three);
    expect(() => flowExtrapolate(prev, cur, { steps: 0 })).toThrow(expect.objectContaining({ code: 'E_RANGE' }));
  });

  test('steps: equals the slow reference, cur sampled bilinearly at x + steps·F with F = opticalFlow(cur, prev)', () => {
    const prev = at(0, 0);
    const cur = at(1.5, -1);
    const F = opticalFlow(cur, prev);
    const { width: w, height: h } = cur;
    // written out from the definition, clamping samples to the frame
    const pixel = (x: number, y: number) => cur.data[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))];
    for (const steps of [2, 5]) {
      const got = flowExtrapolate(prev, cur, { steps }).data;
      let worst = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const sx = Math.min(w - 1, Math.max(0, x + steps * F.u[y * w + x]));
          const sy = Math.min(h - 1, Math.max(0, y + steps * F.v[y * w + x]));
          const x0 = Math.floor(sx), y0 = Math.floor(sy), ax = sx - x0, ay = sy - y0;
          const want = (1 - ay) * ((1 - ax) * pixel(x0, y0) + ax * pixel(x0 + 1, y0)) + ay * ((1 - ax) * pixel(x0, y0 + 1) + ax * pixel(x0 + 1, y0 + 1));
          worst = Math.max(worst, Math.abs(got[y * w + x] - want));
        }
      }
      expect(worst).toBeLessThan(1e-3);
    }
  });
});
