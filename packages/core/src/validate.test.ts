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
      'pred.geometry.width: expected 13..16 pixels (the 2 x 3 grid of 8px patches at stride 4), got 20',
    );
    expect(() => assertCodeVolume(vol(3, 3, { patch: 8, stride: 4, width: 16, height: 12, std: 1 }), 'pred')).toThrow(
      'pred.geometry.height: expected 13..16 pixels (the 3 x 3 grid of 8px patches at stride 4), got 12',
    );
    expect(codeOf(() => assertCodeVolume(vol(2, 3, { patch: 8, stride: 9, width: 20, height: 12, std: 1 })))).toBe('E_RANGE');
    expect(codeOf(() => assertCodeVolume(vol(2, 3, { patch: 8, stride: 8, width: 20, height: 12, std: 0 })))).toBe('E_RANGE');
    expect(codeOf(() => assertCodeVolume(vol(2, 3, { patch: 8, stride: 8, width: 20, height: 12 })))).toBe('E_RANGE');
    expect(codeOf(() => assertCodeVolume(vol(2, 3, null as unknown as object)))).toBe('E_SHAPE');
  });

  it('bound a geometry\'s frame size and patch, and tie the frame size to the grid at its edges', () => {
    const vol = (rows: number, cols: number, geometry: object) => ({ rows, cols, frames: 1, k: 2, codes: new Uint16Array(rows * cols), geometry });
    const g = { patch: 8, stride: 8, std: 1 };
    // a frame no narrower than a patch has one column; 9 pixels already need two
    expect(codeOf(() => assertCodeVolume(vol(1, 1, { ...g, width: 1, height: 8 })))).toBeUndefined();
    expect(() => assertCodeVolume(vol(1, 1, { ...g, width: 9, height: 8 }))).toThrow('codes.geometry.width: expected 1..8 pixels');
    expect(() => assertCodeVolume(vol(1, 2, { ...g, width: 8, height: 8 }))).toThrow('codes.geometry.width: expected 9..16 pixels');
    expect(() => assertCodeVolume(vol(1, 1, { ...g, width: 2 ** 15 + 1, height: 8 }))).toThrow('codes.geometry.width: expected an integer in [1, 32768], got 32769');
    expect(() => assertCodeVolume(vol(1, 1, { ...g, width: 8, height: 1e9 }))).toThrow('codes.geometry.height: expected an integer in [1, 32768], got 1000000000');
    expect(() => assertCodeVolume(vol(1, 1, { ...g, width: 1.5, height: 8 }))).toThrow('codes.geometry.width: expected an integer, got 1.5');
    expect(() => assertCodeVolume(vol(1, 1, { patch: 1e9, stride: 1e9, width: 1e9, height: 1e5, std: 1 }))).toThrow('codes.geometry.patch: expected an integer in [1, 256], got 1000000000');
    // the largest frame the bound allows still checks exactly
    expect(codeOf(() => assertCodeVolume(vol(4096, 4096, { ...g, width: 2 ** 15, height: 2 ** 15 })))).toBeUndefined();
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
