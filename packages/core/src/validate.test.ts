import { assertVideo, assertCodeVolume, assertCodebook, assertPatchGrid, assertInt } from './validate';
import { VqvidError } from './errors';

function codeOf(f: () => void): string | undefined {
  try { f(); } catch (e) { return e instanceof VqvidError ? e.code : 'OTHER'; }
  return undefined;
}

describe('validators', () => {
  it('accept well-formed values', () => {
    expect(codeOf(() => assertVideo({ width: 2, height: 3, frames: 1, data: new Float32Array(6) }))).toBeUndefined();
    expect(codeOf(() => assertPatchGrid({ size: 2, stride: 1, rows: 1, cols: 2, frames: 1, data: new Float32Array(8) }))).toBeUndefined();
    expect(codeOf(() => assertCodebook({ k: 2, dim: 2, centroids: new Float32Array(4), meta: {} }))).toBeUndefined();
    expect(codeOf(() => assertCodeVolume({ rows: 1, cols: 2, frames: 1, k: 3, codes: Uint16Array.from([0, 2]) }))).toBeUndefined();
  });

  it('check a code volume\'s geometry against its grid', () => {
    const vol = (rows: number, cols: number, geometry: object) => ({ rows, cols, frames: 1, k: 2, codes: new Uint16Array(rows * cols), geometry });
    // 20 x 12 frames, 8px patches: stride 8 covers them with 2 x 3 cells (the last ones hang over), stride 4 with 2 x 4
    expect(codeOf(() => assertCodeVolume(vol(2, 3, { patch: 8, stride: 8, width: 20, height: 12, std: 1 })))).toBeUndefined();
    expect(codeOf(() => assertCodeVolume(vol(2, 4, { patch: 8, stride: 4, width: 20, height: 12, std: 1 })))).toBeUndefined();
    expect(codeOf(() => assertCodeVolume(vol(1, 1, { patch: 8, stride: 8, width: 5, height: 3, std: 1 })))).toBeUndefined();
    expect(() => assertCodeVolume(vol(2, 3, { patch: 8, stride: 4, width: 20, height: 12, std: 1 }), 'pred')).toThrow(
      'pred.geometry (rows x cols): expected the 2 x 4 grid of 8px patches at stride 4 on 20x12 frames, got "2 x 3"',
    );
    expect(codeOf(() => assertCodeVolume(vol(2, 3, { patch: 8, stride: 9, width: 20, height: 12, std: 1 })))).toBe('E_RANGE');
    expect(codeOf(() => assertCodeVolume(vol(2, 3, { patch: 8, stride: 8, width: 20, height: 12, std: 0 })))).toBe('E_RANGE');
    expect(codeOf(() => assertCodeVolume(vol(2, 3, { patch: 8, stride: 8, width: 20, height: 12 })))).toBe('E_RANGE');
    expect(codeOf(() => assertCodeVolume(vol(2, 3, null as unknown as object)))).toBe('E_SHAPE');
  });

  it('name the argument and the expectation', () => {
    expect(() => assertVideo({ width: 2, height: 3, frames: 1, data: new Float32Array(5) }, 'clip')).toThrow(
      'clip.data.length: expected 6, got 5',
    );
    expect(() => assertInt(0, 'k', 1)).toThrow('k: expected an integer in [1, Infinity], got 0');
  });

  it('give the right codes for shape, dtype and range errors', () => {
    expect(codeOf(() => assertVideo({ width: 2, height: 3, frames: 1, data: new Float64Array(6) }))).toBe('E_DTYPE');
    expect(codeOf(() => assertVideo(null))).toBe('E_SHAPE');
    expect(codeOf(() => assertCodeVolume({ rows: 1, cols: 2, frames: 1, k: 3, codes: Uint16Array.from([0, 3]) }))).toBe('E_RANGE');
    expect(codeOf(() => assertCodebook({ k: 1, dim: 2, centroids: Float32Array.from([0, NaN]), meta: {} }))).toBe('E_RANGE');
    expect(codeOf(() => assertPatchGrid({ size: 2, stride: 0, rows: 1, cols: 1, frames: 1, data: new Float32Array(4) }))).toBe('E_RANGE');
  });
});
