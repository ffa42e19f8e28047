import { assertInt, assertNumber, assertVideo, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { assertFramePair, valueRange, videoLike } from './frames';
import { POLY_CHANNELS, polyExpand } from './polyexp';
import { boxBlur, buildPyramid, gaussianBlur, sampleBilinear, upsampleFlow } from './pyramid';
import type { Plane } from './pyramid';

/**
 * A dense displacement field: pixel (x, y) of the first frame moves to (x + u, y + v) in the second.
 * `u` and `v` are in pixels, row-major, length width*height.
 * @example
 * ```ts
 * const { u, v, width } = opticalFlow(a, b);
 * const speed = Math.hypot(u[y * width + x], v[y * width + x]); // px per frame at (x, y)
 * ```
 */
export interface FlowField {
  /** Frame width in pixels. */
  width: number;
  /** Frame height in pixels. */
  height: number;
  /** Horizontal displacement in pixels (positive = rightwards), [height*width] row-major. */
  u: Float32Array;
  /** Vertical displacement in pixels (positive = downwards), [height*width] row-major. */
  v: Float32Array;
}

/**
 * Tuning of {@link opticalFlow}; the defaults follow Farnebäck / OpenCV's usual settings.
 * @example
 * ```ts
 * const fine = opticalFlow(a, b, { winSize: 9, iterations: 5 }); // sharper motion boundaries, noisier
 * ```
 */
export interface OpticalFlowOptions {
  /** Pyramid levels including the full-size one; default: as many as keep the coarsest side ≥ 12 px, at most 6. */
  levels?: number;
  /** Radius of the polynomial-expansion window in pixels (window 2r+1); default 5. */
  polyRadius?: number;
  /** σ of the Gaussian applicability of the polynomial expansion, pixels; default 1.1. */
  polySigma?: number;
  /** Side of the square averaging window of the displacement estimate (odd, pixels); default 15. */
  winSize?: number;
  /** Refinement iterations per pyramid level; default 3. */
  iterations?: number;
  /**
   * Weighting of the averaging window: 'box' (default, uniform over winSize²) or 'gaussian'
   * (σ = 0.3·⌊winSize/2⌋, as OpenCV's FARNEBACK_GAUSSIAN).
   */
  window?: 'box' | 'gaussian';
}

interface FlowParams {
  levels: number;
  polyRadius: number;
  polySigma: number;
  winSize: number;
  iterations: number;
  window: 'box' | 'gaussian';
}

/**
 * Edge pixels get a reduced weight because the polynomial fit there sees replicated pixels
 * (values from OpenCV's implementation, for distances 0..4 from the border).
 */
const BORDER_WEIGHT = [0.14, 0.14, 0.4472, 0.4472, 0.4472];
/** Tikhonov weight pulling the estimate towards the current one where the window has no structure. */
const PRIOR = 1e-3;

function resolveOptions(w: number, h: number, opts: OpticalFlowOptions): FlowParams {
  let auto = 1;
  while (auto < 6 && Math.min(w, h) / 2 ** auto >= 12) auto++;
  const p: FlowParams = {
    levels: opts.levels ?? auto,
    polyRadius: opts.polyRadius ?? 5,
    polySigma: opts.polySigma ?? 1.1,
    winSize: opts.winSize ?? 15,
    iterations: opts.iterations ?? 3,
    window: opts.window ?? 'box',
  };
  assertInt(p.levels, 'opts.levels', 1, 12);
  assertInt(p.polyRadius, 'opts.polyRadius', 1, 15);
  assertNumber(p.polySigma, 'opts.polySigma', 0.1, 20);
  assertInt(p.winSize, 'opts.winSize', 1, 255);
  if (p.winSize % 2 === 0) fail('E_RANGE', 'opts.winSize', 'an odd integer', p.winSize);
  assertInt(p.iterations, 'opts.iterations', 1, 100);
  if (p.window !== 'box' && p.window !== 'gaussian') fail('E_RANGE', 'opts.window', "'box' or 'gaussian'", p.window);
  return p;
}

function assertSingleFrame(v: Video, arg: string): void {
  assertVideo(v, arg);
  if (v.frames !== 1) fail('E_SHAPE', `${arg}.frames`, '1 (a single frame)', v.frames);
}

/**
 * Dense optical flow from frame `a` to frame `b` by pyramidal Farnebäck (polynomial expansion): each
 * pixel's neighbourhood is fitted by a quadratic polynomial in both frames, and the displacement that maps
 * one polynomial onto the other is solved in the least-squares sense over a window, coarse to fine with
 * the current estimate warping the second frame's expansion.
 * Intensities are rescaled jointly to 0..255 first, so 0..255 and std-normalised frames give the same flow.
 * Deterministic; about O(pixels · (polyRadius + iterations · levels)).
 * @param a first frame (single-frame Video); @param b second frame, same size.
 * @returns u, v in pixels with a(x, y) ≈ b(x + u, y + v).
 * @example
 * ```ts
 * const flow = opticalFlow(sliceVideo(video, 0), sliceVideo(video, 1));
 * const mid = warp(sliceVideo(video, 1), flow, 0.5);
 * ```
 */
export function opticalFlow(a: Video, b: Video, opts: OpticalFlowOptions = {}): FlowField {
  assertSingleFrame(a, 'a');
  assertSingleFrame(b, 'b');
  assertFramePair(a, b, 'a', 'b');
  return flowBetween(a.data, b.data, a.width, a.height, resolveOptions(a.width, a.height, opts));
}

/** Flow between two raw frames; the engine behind every public flow function. */
export function flowBetween(a: Float32Array, b: Float32Array, w: number, h: number, p: FlowParams): FlowField {
  const [lo, hi] = valueRange(a, b);
  if (!(hi > lo)) return { width: w, height: h, u: new Float32Array(w * h), v: new Float32Array(w * h) };
  const s = 255 / (hi - lo);
  const scaled = (f: Float32Array): Plane => ({ width: w, height: h, data: f.map((x) => (x - lo) * s) });
  const pyrA = buildPyramid(scaled(a), p.levels);
  const pyrB = buildPyramid(scaled(b), p.levels);
  let flow: FlowField | null = null;
  for (let l = p.levels - 1; l >= 0; l--) {
    const { width: lw, height: lh } = pyrA[l];
    const init: FlowField = flow
      ? {
          width: lw, height: lh,
          u: upsampleFlow(flow.u, flow.width, flow.height, lw, lh, 2),
          v: upsampleFlow(flow.v, flow.width, flow.height, lw, lh, 2),
        }
      : { width: lw, height: lh, u: new Float32Array(lw * lh), v: new Float32Array(lw * lh) };
    flow = refineLevel(pyrA[l], pyrB[l], init, p);
  }
  return flow as FlowField;
}

/** Farnebäck iterations on one pyramid level, starting from (and updating) `flow`. */
function refineLevel(a: Plane, b: Plane, flow: FlowField, p: FlowParams): FlowField {
  const r0 = polyExpand(a, p.polyRadius, p.polySigma);
  const r1 = polyExpand(b, p.polyRadius, p.polySigma);
  const m = new Float32Array(a.width * a.height * POLY_CHANNELS);
  for (let it = 0; it < p.iterations; it++) {
    buildConstraints(r0, r1, flow, m);
    const avg = p.window === 'gaussian'
      ? gaussianBlur(m, a.width, a.height, POLY_CHANNELS, 0.3 * (p.winSize >> 1))
      : boxBlur(m, a.width, a.height, POLY_CHANNELS, p.winSize >> 1);
    solveFlow(avg, flow);
  }
  return flow;
}

/**
 * Per pixel, the normal equations of A·d = Δb with A the mean quadratic term of both expansions (the
 * second sampled at x + d) and Δb = −½(b₂ − b₁) + A·d, stored as [AᵀA (3 values), AᵀΔb (2 values)].
 * Pixels whose displaced position leaves the second frame carry no constraint.
 */
function buildConstraints(r0: Float32Array, r1: Float32Array, flow: FlowField, m: Float32Array): void {
  const { width: w, height: h, u, v } = flow;
  const q = new Float64Array(POLY_CHANNELS);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const o = i * POLY_CHANNELS;
      const dx = u[i];
      const dy = v[i];
      if (!samplePoly(r1, w, h, x + dx, y + dy, q)) {
        m.fill(0, o, o + POLY_CHANNELS);
        continue;
      }
      const wt = borderWeight(x, w) * borderWeight(y, h);
      const a11 = wt * 0.5 * (r0[o + 2] + q[2]);
      const a22 = wt * 0.5 * (r0[o + 3] + q[3]);
      const a12 = wt * 0.25 * (r0[o + 4] + q[4]);
      const h1 = wt * 0.5 * (r0[o] - q[0]) + a11 * dx + a12 * dy;
      const h2 = wt * 0.5 * (r0[o + 1] - q[1]) + a12 * dx + a22 * dy;
      m[o] = a11 * a11 + a12 * a12;
      m[o + 1] = a12 * (a11 + a22);
      m[o + 2] = a22 * a22 + a12 * a12;
      m[o + 3] = a11 * h1 + a12 * h2;
      m[o + 4] = a12 * h1 + a22 * h2;
    }
  }
}

