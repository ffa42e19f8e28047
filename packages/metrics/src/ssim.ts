import { fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { framePair, frameOf, mapFrames, meanOverFrames } from './frames';
import type { FramePair, PixelMetricOptions } from './frames';

/** Gaussian σ of Wang et al. 2004; with scipy's truncate = 3.5 it gives an 11-tap window. */
const SIGMA = 1.5;
/** int(3.5 σ + 0.5) as in scipy.ndimage, so the window is 2*5+1 = 11 pixels wide. */
export const SSIM_RADIUS = 5;
/** Side of the square SSIM window (pixels). */
export const SSIM_WINDOW = 2 * SSIM_RADIUS + 1;
const K1 = 0.01;
const K2 = 0.03;

/** The normalised 1-D Gaussian taps of scipy.ndimage.gaussian_filter1d (σ = 1.5, radius 5). */
export const SSIM_KERNEL: Float64Array = (() => {
  const k = new Float64Array(SSIM_WINDOW);
  let sum = 0;
  for (let i = 0; i < SSIM_WINDOW; i++) {
    const x = i - SSIM_RADIUS;
    k[i] = Math.exp((-0.5 * x * x) / (SIGMA * SIGMA));
    sum += k[i];
  }
  for (let i = 0; i < SSIM_WINDOW; i++) k[i] /= sum;
  return k;
})();

/**
 * Index of sample `i` of a length-n axis under scipy.ndimage mode 'reflect' (d c b a | a b c d | d c b a),
 * repeated as often as needed for axes shorter than the window.
 */
export function reflectIndex(i: number, n: number): number {
  const period = 2 * n;
  const m = ((i % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

/** Source index of every (position, tap) pair of an axis: `table[pos * SSIM_WINDOW + tap]`. */
function tapTable(n: number): Int32Array {
  const t = new Int32Array(n * SSIM_WINDOW);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < SSIM_WINDOW; k++) t[p * SSIM_WINDOW + k] = reflectIndex(p + k - SSIM_RADIUS, n);
  }
  return t;
}

/** Reusable buffers for filtering frames of one size. */
interface Workspace {
  width: number;
  height: number;
  rowTaps: Int32Array;
  colTaps: Int32Array;
  input: Float64Array;
  tmp: Float64Array;
  /** Filtered maps: mean of x, y, x², y², xy. */
  maps: Float64Array[];
  /** The SSIM map of the last frame. */
  s: Float64Array;
}

function workspace(width: number, height: number): Workspace {
  const n = width * height;
  const maps = Array.from({ length: 5 }, () => new Float64Array(n));
  return { width, height, rowTaps: tapTable(height), colTaps: tapTable(width), input: new Float64Array(n), tmp: new Float64Array(n), maps, s: new Float64Array(n) };
}

/** Separable Gaussian filter of ws.input into `out`: along y then along x, as scipy's gaussian_filter does. */
function gaussianFilter(ws: Workspace, out: Float64Array): void {
  const { width: w, height: h, input, tmp, rowTaps, colTaps } = ws;
  tmp.fill(0);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let k = 0; k < SSIM_WINDOW; k++) {
      const weight = SSIM_KERNEL[k];
      const src = rowTaps[y * SSIM_WINDOW + k] * w;
      for (let x = 0; x < w; x++) tmp[row + x] += weight * input[src + x];
    }
  }
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let acc = 0;
      const taps = x * SSIM_WINDOW;
      for (let k = 0; k < SSIM_WINDOW; k++) acc += SSIM_KERNEL[k] * tmp[row + colTaps[taps + k]];
      out[x + row] = acc;
    }
  }
}

