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

/** Start of the source row of every (row, tap) pair: `table[row * SSIM_WINDOW + tap]`. */
function rowOffsetTable(width: number, height: number): Int32Array {
  const t = new Int32Array(height * SSIM_WINDOW);
  for (let p = 0; p < height; p++) {
    for (let k = 0; k < SSIM_WINDOW; k++) t[p * SSIM_WINDOW + k] = reflectIndex(p + k - SSIM_RADIUS, height) * width;
  }
  return t;
}

/** Tap k of output x of a padded row reads sample x + k. */
const PADDED_ROW_TAPS = Int32Array.from({ length: SSIM_WINDOW }, (_, k) => k);

/**
 * `dst[dstAt + x] = Σ_k SSIM_KERNEL[k] * src[offsets[at + k] + x]` for x < count, with the symmetric
 * taps folded (6 multiplies instead of 11): this loop is where SSIM spends its time.
 */
function weightedSum(src: Float64Array, offsets: Int32Array, at: number, dst: Float64Array, dstAt: number, count: number): void {
  const [k0, k1, k2, k3, k4, k5] = SSIM_KERNEL;
  const o0 = offsets[at], o1 = offsets[at + 1], o2 = offsets[at + 2], o3 = offsets[at + 3], o4 = offsets[at + 4];
  const o5 = offsets[at + 5], o6 = offsets[at + 6], o7 = offsets[at + 7], o8 = offsets[at + 8], o9 = offsets[at + 9];
  const o10 = offsets[at + 10];
  for (let x = 0; x < count; x++) {
    dst[dstAt + x] =
      k5 * src[o5 + x] +
      k4 * (src[o4 + x] + src[o6 + x]) +
      k3 * (src[o3 + x] + src[o7 + x]) +
      k2 * (src[o2 + x] + src[o8 + x]) +
      k1 * (src[o1 + x] + src[o9 + x]) +
      k0 * (src[o0 + x] + src[o10 + x]);
  }
}

/** Reusable buffers for filtering frames of one size. */
interface Workspace {
  width: number;
  height: number;
  /** See rowOffsetTable. */
  rowOffsets: Int32Array;
  /** Source column of each position of a reflect-padded row (length width + 2 * radius). */
  padIndex: Int32Array;
  /** One padded row of each of the five products x, y, x², y², xy. */
  padded: Float64Array[];
  /** The five products filtered along x. */
  horizontal: Float64Array[];
  /** ... and then along y: the local Gaussian-weighted means of x, y, x², y², xy. */
  maps: Float64Array[];
  /** The SSIM map of the last frame. */
  s: Float64Array;
}

function workspace(width: number, height: number): Workspace {
  const n = width * height;
  const five = (len: number): Float64Array[] => Array.from({ length: 5 }, () => new Float64Array(len));
  const padIndex = Int32Array.from({ length: width + 2 * SSIM_RADIUS }, (_, i) => reflectIndex(i - SSIM_RADIUS, width));
  return { width, height, rowOffsets: rowOffsetTable(width, height), padIndex, padded: five(padIndex.length), horizontal: five(n), maps: five(n), s: new Float64Array(n) };
}

/**
 * Filters the five products of a frame pair with the separable Gaussian: along x on reflect-padded rows,
 * then along y through reflected row indices. scipy filters y first; the order changes only rounding.
 */
function filterProducts(ws: Workspace, p: Float32Array, q: Float32Array): void {
  const { width: w, height: h, padIndex, padded, horizontal, maps, rowOffsets } = ws;
  const [px, py, pxx, pyy, pxy] = padded;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let i = 0; i < padIndex.length; i++) {
      const a = p[row + padIndex[i]];
      const b = q[row + padIndex[i]];
      px[i] = a;
      py[i] = b;
      pxx[i] = a * a;
      pyy[i] = b * b;
      pxy[i] = a * b;
    }
    for (let m = 0; m < 5; m++) weightedSum(padded[m], PADDED_ROW_TAPS, 0, horizontal[m], row, w);
  }
  for (let m = 0; m < 5; m++) {
    for (let y = 0; y < h; y++) weightedSum(horizontal[m], rowOffsets, y * SSIM_WINDOW, maps[m], y * w, w);
  }
}

/** Fills ws.s with the SSIM map of one frame (Wang et al. 2004, population covariances). */
function frameSsimMap(ws: Workspace, p: Float32Array, y: Float32Array, peak: number): Float64Array {
  filterProducts(ws, p, y);
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
