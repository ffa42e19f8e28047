import { Rng } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import type { WindowRegion } from './network';
import { SPATIAL_OFFSETS, SPATIAL_WIDTH } from './output/spatial-prior';

/**
 * Shape of every training batch: `warmup` frames that only build up the state, then `steps` input frames
 * whose next frames are the targets, on a `cropRows` x
 * `cropCols` crop, read with a margin of the conv receptive radius so crop cells see their true
 * neighbours; the margin is dropped along a dimension the crop already covers whole.
 */
export interface BatchGeometry {
  steps: number;
  warmup: number;
  batch: number;
  cropRows: number;
  cropCols: number;
  marginRows: number;
  marginCols: number;
  /**
   * 2 for a two-scale model (absent = 1): crop origins and margins are even, so the 2x2 blocks of a batch's
   * tensor are the whole grid's and crop cells get the states whole-grid inference gives them.
   */
  align?: 2;
}

/** One training batch as plain arrays, ready for tensors. */
export interface Batch {
  /** int32 [(warmup+steps)*batch, cropRows+2*marginRows, cropCols+2*marginCols], frame-major then window. */
  inputs: Int32Array;
  /** 1 inside the real grid, 0 outside (same layout as inputs); null when no margin is used. */
  mask: Float32Array | null;
  /** int32 [steps, batch, cropRows, cropCols]: the codes of the next frame on the crop. */
  targets: Int32Array;
  /**
   * What the output layer reads of the frame before each target (the present frame), in the layout of targets
   * with `width` symbols per target: the cell's code, or with a spatial prior its code and its 4 neighbours'
   * (K outside the grid; see `spatialContext`).
   */
  present: Int32Array;
}

/**
 * Geometry for the given volumes: crop and window length shrink to the smallest grid / sequence. With `align`
 * 2 (two scales) margins are rounded up to even and a crop smaller than the grids takes the smallest grid's
 * parity (one cell less, or more for a 1-cell crop), so even origins reach its last row and column.
 */
export function batchGeometry(
  volumes: CodeVolume[],
  bptt: number,
  batch: number,
  crop: number,
  radius: number,
  warmup = 0,
  align: 1 | 2 = 1,
): BatchGeometry {
  const minRows = Math.min(...volumes.map((v) => v.rows));
  const minCols = Math.min(...volumes.map((v) => v.cols));
  const maxRows = Math.max(...volumes.map((v) => v.rows));
  const maxCols = Math.max(...volumes.map((v) => v.cols));
  const minFrames = Math.min(...volumes.map((v) => v.frames));
  const cropRows = alignedCrop(Math.min(crop, minRows), minRows, maxRows, align);
  const cropCols = alignedCrop(Math.min(crop, minCols), minCols, maxCols, align);
  const steps = Math.min(bptt, minFrames - 1);
  const margin = align * Math.ceil(radius / align);
  const g: BatchGeometry = {
    steps,
    warmup: Math.min(warmup, minFrames - 1 - steps),
    batch,
    cropRows,
    cropCols,
    marginRows: cropRows < maxRows ? margin : 0,
    marginCols: cropCols < maxCols ? margin : 0,
  };
  if (align === 2) g.align = 2;
  return g;
}

/** A crop side of `side` cells given to the parity of the smallest grid side with `align` 2 (see {@link batchGeometry}). */
function alignedCrop(side: number, min: number, max: number, align: 1 | 2): number {
  if (align === 1 || side >= max || (min - side) % 2 === 0) return side;
  return side > 1 ? side - 1 : side + 1;
}

/** How many crop origins of `crop` cells fit along a grid side of `size` cells, every `align`-th cell. */
function originCount(size: number, crop: number, align: number): number {
  return Math.floor((size - crop) / align) + 1;
}

/** The crop of a batch's windows, within their margins: the region whose states a training step reads. */
export function cropRegion(g: BatchGeometry): WindowRegion {
  return { top: g.marginRows, left: g.marginCols, rows: g.cropRows, cols: g.cropCols };
}

/** Seed of epoch `epoch`'s random choices: a pure function of (seed, epoch), so a resumed run replays them. */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) | 0;
}

