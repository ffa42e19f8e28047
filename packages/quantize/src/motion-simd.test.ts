import { Rng } from '@vqvid/core';
import { decodeCells } from './decoders';
import { MAX_MOTION_DIM, motionModuleBytes, nearestMotionPatches, packedLayout, packLayout } from './motion-simd';
import type { MotionLayout } from './motion-simd';

/** Slow reference: every patch's squared distance summed in float64 in coordinate order, the first least one. */
function scan(motion: Float32Array, count: number, dim: number, centroids: Float32Array, cell: number, code: number): number {
  let best = -1;
  let bestD = Infinity;
  for (let m = 0; m < count; m++) {
    let d = 0;
    for (let q = 0; q < dim; q++) d += (motion[(cell * count + m) * dim + q] - centroids[code * dim + q]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = m;
    }
  }
  return best;
}

interface Problem {
  motion: Float32Array;
  count: number;
  dim: number;
  centroids: Float32Array;
  cells: Int32Array;
  codes: Int32Array;
}

/** Requests in cell order: `per` codes in each of `cellCount` cells. */
function requests(rng: Rng, cellCount: number, per: number, k: number): { cells: Int32Array; codes: Int32Array } {
  const cells: number[] = [];
  const codes: number[] = [];
  for (let cell = 0; cell < cellCount; cell++) for (let j = 0; j < per; j++) (cells.push(cell), codes.push(rng.int(k)));
  return { cells: Int32Array.from(cells), codes: Int32Array.from(codes) };
}

function expectScan(p: Problem): void {
  const cellCount = p.motion.length / (p.count * p.dim);
  const got = nearestMotionPatches(packedLayout(p.motion, cellCount, p.count, p.dim), p.dim, p.centroids, p.cells, p.codes);
  expect(got).not.toBeNull();
  const want = Array.from(p.cells, (cell, r) => scan(p.motion, p.count, p.dim, p.centroids, cell, p.codes[r]));
  expect(Array.from(got!)).toEqual(want);
}

