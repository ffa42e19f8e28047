import type { CodeVolume } from '@vqvid/core';

/**
 * Deterministic motion on an 8-column code grid, for tests (k = 4): background code 0, a 2x1 block of code 1
 * (rows 1-2) bouncing left-right between the grid edges, a static wall of code 3 in row 3, and a 1x2 bar of
 * code 2 bouncing up-down between the wall and the bottom edge in columns 5-6. Every bounce happens against
 * something visible within two cells, so the next frame is a local function of the last two.
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
    // one cell wide: a cell next to the block then sees the grid edge it bounces on (radius 2)
    const x = bounce(t + phase, cols - 1);
    for (const r of [1, 2]) codes[base + r * cols + x] = 1;
    for (let c = 0; c < cols; c++) codes[base + 3 * cols + c] = 3;
    const y = 4 + bounce(t + 2 * phase + 1, rows - 5);
    for (const c of [5, 6]) codes[base + y * cols + c] = 2;
  }
  return { rows, cols, frames, k: 4, codes };
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

/**
 * Slow float64 reference of the input convolutions, cell by cell: each of `layers` layers sums, over the
 * kernel window around the cell (zero outside the grid), the previous layer's vectors times the layer's weights
 * `conv{l}.w` ([kernel, kernel, cin, cout] row-major) plus `conv{l}.b`, tanh on every layer that has a bias.
 * `cells` are the first layer's inputs, row-major over the rows x cols grid. For tests; not exported.
 */
export function naiveConvStack(cells: Float64Array[], rows: number, cols: number, kernel: number, layers: number, w: Map<string, Float32Array>): Float64Array[] {
  const half = (kernel - 1) / 2;
  for (let l = 0; l < layers; l++) {
    const W = w.get(`conv${l}.w`)!;
    const cin = cells[0].length;
    const cout = W.length / (kernel * kernel * cin);
    const bias = w.get(`conv${l}.b`);
    const prev = cells;
    cells = prev.map((_, i) => {
      const r = Math.floor(i / cols);
      const c = i % cols;
      const y = new Float64Array(cout);
      for (let o = 0; o < cout; o++) {
        let s = bias ? bias[o] : 0;
        for (let tap = 0; tap < kernel * kernel; tap++) {
          const rr = r + Math.floor(tap / kernel) - half;
          const cc = c + (tap % kernel) - half;
          if (rr < 0 || rr >= rows || cc < 0 || cc >= cols) continue;
          const x = prev[rr * cols + cc];
          for (let j = 0; j < cin; j++) s += x[j] * W[(tap * cin + j) * cout + o];
        }
        y[o] = bias ? Math.tanh(s) : s;
      }
      return y;
    });
  }
  return cells;
}

