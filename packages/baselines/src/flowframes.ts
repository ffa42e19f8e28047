import { assertInt, assertNumber, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { flowBetween, resolveOptions, warpData } from './flow';
import type { FlowField, FlowParams, OpticalFlowOptions } from './flow';
import { assertFramePair, mapFramePairs } from './frames';
import { sampleBilinear } from './pyramid';

/**
 * Options of {@link flowInterpolate}: the flow options plus the time and occlusion handling.
 * @example
 * ```ts
 * const quarter = flowInterpolate(a, b, { t: 0.25, consistencySigma: 0.5 });
 * ```
 */
export interface FlowInterpolateOptions extends OpticalFlowOptions {
  /** Position of the wanted frame between a (0) and b (1); default 0.5. */
  t?: number;
  /**
   * Occlusion-aware blending (default true): a side whose sample falls outside its frame gets (almost) no
   * weight, and a source pixel whose forward–backward round trip misses by e pixels gets exp(−e²/σ²).
   * `false` gives the plain temporal blend (1−t)·A + t·B of the two warped frames.
   */
  occlusion?: boolean;
  /** σ of the round-trip weighting in pixels; default 2 (flows on real, noisy video are off by ~1 px, and a stricter σ loses the noise averaging of the blend). */
  consistencySigma?: number;
}

/**
 * Round-trip error map on the grid of the first flow: |f(p) + g(p + f(p))|² in px², where f goes
 * X→Y and g goes Y→X. Large where a pixel of X is occluded in Y (its match is something else).
 */
function roundTripError(f: FlowField, g: FlowField): Float32Array {
  const { width: w, height: h } = f;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const px = x + f.u[i];
      const py = y + f.v[i];
      const eu = f.u[i] + sampleBilinear(g.u, w, h, px, py);
      const ev = f.v[i] + sampleBilinear(g.v, w, h, px, py);
      out[i] = eu * eu + ev * ev;
    }
  }
  return out;
}

/** Linear combination α·f + β·g of two flows on the same grid. */
function combineFlows(f: FlowField, g: FlowField, alpha: number, beta: number): FlowField {
  return {
    width: f.width,
    height: f.height,
    u: f.u.map((x, i) => alpha * x + beta * g.u[i]),
    v: f.v.map((x, i) => alpha * x + beta * g.v[i]),
  };
}

/** Per-pixel confidence of the side warped with `toSrc`: 0 outside the frame, else exp(−round-trip²/σ²). */
function sideConfidence(fwd: FlowField, bwd: FlowField, toSrc: FlowField, sigma: number): Float32Array {
  const { width: w, height: h } = toSrc;
  const err = warpData(roundTripError(fwd, bwd), toSrc, 1);
  const s2 = sigma * sigma;
  return err.map((e, i) => {
    const x = (i % w) + toSrc.u[i];
    const y = Math.floor(i / w) + toSrc.v[i];
    const inside = x > -0.5 && x < w - 0.5 && y > -0.5 && y < h - 0.5;
    return inside ? Math.exp(-e / s2) : 0;
  });
}

/** The frame at time t between two raw frames; see {@link flowInterpolate}. */
function interpolatePair(a: Float32Array, b: Float32Array, w: number, h: number, t: number, opts: InterpSettings, out: Float32Array): void {
  const fwd = flowBetween(a, b, w, h, opts.params);
  const bwd = flowBetween(b, a, w, h, opts.params);
  // Flows from the unknown frame's grid to a and to b (Jiang et al., Super SloMo, eq. 4).
  const toA = combineFlows(fwd, bwd, -(1 - t) * t, t * t);
  const toB = combineFlows(fwd, bwd, (1 - t) * (1 - t), -t * (1 - t));
  const fromA = warpData(a, toA, 1);
  const fromB = warpData(b, toB, 1);
  const confA = opts.occlusion ? sideConfidence(fwd, bwd, toA, opts.sigma) : null;
  const confB = opts.occlusion ? sideConfidence(bwd, fwd, toB, opts.sigma) : null;
  for (let i = 0; i < out.length; i++) {
    // Temporal closeness times confidence; the small floor keeps a plain blend where both sides are doubtful.
    const wa = (1 - t) * ((confA ? confA[i] : 1) + 1e-3);
    const wb = t * ((confB ? confB[i] : 1) + 1e-3);
    out[i] = (wa * fromA[i] + wb * fromB[i]) / (wa + wb);
  }
}