function borderWeight(i: number, n: number): number {
  const d = Math.min(i, n - 1 - i);
  return d < BORDER_WEIGHT.length ? BORDER_WEIGHT[d] : 1;
}

/** Bilinear sample of all expansion channels; false when (fx, fy) is outside the interpolable area. */
function samplePoly(r: Float32Array, w: number, h: number, fx: number, fy: number, out: Float64Array): boolean {
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  if (x0 < 0 || y0 < 0 || x0 >= w - 1 || y0 >= h - 1) return false;
  const ax = fx - x0;
  const ay = fy - y0;
  const i00 = (y0 * w + x0) * POLY_CHANNELS;
  const i10 = i00 + POLY_CHANNELS;
  const i01 = i00 + w * POLY_CHANNELS;
  const i11 = i01 + POLY_CHANNELS;
  const w00 = (1 - ax) * (1 - ay);
  const w10 = ax * (1 - ay);
  const w01 = (1 - ax) * ay;
  const w11 = ax * ay;
  for (let c = 0; c < POLY_CHANNELS; c++) {
    out[c] = w00 * r[i00 + c] + w10 * r[i10 + c] + w01 * r[i01 + c] + w11 * r[i11 + c];
  }
  return true;
}

/** Solves the window-averaged 2x2 systems (G + εI)·d = h + ε·d_current in place. */
function solveFlow(m: Float32Array, flow: FlowField): void {
  const { u, v } = flow;
  for (let i = 0; i < u.length; i++) {
    const o = i * POLY_CHANNELS;
    const g11 = m[o] + PRIOR;
    const g12 = m[o + 1];
    const g22 = m[o + 2] + PRIOR;
    const h1 = m[o + 3] + PRIOR * u[i];
    const h2 = m[o + 4] + PRIOR * v[i];
    const det = g11 * g22 - g12 * g12;
    u[i] = (g22 * h1 - g12 * h2) / det;
    v[i] = (g11 * h2 - g12 * h1) / det;
  }
}

