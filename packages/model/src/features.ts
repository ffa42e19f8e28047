import { fail } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { coarseWidth, stateWidth, usesMotion } from './config';
import { motionChannels } from './network';
import type { ModelParts } from './parts';

/**
 * Which layer of the network {@link RCNN.features} reads:
 * - `'hidden'`: the recurrent state h_t of each cell after reading frames 0..t — what the output layer reads to
 *   predict frame t+1 (temporal context of every frame so far, spatial context of the receptive field);
 * - `'input-drive'`: W_x·conv(embed(frame t)) — the conv stage over the kernel neighbourhood of frame t's codes,
 *   before the recurrence (no temporal context, no recurrent bias; with motion inputs it also reads frame t's
 *   motion channels, from frames t−1 and t−2); for a GRU cell it holds the drive of all three gates (3·hidden
 *   values per cell).
 * With `scales: 2` both also hold the cell's 2x2 block's coarse part (`hiddenCoarse` values) after the fine one.
 * @example
 * ```ts
 * const layer: FeatureLayer = 'input-drive';
 * ```
 */
export type FeatureLayer = 'hidden' | 'input-drive';

/**
 * The layers {@link RCNN.features} can read, in the order the docs list them.
 * @example
 * ```ts
 * for (const layer of FEATURE_LAYERS) console.log(layer, m.features(codes, { layer }).dims);
 * ```
 */
export const FEATURE_LAYERS: readonly FeatureLayer[] = ['hidden', 'input-drive'];

/**
 * Options of {@link RCNN.features}.
 * @example
 * ```ts
 * const opts: FeatureOptions = { layer: 'hidden' };
 * ```
 */
export interface FeatureOptions {
  /** The layer read (default 'hidden'); see {@link FeatureLayer}. */
  layer?: FeatureLayer;
}

/**
 * Per-cell features of a code volume: `data` [frames, rows, cols, dims], frame-major then row-major, one
 * vector of `dims` values per cell of every frame.
 * @example
 * ```ts
 * const f: CellFeatures = m.features(codes);
 * const at = (t: number, r: number, c: number) => f.data.subarray(((t * f.rows + r) * f.cols + c) * f.dims, ((t * f.rows + r) * f.cols + c + 1) * f.dims);
 * ```
 */
export interface CellFeatures {
  /** The features, [frames, rows, cols, dims] row-major. */
  data: Float32Array;
  /** Frames, as in the codes. */
  frames: number;
  /** Grid rows, as in the codes. */
  rows: number;
  /** Grid columns, as in the codes. */
  cols: number;
  /**
   * Values per cell: `hidden` for 'hidden', gates·`hidden` for 'input-drive' (gates = 3 for a GRU, else 1); with
   * `scales: 2` each plus `hiddenCoarse` (the coarse state, or the coarse drive, of the cell's 2x2 block).
   */
  dims: number;
}

/** Frames whose input drive is computed in one batch: about this many cells at a time bounds the im2col buffer. */
const CELLS_PER_BATCH = 1 << 15;

/** {@link RCNN.features} on a model's inside; every tensor it makes is disposed before it returns. */
export function cellFeatures(parts: ModelParts, codes: CodeVolume, opts: FeatureOptions = {}): CellFeatures {
  parts.checkCodes(codes, 'codes', 1);
  if (opts === null || typeof opts !== 'object') fail('E_RANGE', 'opts', 'an options object { layer }', opts);
  const layer = opts.layer ?? 'hidden';
  if (!FEATURE_LAYERS.includes(layer)) fail('E_RANGE', 'opts.layer', FEATURE_LAYERS.map((l) => `'${l}'`).join(' or '), layer);
  const { rows, cols, frames } = codes;
  const n = rows * cols;
  const { hidden, cell } = parts.config;
  const dims = layer === 'hidden' ? stateWidth(parts.config) : (cell === 'gru' ? 3 : 1) * hidden + coarseWidth(parts.config);
  const data = new Float32Array(frames * n * dims);
  if (layer === 'hidden') {
    parts.stateAfter(codes, (t, h) => data.set(h.dataSync(), t * n * dims)).dispose();
  } else {
    const batch = Math.max(1, Math.floor(CELLS_PER_BATCH / n));
    for (let t = 0; t < frames; t += batch) {
      const end = Math.min(frames, t + batch);
      // a motion model's drive of frame t also reads frames t−1 and t−2 of the codes
      const motion = usesMotion(parts.config) ? motionChannels(codes.codes, n, t, end) : undefined;
      const drive = parts.inputDrive(codes.codes.subarray(t * n, end * n), rows, cols, motion);
      data.set(drive.dataSync(), t * n * dims);
      drive.dispose();
    }
  }
  return { data, frames, rows, cols, dims };
}
