import { PNG } from 'pngjs';
import { fail, writeFileAtomic } from '@vqvid/core';
import { checkImage, clamp01, colorize, isRgb, resolveRange } from './image';
import type { GrayImage, PngOptions, RgbImage } from './image';

/**
 * Encodes an image as PNG bytes: gray images (mapped through `range`, default 0..255) as 8-bit gray
 * PNG, or as RGB with a 'heat' colormap; RGB images as they are.
 * @example
 * ```ts
 * const bytes = encodePng({ width: 64, height: 48, data: frame });
 * ```
 */
export function encodePng(image: GrayImage | RgbImage, opts: PngOptions = {}): Uint8Array {
  checkImage(image, 'image');
  let rgb: RgbImage | null = isRgb(image) ? image : null;
  if (!rgb && (opts.colormap ?? 'gray') !== 'gray') rgb = colorize(image as GrayImage, opts);
  const png = new PNG({ width: image.width, height: image.height });
  if (rgb) {
    png.data = Buffer.from(rgb.data.buffer, rgb.data.byteOffset, rgb.data.length);
    return new Uint8Array(PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
  }
  const [lo, hi] = resolveRange(opts.range ?? 'fixed', image.data);
  const gray = Buffer.alloc(image.width * image.height);
  for (let i = 0; i < gray.length; i++) gray[i] = Math.round(255 * clamp01((image.data[i] - lo) / (hi - lo)));
  png.data = gray;
  return new Uint8Array(PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
}

/**
 * Writes an image as a PNG file (atomically); see {@link encodePng}.
 * @example
 * ```ts
 * await writePng('strip.png', frameStrip([input, prediction, truth]));
 * ```
 */
export async function writePng(path: string, image: GrayImage | RgbImage, opts: PngOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path === '') fail('E_SHAPE', 'path', 'a file path', path);
  await writeFileAtomic(path, encodePng(image, opts));
}
