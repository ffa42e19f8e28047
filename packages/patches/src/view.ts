import ndarray from 'ndarray';
import { assertPatchGrid, type PatchGrid } from '@vqvid/core';

/**
 * A zero-copy ndarray view of a patch grid with shape [frames, rows, cols, size, size], for code that reads
 * more clearly with indices (`view.get(t, r, c, y, x)`) than with offsets.
 * @example
 * ```ts
 * const v = patchView(grid);
 * const topLeftPixelOfCell = v.get(0, 2, 3, 0, 0);
 * ```
 */
export function patchView(grid: PatchGrid): ndarray.NdArray<Float32Array> {
  assertPatchGrid(grid, 'grid');
  return ndarray(grid.data, [grid.frames, grid.rows, grid.cols, grid.size, grid.size]);
}
