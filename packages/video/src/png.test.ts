import { PNG } from 'pngjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VqvidError } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { encodePng, writePng } from './png';
import { colorize, frameStrip } from './image';
import { textWidth } from './font';

const decode = (bytes: Uint8Array) => PNG.sync.read(Buffer.from(bytes));
const pixel = (png: PNG, x: number, y: number) => Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3));

describe('encodePng', () => {
  test('gray values come back after a pngjs decode (rounded, clamped)', () => {
    const data = new Float32Array([0, 1.4, 127.6, 255, -5, 300]);
    const png = decode(encodePng({ width: 3, height: 2, data }));
    expect(png.width).toBe(3);
    expect(png.height).toBe(2);
    expect([0, 1, 2, 3, 4, 5].map((i) => png.data[4 * i])).toEqual([0, 1, 128, 255, 0, 255]);
    expect(png.colorType).toBe(0);
  });
  test('auto range stretches min..max to 0..255', () => {
    const png = decode(encodePng({ width: 3, height: 1, data: new Float32Array([-1, 0, 1]) }, { range: 'auto' }));
    expect([0, 1, 2].map((i) => png.data[4 * i])).toEqual([0, 128, 255]);
  });
  test('heat colormap writes RGB: black, red, yellow, white', () => {
    const png = decode(encodePng({ width: 4, height: 1, data: new Float32Array([0, 1, 2, 3]) }, { range: [0, 3], colormap: 'heat' }));
    expect([0, 1, 2, 3].map((x) => pixel(png, x, 0))).toEqual([[0, 0, 0], [255, 0, 0], [255, 255, 0], [255, 255, 255]]);
  });
  test('writePng writes the same bytes as encodePng', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-png-'));
    try {
      const image = { width: 2, height: 2, data: new Uint8Array([1, 2, 3, 4]) };
      await writePng(join(dir, 'a.png'), image);
      expect(new Uint8Array(readFileSync(join(dir, 'a.png')))).toEqual(encodePng(image));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('bad images', () => {
    expect(() => encodePng({ width: 2, height: 2, data: new Float32Array(3) })).toThrow(/length/);
    expect(() => encodePng({ width: 2, height: 2, data: [1, 2, 3, 4] as never })).toThrow(VqvidError);
    expect(() => colorize({ width: 1, height: 1, data: new Float32Array(1) }, { colormap: 'jet' as never })).toThrow(/colormap/);
    expect(() => encodePng({ width: 1, height: 1, data: new Float32Array(1) }, { range: [2, 1] })).toThrow(/range/);
  });
});

describe('frameStrip', () => {
  const video = (frames: number, f: (t: number, i: number) => number): Video => ({
    width: 2, height: 2, frames, data: Float32Array.from({ length: 4 * frames }, (_, k) => f(Math.floor(k / 4), k % 4)),
  });

  test('layout: frames side by side, rows stacked, gaps in the background colour', () => {
    const a = video(3, (t) => 10 * t);
    const b = video(2, (t, i) => 100 + i);
    const s = frameStrip([a, b], { gap: 1, background: 200 });
    expect(s.width).toBe(3 * 2 + 2);
    expect(s.height).toBe(2 * 2 + 1);
    const png = decode(encodePng(s));
    expect(pixel(png, 0, 0)).toEqual([0, 0, 0]);
    expect(pixel(png, 3, 1)).toEqual([10, 10, 10]); // frame 1 starts after 2 px + 1 gap
    expect(pixel(png, 7, 0)).toEqual([20, 20, 20]);
    expect(pixel(png, 2, 0)).toEqual([200, 200, 200]); // vertical gap
    expect(pixel(png, 0, 2)).toEqual([200, 200, 200]); // horizontal gap
    expect(pixel(png, 1, 4)).toEqual([103, 103, 103]); // row 2, frame 0, pixel (1,1)
    expect(pixel(png, 6, 3)).toEqual([200, 200, 200]); // row 2 has no third frame
  });

  test('per-row range and colormap, start/maxFrames, scale', () => {
    const err = video(4, (t) => t); // 0..3
    const s = frameStrip([{ video: err, range: 'auto', colormap: 'heat' }, { video: err }], { start: 1, maxFrames: 2, gap: 0, scale: 2 });
    expect(s.width).toBe(2 * 2 * 2);
    expect(s.height).toBe(2 * 2 * 2);
    const png = decode(encodePng(s));
    expect(pixel(png, 0, 0)).toEqual([0, 0, 0]); // auto range of shown frames 1..2: value 1 → black
    expect(pixel(png, 7, 3)).toEqual([255, 255, 255]); // value 2 → top of the heat map
    expect(pixel(png, 5, 5)).toEqual([2, 2, 2]); // row 2 fixed range, gray
  });

  test('labels are drawn left of their row', () => {
    const v = video(1, () => 255);
    const s = frameStrip([{ label: 'IN', video: v }, { video: v }], { gap: 2, background: 255, scale: 4 });
    const labelW = textWidth('IN') + 2 * 2 + 2;
    expect(s.width).toBe(labelW + 8);
    const ink = (y0: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = 0; x < labelW; x++) if (s.data[3 * (y * s.width + x)] === 0) n++;
      return n;
    };
    // 'I' has 9 ink pixels and 'N' 10 in the 3x5 font.
    expect(ink(0, 8)).toBe(19);
    expect(ink(10, 18)).toBe(0);
  });

  test('labelScale draws every glyph pixel as a block: 9x the ink, at the same place scaled', () => {
    const v = video(1, () => 255);
    const small = frameStrip([{ label: 'IN', video: v }], { gap: 2, background: 255, scale: 8 });
    const big = frameStrip([{ label: 'IN', video: v }], { gap: 2, background: 255, scale: 8, labelScale: 3 });
    const inkAt = (s: typeof small) => {
      const pts: Array<[number, number]> = [];
      for (let y = 0; y < s.height; y++) for (let x = 0; x < s.width; x++) if (s.data[3 * (y * s.width + x)] === 0) pts.push([x, y]);
      return pts;
    };
    const a = inkAt(small);
    const b = inkAt(big);
    expect(a).toHaveLength(19);
    expect(b).toHaveLength(19 * 9);
    expect(big.width - 2 * 8).toBe(textWidth('IN', 3) + 2 * 2 + 2 * 3);
    // the top-left ink pixel of each big block, mapped back, is the small drawing
    const [ax, ay] = [Math.min(...a.map((p) => p[0])), Math.min(...a.map((p) => p[1]))];
    const [bx, by] = [Math.min(...b.map((p) => p[0])), Math.min(...b.map((p) => p[1]))];
    const back = new Set(b.filter(([x, y]) => (x - bx) % 3 === 0 && (y - by) % 3 === 0).map(([x, y]) => `${(x - bx) / 3},${(y - by) / 3}`));
    expect(back).toEqual(new Set(a.map(([x, y]) => `${x - ax},${y - ay}`)));
    expect(() => frameStrip([v], { labelScale: 0 })).toThrow(/labelScale/);
  });

  test('bad rows', () => {
    expect(() => frameStrip([])).toThrow(/rows/);
    expect(() => frameStrip([video(1, () => 0), { width: 3, height: 2, frames: 1, data: new Float32Array(6) }])).toThrow(/rows\[1\]/);
    expect(() => frameStrip([video(1, () => 0)], { start: 1 })).toThrow(/start/);
  });
});