interface InterpSettings {
  params: FlowParams;
  occlusion: boolean;
  sigma: number;
}

/**
 * Motion-compensated frame interpolation: estimates the forward (a→b) and backward (b→a) flow, derives
 * the flows from the unknown frame at time t to both ends (F_t→a = −(1−t)t·F + t²·B,
 * F_t→b = (1−t)²·F − t(1−t)·B, exact for constant motion), warps both frames there and blends them.
 * Occlusion: each side is weighted by its temporal closeness times a confidence — 0 where its sample
 * point leaves the frame, else exp(−e²/σ²) with e the forward–backward round-trip error (pixels) of the
 * source pixel it samples — so pixels visible in only one frame are taken from that frame. The flow is
 * window-based, so it is smooth across motion boundaries; small fast objects are blurred there.
 * @param a frame(s) at time 0; @param b frame(s) at time 1 (same size and count; pairs are independent).
 * @returns one interpolated frame per pair.
 * @example
 * ```ts
 * const mid = flowInterpolate(sliceVideo(v, 0), sliceVideo(v, 2)); // guess of frame 1
 * ```
 */
export function flowInterpolate(a: Video, b: Video, opts: FlowInterpolateOptions = {}): Video {
  assertFramePair(a, b, 'a', 'b');
  const t = opts.t ?? 0.5;
  const settings: InterpSettings = {
    params: resolveOptions(a.width, a.height, opts),
    occlusion: opts.occlusion ?? true,
    sigma: opts.consistencySigma ?? 2,
  };
  assertNumber(t, 'opts.t', 0, 1);
  assertNumber(settings.sigma, 'opts.consistencySigma', 1e-6);
  if (typeof settings.occlusion !== 'boolean') fail('E_RANGE', 'opts.occlusion', 'a boolean', settings.occlusion);
  return mapFramePairs(a, b, (fa, fb, out) => interpolatePair(fa, fb, a.width, a.height, t, settings, out));
}

/**
 * Options of {@link flowExtrapolate}: the flow's options and how far ahead.
 * @example
 * ```ts
 * const opts: FlowExtrapolateOptions = { steps: 10 };
 * ```
 */
export interface FlowExtrapolateOptions extends OpticalFlowOptions {
  /** Frames ahead (integer ≥ 1, default 1): the guess of frame t + steps, the same motion repeated. */
  steps?: number;
}

/**
 * Motion-compensated extrapolation under constant motion. The flow is estimated from `cur` back to `prev`
 * (rather than prev→cur) because it then lives on cur's pixel grid: under constant motion frame t + s satisfies
 * frame(x) ≈ cur(x + s·F_cur→prev(x)), one backward warp of `cur` (s = `opts.steps`, default 1).
 * @param prev frame(s) at time t−1; @param cur frame(s) at time t (same size and count).
 * @returns the guess for time t + steps, one frame per pair.
 * @example
 * ```ts
 * const next = flowExtrapolate(sliceVideo(v, 8), sliceVideo(v, 9)); // guess of frame 10
 * const tenth = flowExtrapolate(sliceVideo(v, 8), sliceVideo(v, 9), { steps: 10 }); // guess of frame 19
 * ```
 */
export function flowExtrapolate(prev: Video, cur: Video, opts: FlowExtrapolateOptions = {}): Video {
  assertFramePair(prev, cur, 'prev', 'cur');
  const steps = opts.steps ?? 1;
  assertInt(steps, 'opts.steps', 1);
  const p = resolveOptions(cur.width, cur.height, opts);
  return mapFramePairs(prev, cur, (fp, fc, out) => {
    warpData(fc, flowBetween(fc, fp, cur.width, cur.height, p), steps, out);
  });
}
