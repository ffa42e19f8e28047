// Gray and RGB images, colormaps and frame strips: portable code (no Node modules), shared by the PNG
// writer and the browser entry.
import { assertInt, assertVideo, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { drawText, textWidth, GLYPH_H } from './font';

/** A gray image: height*width values, row-major (0..255 unless a range says otherwise). */
export interface GrayImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** height*width gray values. */
  data: Float32Array | Uint8Array;
}

/** An 8-bit RGB image, channels interleaved, row-major. */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Always 3 (R, G, B); tells RGB images from gray ones. */
  channels: 3;
  /** height*width*3 bytes. */
  data: Uint8Array;
}

/** How values map to colours: 'gray' ramp, or 'heat' (black → red → yellow → white) for errors/entropy. */
export type Colormap = 'gray' | 'heat';

/** Value range mapped to black..white: 'fixed' is 0..255, 'auto' the data's own min..max, or explicit [lo, hi]. */
export type ValueRange = 'fixed' | 'auto' | [number, number];

/** Options of {@link encodePng} / {@link writePng} for gray images. */
export interface PngOptions {
  /** Values mapped to black..white (or the ends of the colormap); default 'fixed' (0..255). */
  range?: ValueRange;
  /** Default 'gray' (written as a gray PNG); 'heat' writes RGB. */
  colormap?: Colormap;
}

/** @internal */
export function isRgb(image: GrayImage | RgbImage): image is RgbImage {
  return (image as RgbImage).channels === 3;
}

/** @internal */
export function checkImage(image: GrayImage | RgbImage, arg: string): void {
  if (typeof image !== 'object' || image === null) fail('E_SHAPE', arg, 'an image { width, height, data }', image);
  assertInt(image.width, `${arg}.width`, 1);
  assertInt(image.height, `${arg}.height`, 1);
  const rgb = isRgb(image);
  if (rgb ? !(image.data instanceof Uint8Array) : !(image.data instanceof Float32Array || image.data instanceof Uint8Array)) {
    fail('E_DTYPE', `${arg}.data`, rgb ? 'a Uint8Array' : 'a Float32Array or Uint8Array', image.data);
  }
  const n = image.width * image.height * (rgb ? 3 : 1);
  if (image.data.length !== n) fail('E_SHAPE', `${arg}.data.length`, String(n), image.data.length);
}

/** [lo, hi] of a range option over `data` (auto: min..max of the finite values). */
export function resolveRange(range: ValueRange, data: ArrayLike<number>): [number, number] {
  if (range === 'fixed') return [0, 255];
  if (Array.isArray(range)) {
    if (range.length !== 2 || !(range[1] > range[0])) fail('E_RANGE', 'range', '[lo, hi] with hi > lo', range);
    return range;
  }
  if (range !== 'auto') fail('E_RANGE', 'range', "'fixed', 'auto' or [lo, hi]", range);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo < hi ? [lo, hi] : [lo === Infinity ? 0 : lo, lo === Infinity ? 1 : lo + 1];
}

/** @internal */
export function clamp01(t: number): number {
  return t > 0 ? (t < 1 ? t : 1) : 0;
}

/** Writes the RGB colour of `t` in [0, 1] at out[at..at+3). */
export function colorAt(t: number, map: Colormap, out: Uint8Array, at: number): void {
  t = clamp01(t);
  if (map === 'heat') {
    out[at] = Math.round(255 * clamp01(3 * t));
    out[at + 1] = Math.round(255 * clamp01(3 * t - 1));
    out[at + 2] = Math.round(255 * clamp01(3 * t - 2));
  } else {
    out[at] = out[at + 1] = out[at + 2] = Math.round(255 * t);
  }
}

function checkColormap(map: unknown): asserts map is Colormap {
  if (map !== 'gray' && map !== 'heat') fail('E_RANGE', 'colormap', "'gray' or 'heat'", map);
}

/**
 * Maps a gray image through a value range and colormap to RGB.
 * @example
 * ```ts
 * const rgb = colorize({ width: 2, height: 1, data: new Float32Array([0, 1]) }, { range: 'auto', colormap: 'heat' });
 * ```
 */
export function colorize(image: GrayImage, opts: PngOptions = {}): RgbImage {
  checkImage(image, 'image');
  const map = opts.colormap ?? 'gray';
  checkColormap(map);
  const [lo, hi] = resolveRange(opts.range ?? 'fixed', image.data);
  const out = new Uint8Array(image.width * image.height * 3);
  for (let i = 0; i < image.data.length; i++) colorAt((image.data[i] - lo) / (hi - lo), map, out, 3 * i);
  return { width: image.width, height: image.height, channels: 3, data: out };
}