describe('nearestMotionPatches (WebAssembly SIMD screen, exact answers)', () => {
  test('the module validates and runs here (so the tests below exercise the kernel, not a fallback)', () => {
    expect(WebAssembly.validate(motionModuleBytes(64))).toBe(true);
    const motion = Float32Array.of(0, 0, 5, 5, 1, 1);
    expect(Array.from(nearestMotionPatches(packedLayout(motion, 1, 3, 2), 2, Float32Array.of(1.2, 0.9), Int32Array.of(0), Int32Array.of(0))!)).toEqual([2]);
  });

  test.each([[64], [24], [16], [9], [5], [1], [3]])('random patches, dim %i, against the scan', (dim) => {
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(seed * 100 + dim);
      const count = [1, 3, 25][seed - 1];
      const k = 7;
      const cellCount = 6;
      const motion = Float32Array.from({ length: cellCount * count * dim }, () => 3 * rng.normal());
      const centroids = Float32Array.from({ length: k * dim }, () => 3 * rng.normal());
      expectScan({ motion, count, dim, centroids, ...requests(rng, cellCount, 5, k) });
    }
  });

  test('exact duplicates and near ties: the lowest index of least float64 distance, as the scan', () => {
    const dim = 16;
    const count = 25;
    const k = 6;
    const cellCount = 40;
    const rng = new Rng(7);
    const centroids = Float32Array.from({ length: k * dim }, () => rng.normal());
    const motion = new Float32Array(cellCount * count * dim);
    const cells: number[] = [];
    const codes: number[] = [];
    for (let cell = 0; cell < cellCount; cell++) {
      // every patch is one of the k centroids moved by the cell's offset, then nudged by a few ulps in one or two
      // coordinates: distances to that centroid that float32 cannot order (or that tie exactly), and float64 can
      const offset = Float32Array.from({ length: dim }, () => 0.5 * rng.normal());
      for (let m = 0; m < count; m++) {
        const at = (cell * count + m) * dim;
        const c = rng.int(k) * dim;
        for (let q = 0; q < dim; q++) motion[at + q] = centroids[c + q] + offset[q];
        for (let t = 0; t < 1 + rng.int(2); t++) {
          const q = at + rng.int(dim);
          const bits = new Float32Array([motion[q]]);
          new Int32Array(bits.buffer)[0] += rng.int(7) - 3;
          motion[q] = bits[0];
        }
        if (m > 0 && rng.next() < 0.2) motion.copyWithin(at, at - dim, at); // an exact duplicate of the previous patch
      }
      for (let code = 0; code < k; code++) (cells.push(cell), codes.push(code));
    }
    expectScan({ motion, count, dim, centroids, cells: Int32Array.from(cells), codes: Int32Array.from(codes) });
  });

  test('distances beyond float32 (every square overflows) are decided in float64', () => {
    const dim = 8;
    const count = 4;
    const centroids = Float32Array.from({ length: dim }, (_, q) => (q % 2 ? 3e38 : -3e38));
    const motion = new Float32Array(count * dim);
    for (let m = 0; m < count; m++) for (let q = 0; q < dim; q++) motion[m * dim + q] = (q % 2 ? -3e38 : 3e38) * (1 - 0.1 * ((m * 5) % 4));
    expectScan({ motion, count, dim, centroids, cells: Int32Array.of(0), codes: Int32Array.of(0) });
    expect(scan(motion, count, dim, centroids, 0, 0)).not.toBe(0); // the answer is not simply the first patch
  });

  test('a cell with more requests than one kernel batch (256) and cells without requests', () => {
    const rng = new Rng(11);
    const dim = 64;
    const count = 9;
    const k = 50;
    const cellCount = 4;
    const motion = Float32Array.from({ length: cellCount * count * dim }, () => rng.normal());
    const centroids = Float32Array.from({ length: k * dim }, () => rng.normal());
    const codes = Int32Array.from({ length: 600 }, () => rng.int(k));
    const cells = Int32Array.from({ length: 600 }, (_, r) => (r < 300 ? 1 : 3)); // cells 0 and 2 ask nothing
    expectScan({ motion, count, dim, centroids, cells, codes });
    expect(Array.from(nearestMotionPatches(packedLayout(motion, cellCount, count, dim), dim, centroids, new Int32Array(0), new Int32Array(0))!)).toEqual([]);
  });

  test('calls one after another with other codebooks (larger, smaller, the same array changed) each answer as the scan', () => {
    const rng = new Rng(21);
    const dim = 16;
    const count = 5;
    const cellCount = 6;
    const motion = Float32Array.from({ length: cellCount * count * dim }, () => rng.normal());
    const shared = Float32Array.from({ length: 30 * dim }, () => rng.normal());
    for (const k of [200, 7, 30, 30]) {
      // the last two calls pass the same array, rewritten in between: nothing of a call may outlive it
      const centroids = k === 30 ? shared : Float32Array.from({ length: k * dim }, () => rng.normal());
      expectScan({ motion, count, dim, centroids, ...requests(rng, cellCount, 11, k) });
      if (k === 30) for (let i = 0; i < shared.length; i++) shared[i] = rng.normal();
    }
  });

  test.each([[8], [3], [5]])('patches read in rows of a frame (side %i), against the scan of the same patches one after another', (side) => {
    const rng = new Rng(40 + side);
    const dim = side * side;
    const [width, height] = [7 * side + 3, 5 * side + 2];
    const frame = Float32Array.from({ length: width * height }, () => rng.normal());
    // every cell's patches at random places of the frame (overlapping, sharing rows), rows `width` apart
    const cellCount = 5;
    const count = 9;
    const bases = Int32Array.from({ length: cellCount * count }, () => rng.int(height - side + 1) * width + rng.int(width - side + 1));
    const layout: MotionLayout = { data: frame, bases, count, rowLen: side, rowStride: width };
    const k = 6;
    const centroids = Float32Array.from({ length: k * dim }, () => rng.normal());
    // one centroid is a patch of the frame exactly, another one a patch nudged by an ulp
    for (let q = 0; q < dim; q++) centroids[q] = frame[bases[3] + Math.floor(q / side) * width + (q % side)];
    const { cells, codes } = requests(rng, cellCount, 4, k);
    const motion = packLayout(layout, cellCount, dim);
    const got = nearestMotionPatches(layout, dim, centroids, cells, codes);
    expect(Array.from(got!)).toEqual(Array.from(cells, (cell, r) => scan(motion, count, dim, centroids, cell, codes[r])));
    // the packing itself: patch m of cell i, row by row
    expect(Array.from(motion.subarray(dim, 2 * dim))).toEqual(Array.from({ length: dim }, (_, q) => frame[bases[1] + Math.floor(q / side) * width + (q % side)]));
  });

  test('decodeCells beyond the kernel\'s largest dim takes the JavaScript scan, with the same answers', () => {
    const dim = MAX_MOTION_DIM + 3;
    const rng = new Rng(5);
    const k = 4;
    const count = 3;
    const centroids = Float32Array.from({ length: k * dim }, () => rng.normal());
    const motion = new Float32Array(count * dim);
    // patch 2 is centroid 1 plus a little noise: code 1's stand-in is it, for 'skip' (the argmax)
    for (let m = 0; m < count; m++) for (let q = 0; q < dim; q++) motion[m * dim + q] = m === 2 ? centroids[dim + q] + 0.01 * rng.normal() : rng.normal();
    const probs = Float32Array.of(0.1, 0.6, 0.2, 0.1);
    const reference = Float32Array.from({ length: dim }, () => rng.normal());
    const out = decodeCells({ probs, k, present: Int32Array.of(0), reference, centroids, dim, decoder: 'skip', motion, motionCount: count });
    expect(Array.from(out)).toEqual(Array.from(motion.subarray(2 * dim, 3 * dim)));
  });
});