/** Fills ws.s with the SSIM map of one frame (Wang et al. 2004, population covariances). */
function frameSsimMap(ws: Workspace, p: Float32Array, y: Float32Array, peak: number): Float64Array {
  const products: ((i: number) => number)[] = [
    (i) => p[i],
    (i) => y[i],
    (i) => p[i] * p[i],
    (i) => y[i] * y[i],
    (i) => p[i] * y[i],
  ];
  products.forEach((f, m) => {
    for (let i = 0; i < ws.input.length; i++) ws.input[i] = f(i);
    gaussianFilter(ws, ws.maps[m]);
  });
  const [ux, uy, uxx, uyy, uxy] = ws.maps;
  const c1 = (K1 * peak) ** 2;
  const c2 = (K2 * peak) ** 2;
  for (let i = 0; i < ws.s.length; i++) {
    const vx = uxx[i] - ux[i] * ux[i];
    const vy = uyy[i] - uy[i] * uy[i];
    const vxy = uxy[i] - ux[i] * uy[i];
    const num = (2 * ux[i] * uy[i] + c1) * (2 * vxy + c2);
    ws.s[i] = num / ((ux[i] * ux[i] + uy[i] * uy[i] + c1) * (vx + vy + c2));
  }
  return ws.s;
}

/** Mean of the map over (masked) pixels at least SSIM_RADIUS from every border, as scikit-image crops. */
function croppedMean(s: Float64Array, width: number, height: number, mask: Uint8Array | undefined): number {
  let sum = 0;
  let count = 0;
  for (let y = SSIM_RADIUS; y < height - SSIM_RADIUS; y++) {
    for (let x = SSIM_RADIUS; x < width - SSIM_RADIUS; x++) {
      const i = y * width + x;
      if (mask !== undefined && mask[i] === 0) continue;
      sum += s[i];
      count++;
    }
  }
  return count === 0 ? NaN : sum / count;
}

function ssimPair(pred: Video, truth: Video, options: PixelMetricOptions): { pair: FramePair; ws: Workspace } {
  const pair = framePair(pred, truth, options);
  if (pair.width < SSIM_WINDOW || pair.height < SSIM_WINDOW) {
    fail('E_SHAPE', 'pred', `frames at least ${SSIM_WINDOW}x${SSIM_WINDOW} for SSIM`, `${pair.height}x${pair.width}`);
  }
  return { pair, ws: workspace(pair.width, pair.height) };
}

/**
 * The full SSIM map of every frame (Float64Array `frames*height*width`, frame-major, row-major), before
 * any border crop: the `S` that `structural_similarity(..., full=True)` returns. Borders use
 * scipy 'reflect' padding, so values within 5 pixels of an edge are less trustworthy.
 * @example
 * ```ts
 * const map = ssimMap(pred, truth);   // map[(t * h + y) * w + x] in [-1, 1]
 * ```
 */
export function ssimMap(pred: Video, truth: Video, options: Pick<PixelMetricOptions, 'peak'> = {}): Float64Array {
  const { pair, ws } = ssimPair(pred, truth, { peak: options.peak });
  const n = pair.width * pair.height;
  const out = new Float64Array(n * pair.frames);
  for (let t = 0; t < pair.frames; t++) out.set(frameSsimMap(ws, frameOf(pred, t), frameOf(truth, t), pair.peak), t * n);
  return out;
}

/**
 * Mean SSIM of each frame (Float64Array of length `frames`); see {@link ssim}. NaN for a frame whose mask
 * selects no pixel inside the cropped region.
 * @example
 * ```ts
 * ssimPerFrame(pred, truth, { peak: 1 });
 * ```
 */
export function ssimPerFrame(pred: Video, truth: Video, options: PixelMetricOptions = {}): Float64Array {
  const { pair, ws } = ssimPair(pred, truth, options);
  return mapFrames(pair, (p, y, mask) => croppedMean(frameSsimMap(ws, p, y, pair.peak), pair.width, pair.height, mask));
}

/**
 * Structural similarity (Wang et al. 2004), the mean over frames of each frame's mean SSIM. Equals
 * scikit-image `structural_similarity(pred, truth, gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=peak)`: 11x11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03,
 * maps filtered with scipy 'reflect' borders, then 5 pixels cropped from each side before the mean.
 * Frames must be at least 11x11. With `mask`, the mean runs over masked pixels of that cropped region;
 * frames with none are skipped (NaN if all are). Symmetric, and exactly 1 for identical frames.
 * @example
 * ```ts
 * ssim(pred, truth);                 // e.g. 0.894
 * ssim(pred, truth, { mask });       // SSIM of the moving pixels only
 * ```
 */
export function ssim(pred: Video, truth: Video, options: PixelMetricOptions = {}): number {
  return meanOverFrames(ssimPerFrame(pred, truth, options));
}