/**
 * Window origins of an epoch: per step and batch entry (volume, t0, r0, c0), volumes drawn in proportion to
 * how many windows they hold. Layout [steps][batch][4].
 */
export function epochPlan(volumes: CodeVolume[], g: BatchGeometry, stepsPerEpoch: number, rng: Rng): Int32Array {
  const span = g.warmup + g.steps;
  const a = g.align ?? 1;
  const weights = volumes.map((v) => (v.frames - span) * originCount(v.rows, g.cropRows, a) * originCount(v.cols, g.cropCols, a));
  const plan = new Int32Array(stepsPerEpoch * g.batch * 4);
  for (let i = 0; i < stepsPerEpoch * g.batch; i++) {
    const vi = volumes.length === 1 ? 0 : rng.weighted(weights);
    const v = volumes[vi];
    plan[i * 4] = vi;
    plan[i * 4 + 1] = rng.int(v.frames - span);
    plan[i * 4 + 2] = a * rng.int(originCount(v.rows, g.cropRows, a));
    plan[i * 4 + 3] = a * rng.int(originCount(v.cols, g.cropCols, a));
  }
  return plan;
}

/**
 * Gathers step `step` of an epoch plan into a {@link Batch}; with `spatialK` (the model's k) each target's
 * present context is the spatial one (5 symbols, K = spatialK outside the grid), else its cell's code.
 */
export function assembleBatch(volumes: CodeVolume[], g: BatchGeometry, plan: Int32Array, step: number, spatialK: number | null = null): Batch {
  const er = g.cropRows + 2 * g.marginRows;
  const ec = g.cropCols + 2 * g.marginCols;
  const useMask = g.marginRows > 0 || g.marginCols > 0;
  const span = g.warmup + g.steps;
  const inputs = new Int32Array(span * g.batch * er * ec);
  const mask = useMask ? new Float32Array(inputs.length) : null;
  const targets = new Int32Array(g.steps * g.batch * g.cropRows * g.cropCols);
  const width = spatialK === null ? 1 : SPATIAL_WIDTH;
  const present = new Int32Array(targets.length * width);
  for (let b = 0; b < g.batch; b++) {
    const o = (step * g.batch + b) * 4;
    const v = volumes[plan[o]];
    const [t0, r0, c0] = [plan[o + 1], plan[o + 2], plan[o + 3]];
    const cell = (t: number, r: number, c: number) => v.codes[(t * v.rows + r) * v.cols + c];
    for (let l = 0; l < span; l++) {
      const base = (l * g.batch + b) * er * ec;
      for (let y = 0; y < er; y++) {
        const r = r0 - g.marginRows + y;
        for (let x = 0; x < ec; x++) {
          const c = c0 - g.marginCols + x;
          if (r < 0 || r >= v.rows || c < 0 || c >= v.cols) continue;
          inputs[base + y * ec + x] = cell(t0 + l, r, c);
          if (mask) mask[base + y * ec + x] = 1;
        }
      }
      if (l < g.warmup) continue;
      const tb = ((l - g.warmup) * g.batch + b) * g.cropRows * g.cropCols;
      for (let y = 0; y < g.cropRows; y++) {
        for (let x = 0; x < g.cropCols; x++) {
          targets[tb + y * g.cropCols + x] = cell(t0 + l + 1, r0 + y, c0 + x);
          const at = (tb + y * g.cropCols + x) * width;
          if (spatialK === null) present[at] = cell(t0 + l, r0 + y, c0 + x);
          else {
            // a plain loop: a callback here made a closure for every target cell of every step
            for (let j = 0; j < SPATIAL_OFFSETS.length; j++) {
              const r = r0 + y + SPATIAL_OFFSETS[j][0];
              const c = c0 + x + SPATIAL_OFFSETS[j][1];
              present[at + j] = r < 0 || r >= v.rows || c < 0 || c >= v.cols ? spatialK : cell(t0 + l, r, c);
            }
          }
        }
      }
    }
  }
  return { inputs, mask, targets, present };
}
