import { codebookAtlas } from './atlas';

describe('codebookAtlas', () => {
  it('places centroid j at its tile, scaled from the codebook range to 0..255', () => {
    // three 2x2 centroids with values 0..11
    const centroids = Float32Array.from({ length: 12 }, (_, i) => i);
    const atlas = codebookAtlas({ k: 3, dim: 4, centroids, meta: {} }, { columns: 2, gap: 1 });
    expect([atlas.width, atlas.height, atlas.frames]).toEqual([7, 7, 1]);
    const at = (x: number, y: number) => atlas.data[y * atlas.width + x];
    for (let j = 0; j < 3; j++) {
      const x0 = 1 + (j % 2) * 3;
      const y0 = 1 + Math.floor(j / 2) * 3;
      for (let p = 0; p < 4; p++) expect(at(x0 + (p % 2), y0 + Math.floor(p / 2))).toBeCloseTo(((j * 4 + p) / 11) * 255, 4);
    }
    expect(at(0, 0)).toBe(255); // gap
    expect(at(5, 5)).toBe(255); // the empty fourth tile
  });
  it('rejects codebooks of non-square patches', () => {
    expect(() => codebookAtlas({ k: 1, dim: 3, centroids: new Float32Array(3), meta: {} })).toThrow('codebook.dim');
  });
});