function assertFlow(flow: unknown, arg: string): asserts flow is FlowField {
  if (typeof flow !== 'object' || flow === null) fail('E_SHAPE', arg, 'a FlowField { width, height, u, v }', flow);
  const f = flow as Record<string, unknown>;
  assertInt(f.width, `${arg}.width`, 1);
  assertInt(f.height, `${arg}.height`, 1);
  const n = (f.width as number) * (f.height as number);
  for (const c of ['u', 'v']) {
    if (!(f[c] instanceof Float32Array)) fail('E_DTYPE', `${arg}.${c}`, 'a Float32Array', f[c]);
    if ((f[c] as Float32Array).length !== n) fail('E_SHAPE', `${arg}.${c}.length`, `${n}`, (f[c] as Float32Array).length);
  }
}

/** Backward bilinear warp of raw pixels: out(x, y) = frame(x + s·u, y + s·v), border clamped. */
export function warpData(frame: Float32Array, flow: FlowField, scale: number, out: Float32Array = new Float32Array(frame.length)): Float32Array {
  const { width: w, height: h, u, v } = flow;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      out[i] = sampleBilinear(frame, w, h, x + scale * u[i], y + scale * v[i]);
    }
  }
  return out;
}

/**
 * Backward warping: out(x, y) = frame(x + scale·u(x, y), y + scale·v(x, y)), bilinear, coordinates
 * clamped to the frame border.
 * @param frame single-frame Video of the flow's size; @param flow displacement field in pixels;
 * @param scale multiplier of the displacement (e.g. 0.5 for half-way), default 1.
 * @example
 * ```ts
 * // a(x) ≈ b(x + flow(x)), so warping b with the a→b flow reconstructs a:
 * const aHat = warp(b, opticalFlow(a, b));
 * ```
 */
export function warp(frame: Video, flow: FlowField, scale = 1): Video {
  assertSingleFrame(frame, 'frame');
  assertFlow(flow, 'flow');
  assertNumber(scale, 'scale');
  if (flow.width !== frame.width || flow.height !== frame.height) {
    fail('E_SHAPE', 'flow', `a ${frame.width}x${frame.height} field like frame`, `${flow.width}x${flow.height}`);
  }
  return videoLike(frame, warpData(frame.data, flow, scale));
}

export { resolveOptions };
export type { FlowParams };
