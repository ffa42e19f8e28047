import { assertInt, fail } from '@vqvid/core';

/**
 * How the grid treats the frame border when (size - stride) does not tile it exactly:
 * - 'replicate' (default): the grid covers the whole frame; cells hanging over the right/bottom edge read the nearest edge pixel.
 * - 'zero': like 'replicate' but out-of-frame pixels read 0.
 * - 'crop': only patches fully inside the frame; a right/bottom strip narrower than a stride may be left uncovered.
 */
export type EdgeMode = 'replicate' | 'zero' | 'crop';

/** Options of {@link extractPatches} and {@link gridShape}. */
export interface PatchOptions {
  /** Patch side in pixels (default 8). */
  size?: number;
  /** Step between patch origins in pixels, 1..size (default = size: no overlap). */
  stride?: number;
  /** Border handling (default 'replicate'). */
  edge?: EdgeMode;
}

/** Fully resolved patch options. */
export interface ResolvedPatchOptions {
  size: number;
  stride: number;
  edge: EdgeMode;
}

/** Validates patch options and fills in defaults. */
export function resolvePatchOptions(opts: PatchOptions = {}): ResolvedPatchOptions {
  const size = opts.size ?? 8;
  assertInt(size, 'size', 1, 256);
  const stride = opts.stride ?? size;
  assertInt(stride, 'stride', 1, size);
  const edge = opts.edge ?? 'replicate';
  if (edge !== 'replicate' && edge !== 'zero' && edge !== 'crop') fail('E_RANGE', 'edge', "'replicate', 'zero' or 'crop'", edge);
  return { size, stride, edge };
}

function cellsAlong(n: number, size: number, stride: number, edge: EdgeMode): number {
  if (n <= size) return edge === 'crop' && n < size ? 0 : 1;
  return edge === 'crop' ? Math.floor((n - size) / stride) + 1 : Math.ceil((n - size) / stride) + 1;
}

/**
 * Rows and columns of the patch grid for a `width` x `height` frame.
 * @example
 * ```ts
 * gridShape(320, 240, { size: 8 }); // { rows: 30, cols: 40 }
 * ```
 */
export function gridShape(width: number, height: number, opts: PatchOptions = {}): {
  /** Number of cells down a frame. */
  rows: number;
  /** Number of cells across a frame. */
  cols: number;
} {
  assertInt(width, 'width', 1);
  assertInt(height, 'height', 1);
  const { size, stride, edge } = resolvePatchOptions(opts);
  const rows = cellsAlong(height, size, stride, edge);
  const cols = cellsAlong(width, size, stride, edge);
  if (rows === 0 || cols === 0) fail('E_RANGE', 'size', `at most the frame size ${width}x${height} with edge 'crop'`, size);
  return { rows, cols };
}
