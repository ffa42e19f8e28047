import type { Video } from '@vqvid/core';
import { colorize, rgbToGray } from '@vqvid/video';
import type { GrayImage, PngOptions } from '@vqvid/video';

/** How a dropped file is sampled: frame width in pixels (height follows the aspect ratio), frames, seconds apart. */
export interface DecodeOptions {
  width: number;
  maxFrames: number;
  step: number;
}

function once(target: EventTarget, ok: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (e: Event) => {
      target.removeEventListener(ok, settle);
      target.removeEventListener('error', settle);
      if (e.type === ok) resolve();
      else reject(new Error('the browser cannot decode this file (try WebM, MP4 or Ogg)'));
    };
    target.addEventListener(ok, settle);
    target.addEventListener('error', settle);
  });
}

/**
 * Decodes a video file with the browser's own decoder (a <video> element seeked frame by frame, drawn on a
 * canvas) into a gray Video whose sides are multiples of 8, so the patch grid covers it exactly.
 */
export async function decodeVideoFile(file: Blob, opts: DecodeOptions): Promise<Video> {
  const el = document.createElement('video');
  el.muted = true;
  el.preload = 'auto';
  const url = URL.createObjectURL(file);
  try {
    el.src = url;
    await once(el, 'loadeddata');
    if (!el.videoWidth || !el.videoHeight) throw new Error('the browser could not decode this file');
    const width = Math.max(8, Math.round(opts.width / 8) * 8);
    const height = Math.max(8, Math.round((el.videoHeight * width) / el.videoWidth / 8) * 8);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    const count = Math.max(1, Math.min(opts.maxFrames, Math.floor(el.duration / opts.step) + 1));
    const rgba = new Uint8Array(count * width * height * 4);
    for (let i = 0; i < count; i++) {
      el.currentTime = Math.min(i * opts.step, el.duration);
      await once(el, 'seeked');
      ctx.drawImage(el, 0, 0, width, height);
      rgba.set(ctx.getImageData(0, 0, width, height).data, i * width * height * 4);
    }
    return { ...rgbToGray(rgba, width, height, 4), fps: 1 / opts.step };
  } finally {
    URL.revokeObjectURL(url);
  }
}

/**
 * Draws a `width` x `height` image of values on a canvas of that size, through a value range and colormap
 * (`colorize` from @vqvid/video, the same mapping as the CLI's PNG strips); CSS scales small canvases up
 * with `image-rendering: pixelated`.
 */
export function drawValues(canvas: HTMLCanvasElement, image: GrayImage, opts: PngOptions): void {
  const { width, height, data: rgb } = colorize(image, opts);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, width, height), 0, 0);
}