/** One row of a strip: a video with an optional label and its own range/colormap. */
export interface StripRow {
  /** Text drawn left of the row (3x5 pixel font: letters, digits, a few signs). */
  label?: string;
  /** The frames of the row. */
  video: Video;
  /** Value range of this row; default the strip's `range`. */
  range?: ValueRange;
  /** Colormap of this row; default the strip's `colormap`. */
  colormap?: Colormap;
}

/** Options of {@link frameStrip}. */
export interface FrameStripOptions {
  /** First frame of every row. Default 0. */
  start?: number;
  /** Most frames per row. Default all. */
  maxFrames?: number;
  /** Pixels between frames and between rows. Default 2. */
  gap?: number;
  /** Gray level (0..255) of gaps and the label column. Default 255 (white). */
  background?: number;
  /** Default range of rows that give none. Default 'fixed' (0..255). */
  range?: ValueRange;
  /** Default colormap of rows that give none. Default 'gray'. */
  colormap?: Colormap;
  /** Integer nearest-neighbour enlargement of every frame. Default 1. */
  scale?: number;
  /** Integer enlargement of the 3x5 label font (3 gives 15-pixel letters). Default 1. */
  labelScale?: number;
}

function rowOf(r: Video | StripRow, i: number): StripRow {
  if (typeof r === 'object' && r !== null && 'video' in r) {
    assertVideo(r.video, `rows[${i}].video`);
    return r;
  }
  assertVideo(r, `rows[${i}]`);
  return { video: r as Video };
}

/**
 * Lays out videos as one RGB image for reports: each row a sequence of frames side by side, rows stacked
 * with a gap, each row with its own value range ('auto' min/max, 'fixed' 0..255 or [lo, hi]) and colormap,
 * and its label drawn in a 3x5 pixel font on the left. All rows must share one frame size.
 * @example
 * ```ts
 * const image = frameStrip([
 *   { label: 'input', video: input }, { label: 'pred', video: pred },
 *   { label: 'error', video: err, range: 'auto', colormap: 'heat' },
 * ], { maxFrames: 8, gap: 2, scale: 2 });
 * await writePng('report.png', image);
 * ```
 */
export function frameStrip(rows: Array<Video | StripRow>, opts: FrameStripOptions = {}): RgbImage {
  if (!Array.isArray(rows) || rows.length === 0) fail('E_SHAPE', 'rows', 'a non-empty array of videos', rows);
  const list = rows.map(rowOf);
  const { width: fw, height: fh } = list[0].video;
  list.forEach((r, i) => {
    if (r.video.width !== fw || r.video.height !== fh) fail('E_SHAPE', `rows[${i}].video`, `frames of ${fw}x${fh}`, `${r.video.width}x${r.video.height}`);
  });
  const start = opts.start ?? 0;
  const gap = opts.gap ?? 2;
  const scale = opts.scale ?? 1;
  const bg = opts.background ?? 255;
  const ls = opts.labelScale ?? 1;
  assertInt(ls, 'labelScale', 1, 16);
  assertInt(start, 'start', 0);
  assertInt(gap, 'gap', 0, 1000);
  assertInt(scale, 'scale', 1, 64);
  assertInt(bg, 'background', 0, 255);
  if (opts.maxFrames !== undefined) assertInt(opts.maxFrames, 'maxFrames', 1);
  const shown = list.map((r) => Math.max(0, Math.min(r.video.frames - start, opts.maxFrames ?? Infinity)));
  const cols = Math.max(...shown);
  if (cols === 0) fail('E_RANGE', 'start', 'below the frame count of some row', start);
  const labelW = Math.max(0, ...list.map((r) => (r.label ? textWidth(r.label, ls) + 2 * gap + 2 * ls : 0)));
  const cw = fw * scale;
  const ch = fh * scale;
  const width = labelW + cols * cw + (cols - 1) * gap;
  const height = list.length * ch + (list.length - 1) * gap;
  const out = new Uint8Array(width * height * 3).fill(bg);
  list.forEach((r, i) => {
    const y0 = i * (ch + gap);
    const n = fw * fh;
    const shownData = r.video.data.subarray(start * n, (start + shown[i]) * n);
    const map = r.colormap ?? opts.colormap ?? 'gray';
    checkColormap(map);
    const [lo, hi] = resolveRange(r.range ?? opts.range ?? 'fixed', shownData);
    for (let t = 0; t < shown[i]; t++) {
      const x0 = labelW + t * (cw + gap);
      for (let y = 0; y < ch; y++) {
        for (let x = 0; x < cw; x++) {
          const v = shownData[t * n + Math.floor(y / scale) * fw + Math.floor(x / scale)];
          colorAt((v - lo) / (hi - lo), map, out, 3 * ((y0 + y) * width + x0 + x));
        }
      }
    }
    if (r.label) drawText(out, width, r.label, gap + ls, y0 + Math.max(0, Math.floor((ch - GLYPH_H * ls) / 2)), bg > 127 ? 0 : 255, ls);
  });
  return { width, height, channels: 3, data: out };
}
