import type { CodeVolume } from '@vqvid/core';

/**
 * Deterministic motion on a code grid, for tests: background code 0, a 2x2 block of code 1 bouncing left-right
 * in rows 1-2 (columns 0..5), and a 1x2 bar of code 2 bouncing up-down in columns 6-7. Their paths never meet.
 * Not exported from the package.
 */
export function motionCodes(frames: number, phase = 0, rows = 8, cols = 8): CodeVolume {
  const codes = new Int32Array(frames * rows * cols);
  const bounce = (t: number, span: number) => {
    const p = t % (2 * span);
    return p < span ? p : 2 * span - p;
  };
  for (let t = 0; t < frames; t++) {
    const base = t * rows * cols;
    const x = bounce(t + phase, cols - 4); // block columns x, x+1 within 0..cols-3
    for (const r of [1, 2]) for (const c of [x, x + 1]) codes[base + r * cols + c] = 1;
    const y = bounce(t + 2 * phase + 1, rows - 1);
    for (const c of [cols - 2, cols - 1]) codes[base + y * cols + c] = 2;
  }
  return { rows, cols, frames, k: 3, codes };
}

/** Uniformly random codes (for shape, memory and speed checks). */
export function randomCodes(frames: number, rows: number, cols: number, k: number, seed = 1): CodeVolume {
  let s = seed >>> 0 || 1;
  const codes = new Int32Array(frames * rows * cols);
  for (let i = 0; i < codes.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    codes[i] = (s >>> 0) % k;
  }
  return { rows, cols, frames, k, codes };
}
