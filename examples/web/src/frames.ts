import type { Video } from '@vqvid/core';
import { rgbToGray } from '@vqvid/video';

/** How a dropped file is sampled: frame width in pixels (height follows the aspect ratio), frames, seconds apart. */
export interface DecodeOptions {
  width: number;
  maxFrames: number;
  step: number;
}

function once(target: EventTarget, ok: string, bad = 'error'): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => (target.removeEventListener(ok, done), target.removeEventListener(bad, fail), resolve());
    const fail = () => (target.removeEventListener(ok, done), target.removeEventListener(bad, fail), reject(new Error(`video element: ${bad}`)));
    target.addEventListener(ok, done);
    target.addEventListener(bad, fail);
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

/** The pixels of frame t (a view, not a copy). */
export function frameOf(video: Video, t: number): Float32Array {
  const n = video.width * video.height;
  return video.data.subarray(t * n, (t + 1) * n);
}

/** Draws gray values (0..255, clamped) on a canvas of the frame's size. */
export function drawGray(canvas: HTMLCanvasElement, pixels: Float32Array, width: number, height: number): void {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.fill(pixels[i], i * 4, i * 4 + 3);
    rgba[i * 4 + 3] = 255;
  }
  paint(canvas, new ImageData(rgba, width, height));
}

/**
 * Draws a rows x cols grid of values in [0, max] as a heat map (black → red → yellow → white), each cell
 * `scale` pixels wide, so it lines up with the frames it describes.
 */
export function drawHeat(canvas: HTMLCanvasElement, values: Float32Array, rows: number, cols: number, max: number, scale: number): void {
  const width = cols * scale;
  const height = rows * scale;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = Math.min(1, Math.max(0, values[Math.floor(y / scale) * cols + Math.floor(x / scale)] / max));
      const o = (y * width + x) * 4;
      rgba[o] = 255 * Math.min(1, 3 * t);
      rgba[o + 1] = 255 * Math.min(1, Math.max(0, 3 * t - 1));
      rgba[o + 2] = 255 * Math.max(0, 3 * t - 2);
      rgba[o + 3] = 255;
    }
  }
  paint(canvas, new ImageData(rgba, width, height));
}

function paint(canvas: HTMLCanvasElement, image: ImageData): void {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')!.putImageData(image, 0, 0);
}
