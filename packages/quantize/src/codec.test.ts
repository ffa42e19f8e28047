import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CodeVolume, type Video, VqvidError, assertCodeVolume, Rng, sliceCodes, sliceVideo } from '@vqvid/core';
import { PatchReservoir, extractPatches, gridShape, reassemble } from '@vqvid/patches';
import { syntheticVideo } from '@vqvid/video';
import { assignNaive } from './assign';
import { decodeCells } from './decoders';
import { PatchCodec } from './codec';
import { Quantizer } from './quantizer';

// 28 x 20 frames do not tile by 8: the last row and column of cells hang over the edge (replicated pixels).
const clip = syntheticVideo({ kind: 'bouncing', width: 28, height: 20, frames: 5, seed: 3 });
const base = { k: 16, seed: 2, maxIter: 10, backend: 'cpu', log: () => undefined } as const;
let dir: string;
const codecs: PatchCodec[] = [];
async function fit(video: Video, opts: Partial<Parameters<typeof PatchCodec.fit>[1]> = {}): Promise<PatchCodec> {
  const codec = await PatchCodec.fit(video, { ...base, ...opts });
  codecs.push(codec);
  return codec;
}
let c8: PatchCodec;
let c4: PatchCodec;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vqvid-codec-'));
  c8 = await fit(clip, { patch: 8 });
  c4 = await fit(clip, { patch: 8, stride: 4 });
});
afterAll(async () => {
  codecs.forEach((c) => c.dispose());
  await rm(dir, { recursive: true, force: true });
});

/** Population standard deviation of all pixels, in float64. */
function stdOf(v: Video): number {
  const n = v.data.length;
  const mean = v.data.reduce((s, x) => s + x, 0) / n;
  return Math.sqrt(v.data.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
}

function codeOf(f: () => unknown): string | undefined {
  try { f(); } catch (e) { return e instanceof VqvidError ? `${e.code} ${e.message}` : 'OTHER'; }
  return undefined;
}

/**
 * The obviously-correct decode, pixel by pixel: the mean over the cells covering (y, x) of the value that cell
 * shows there, times std. A cell shows its centroid; with `prev` given (the frame before's value of each cell at
 * each pixel, as a function), a cell whose code equals its code one frame earlier shows that frame's value.
 */
function slowDecode(codec: PatchCodec, codes: CodeVolume, ref?: { video: Video; codes: ArrayLike<number> }): Float64Array {
  const g = codes.geometry!;
  const { centroids } = codec.codebook;
  const { patch, stride, width, height, std } = g;
  const { rows, cols, frames } = codes;
  const out = new Float64Array(frames * width * height);
  const code = (t: number, r: number, c: number) => (t < 0 ? ref!.codes[r * cols + c] : codes.codes[(t * rows + r) * cols + c]);
  // value(t, r, c, y, x): what cell (r, c) of frame t shows at pixel (y, x), in normalised units
  const value = (t: number, r: number, c: number, y: number, x: number): number => {
    if (t < 0) return ref!.video.data[((ref!.video.frames - 1) * height + y) * width + x] / std;
    if (ref && code(t, r, c) === code(t - 1, r, c)) return value(t - 1, r, c, y, x);
    return centroids[code(t, r, c) * patch * patch + (y - r * stride) * patch + (x - c * stride)];
  };
  for (let t = 0; t < frames; t++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        let n = 0;
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            if (y < r * stride || y >= r * stride + patch || x < c * stride || x >= c * stride + patch) continue;
            sum += value(t, r, c, y, x);
            n++;
          }
        }
        out[(t * height + y) * width + x] = (sum / n) * std;
      }
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('PatchCodec.fit / encode', () => {
  test('records typed meta: patch grid, the default per-video-std and the std of the fit video', () => {
    expect(c4.meta).toEqual({ patch: { size: 8, stride: 4 }, normalization: 'per-video-std', std: expect.closeTo(stdOf(clip), 3) });
    expect(c8.meta.patch).toEqual({ size: 8, stride: 8 });
    expect(c4.k).toBe(16);
    expect(c4.codebook.dim).toBe(64);
    expect(c4.codebook.meta).toMatchObject({ size: 8, stride: 4, normalization: 'per-video-std', seed: 2 });
    expect(c4.quantizer.backend).toBe('wasm-simd'); // asked for by its old name 'cpu'
    expect(Object.isFrozen(c4.meta)).toBe(true);
  });

  test.each([[8], [4]])('encode at stride %i: nearest centroid of every patch of video / std, with the geometry', async (stride) => {
    const codec = stride === 8 ? c8 : c4;
    const codes = await codec.encode(clip);
    const std = stdOf(clip);
    const { rows, cols } = gridShape(28, 20, { size: 8, stride });
    expect(codes).toMatchObject({ rows, cols, frames: 5, k: 16 });
    expect(codes.geometry).toEqual({ patch: 8, stride, width: 28, height: 20, std: expect.closeTo(std, 3), codebook: codec.checksum });
    const scaled: Video = { ...clip, data: clip.data.map((x) => x / std) };
    const grid = extractPatches(scaled, { size: 8, stride });
    const want = assignNaive(grid.data, 5 * rows * cols, codec.codebook.centroids, 16, 64).labels;
    expect(Array.from(codes.codes)).toEqual(Array.from(want));
  });

  test('rejects bad options with E_RANGE naming them', async () => {
    await expect(PatchCodec.fit(clip, { k: 4, patch: 4, stride: 5 })).rejects.toMatchObject({ code: 'E_RANGE', message: expect.stringMatching(/^stride:/) });
    await expect(PatchCodec.fit(clip, { k: 4, normalization: 'global' as never })).rejects.toThrow(/normalization: expected 'per-video-std' or 'codebook-std', got "global"/);
    await expect(PatchCodec.fit(clip, { k: 4, sample: 0 })).rejects.toMatchObject({ code: 'E_RANGE' });
  });
});

describe('PatchCodec.decode', () => {
  test.each([[8], [4]])('equals the slow per-pixel decode (centroids, overlaps averaged, times std) at stride %i', async (stride) => {
    const codec = stride === 8 ? c8 : c4;
    const codes = await codec.encode(clip);
    const frames = codec.decode(codes);
    expect([frames.width, frames.height, frames.frames]).toEqual([28, 20, 5]);
    expect(maxAbsDiff(frames.data, slowDecode(codec, codes))).toBeLessThan(1e-3);
    // and it is a reconstruction of the clip
    const err = (v: Video) => Math.sqrt(v.data.reduce((s, x, i) => s + (x - clip.data[i]) ** 2, 0) / v.data.length);
    expect(err(frames)).toBeLessThan(0.6 * stdOf(clip));
  });

  test('missing geometry, or another patch, stride or k: E_SHAPE naming the argument', async () => {
    const codes8 = await c8.encode(clip);
    const codes4 = await c4.encode(clip);
    const bare = { rows: codes8.rows, cols: codes8.cols, frames: codes8.frames, k: codes8.k, codes: codes8.codes };
    expect(codeOf(() => c8.decode(bare))).toMatch(/^E_SHAPE codes\.geometry: expected the \{ patch, stride, width, height, std \}/);
    expect(codeOf(() => c8.decode(codes4))).toBe("E_SHAPE codes.geometry.stride: expected 8 (the codec's stride), got 4");
    const p4 = await fit(clip, { patch: 4 });
    expect(codeOf(() => p4.decode(codes8))).toBe("E_SHAPE codes.geometry.patch: expected 4 (the codec's patch size), got 8");
    const k8 = await fit(clip, { k: 8 });
    expect(codeOf(() => k8.decode(codes8))).toBe("E_SHAPE codes.k: expected 8 (the codec's K), got 16");
    const lying = { ...codes8, geometry: { ...codes8.geometry!, width: 40 } }; // 40 px wide would be 5 columns
    expect(codeOf(() => c8.decode(lying))).toMatch(/^E_SHAPE codes\.geometry\.width: expected 25\.\.32 pixels \(the 3 x 4 grid/);
  });

  test.each([[8], [4]])('with a reference, unchanged cells keep the previous pixels (stride %i), as the naive per-pixel rule says', async (stride) => {
    const codec = stride === 8 ? c8 : c4;
    const codes = await codec.encode(clip);
    const cells = codes.rows * codes.cols;
    const context = sliceCodes(codes, 0, 2);
    const tail = sliceCodes(codes, 2, 5);
    const reference = sliceVideo(clip, 0, 2);
    // not vacuous: some cells keep their code into the decoded frames and some change
    let same = 0;
    for (let i = cells; i < codes.codes.length; i++) same += codes.codes[i] === codes.codes[i - cells] ? 1 : 0;
    expect(same).toBeGreaterThan(0);
    expect(same).toBeLessThan(codes.codes.length - cells);
    const skip = codec.decode(tail, { reference, referenceCodes: context });
    const want = slowDecode(codec, tail, { video: reference, codes: context.codes.subarray(cells) });
    expect(maxAbsDiff(skip.data, want)).toBeLessThan(1e-3);
    expect(maxAbsDiff(skip.data, codec.decode(tail).data)).toBeGreaterThan(1);
    // without referenceCodes the codec finds the reference's codes itself (exact nearest centroid): the same here
    expect(maxAbsDiff(codec.decode(tail, { reference }).data, skip.data)).toBe(0);
  });

  test('a cell kept all the way shows the reference pixels exactly (no overlap)', async () => {
    const still: Video = { ...sliceVideo(clip, 0, 1), frames: 3, data: new Float32Array(28 * 20 * 3) };
    for (let t = 0; t < 3; t++) still.data.set(clip.data.subarray(0, 28 * 20), t * 28 * 20);
    const codes = await c8.encode(still);
    const frames = c8.decode(codes, { reference: sliceVideo(clip, 0, 1) });
    expect(maxAbsDiff(frames.data, still.data)).toBeLessThan(1e-3);
  });

  test('reference checks: frame size, referenceCodes grid', async () => {
    const codes = await c8.encode(clip);
    const small = syntheticVideo({ kind: 'bouncing', width: 16, height: 20, frames: 1 });
    expect(codeOf(() => c8.decode(codes, { reference: small }))).toBe('E_SHAPE reference (width x height): expected 28 x 20 (codes.geometry), got "16 x 20"');
    const other = { rows: 1, cols: 1, frames: 1, k: 16, codes: Uint16Array.from([0]) };
    expect(codeOf(() => c8.decode(codes, { reference: clip, referenceCodes: other }))).toMatch(/^E_SHAPE referenceCodes \(rows x cols, k\)/);
  });
});

describe('normalization', () => {
  test("per-video-std divides each video by its own std; codebook-std by the fit video's", async () => {
    const fixed = await fit(clip, { patch: 8, normalization: 'codebook-std' });
    // fitting is the same either way: same centroids
    expect(fixed.codebook.centroids).toEqual(c8.codebook.centroids);
    expect(fixed.meta).toEqual({ ...c8.meta, normalization: 'codebook-std' });
    const faint: Video = { ...clip, data: clip.data.map((x) => x / 3 + 80) }; // a third of the contrast
    const perVideo = await c8.encode(faint);
    const perBook = await fixed.encode(faint);
    expect(perVideo.geometry!.std).toBeCloseTo(stdOf(clip) / 3, 3);
    expect(perBook.geometry!.std).toBe(fixed.meta.std);
    expect(Array.from(perBook.codes)).not.toEqual(Array.from(perVideo.codes));
    // both decode exactly with the divisor each used
    expect(maxAbsDiff(c8.decode(perVideo).data, slowDecode(c8, perVideo))).toBeLessThan(1e-3);
    expect(maxAbsDiff(fixed.decode(perBook).data, slowDecode(fixed, perBook))).toBeLessThan(1e-3);
    // on the fit video itself they agree
    expect(Array.from((await fixed.encode(clip)).codes)).toEqual(Array.from((await c8.encode(clip)).codes));
  });
});

describe('save / load / fromQuantizer', () => {
  test('round trip is bit-exact: centroids, meta, checksum, decoded frames', async () => {
    const path = join(dir, 'c4.vqcb');
    await c4.save(path);
    const back = await PatchCodec.load(path, { backend: 'cpu' });
    codecs.push(back);
    expect(back.codebook.centroids).toEqual(c4.codebook.centroids);
    expect(back.meta).toEqual(c4.meta);
    expect(back.checksum).toBe(c4.checksum);
    expect(back.checksum).toMatch(/^[0-9a-f]{8}$/);
    expect(back.checksum).not.toBe(c8.checksum);
    const codes = await c4.encode(clip);
    expect(Array.from((await back.encode(clip)).codes)).toEqual(Array.from(codes.codes));
    expect(back.decode(codes).data).toEqual(c4.decode(codes).data);
  });

  test('loads older codebook files with size/stride in meta as per-video-std; E_FORMAT without them', async () => {
    const q = new Quantizer(base);
    await q.fit(extractPatches(clip, { size: 8, stride: 4 }));
    await q.save(join(dir, 'old.vqcb'));
    const old = await PatchCodec.load(join(dir, 'old.vqcb'));
    codecs.push(old);
    expect(old.meta).toEqual({ patch: { size: 8, stride: 4 }, normalization: 'per-video-std', std: null });
    const plain = new Quantizer(base);
    await plain.fit({ data: extractPatches(clip, { size: 8 }).data, dim: 64 });
    await plain.save(join(dir, 'plain.vqcb'));
    await expect(PatchCodec.load(join(dir, 'plain.vqcb'))).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringMatching(/plain\.vqcb: not a patch codebook \(quantizer\.codebook\.meta\.patch: expected the patch geometry/) });
    q.dispose();
    plain.dispose();
  });

  test('fromQuantizer checks the meta against the codebook', async () => {
    const q = new Quantizer(base);
    expect(codeOf(() => PatchCodec.fromQuantizer(q))).toMatch(/^E_STATE quantizer: not fitted/);
    await q.fit({ data: extractPatches(clip, { size: 8 }).data, dim: 64 });
    const meta = { patch: { size: 4, stride: 4 }, normalization: 'per-video-std', std: 10 } as const;
    expect(codeOf(() => PatchCodec.fromQuantizer(q, meta))).toBe('E_SHAPE meta.patch.size: expected the square root of the codebook dim 64, got 4');
    expect(codeOf(() => PatchCodec.fromQuantizer(q, { ...meta, patch: { size: 8, stride: 8 }, normalization: 'codebook-std', std: null }))).toMatch(/^E_RANGE meta\.std/);
    const codec = PatchCodec.fromQuantizer(q, { ...meta, patch: { size: 8, stride: 8 } });
    codecs.push(codec);
    expect(q.codebook.meta).toMatchObject({ patch: { size: 8, stride: 8 }, normalization: 'per-video-std', std: 10, size: 8, stride: 8 });
    expect(PatchCodec.fromQuantizer(q).meta).toEqual(codec.meta);
  });
});

test("core's geometry check agrees with the patches grid on every small frame, patch and stride", () => {
  for (let width = 1; width <= 19; width += 3) {
    for (let height = 2; height <= 19; height += 4) {
      for (let patch = 1; patch <= 8; patch++) {
        for (let stride = 1; stride <= patch; stride++) {
          const { rows, cols } = gridShape(width, height, { size: patch, stride });
          const volume = { rows, cols, frames: 1, k: 1, codes: new Uint16Array(rows * cols), geometry: { patch, stride, width, height, std: 1 } };
          expect(() => assertCodeVolume(volume)).not.toThrow();
          expect(() => assertCodeVolume({ ...volume, rows: rows + 1, codes: new Uint16Array((rows + 1) * cols) })).toThrow(VqvidError);
        }
      }
    }
  }
});

describe('a video in pieces (what a streaming reader does)', () => {
  it('fitSample on every patch of the unscaled video, with its std, gives the codec fit gives', async () => {
    const whole = await fit(clip, { patch: 8, stride: 4, sample: 1e6 }); // more than the clip holds: every patch
    const reservoir = new PatchReservoir({ count: 1e6, seed: base.seed, size: 8, stride: 4 });
    for (let t = 0; t < clip.frames; t++) reservoir.add(sliceVideo(clip, t));
    const streamed = await PatchCodec.fitSample(reservoir.result(), whole.meta.std!, { ...base, patch: 8, stride: 4 });
    codecs.push(streamed);
    expect(streamed.meta).toEqual(whole.meta);
    expect(streamed.codebook.centroids).toEqual(whole.codebook.centroids);
    expect(streamed.checksum).toBe(whole.checksum);
  });

  it('fitSample refuses patches of another size and a std that is not positive', async () => {
    const sample = new PatchReservoir({ count: 50, seed: 1, size: 4 });
    sample.add(clip);
    await expect(PatchCodec.fitSample(sample.result(), 10, { ...base, patch: 8 })).rejects.toThrow('sample.size: expected 8 (options.patch), got 4');
    await expect(PatchCodec.fitSample(sample.result(), 0, { ...base, k: 4, patch: 4 })).rejects.toMatchObject({ code: 'E_RANGE', message: expect.stringMatching(/^std: /) });
  });

  it('encode with the whole video\'s std gives, piece by piece, the codes of the whole video', async () => {
    for (const codec of [c8, c4]) {
      const whole = await codec.encode(clip);
      const std = whole.geometry!.std;
      const first = await codec.encode(sliceVideo(clip, 0, 2), { std });
      const rest = await codec.encode(sliceVideo(clip, 2, clip.frames), { std });
      expect(first.geometry).toEqual(whole.geometry);
      expect(first).toEqual(sliceCodes(whole, 0, 2));
      expect(rest).toEqual(sliceCodes(whole, 2, clip.frames));
      // without it each piece is divided by its own std
      expect((await codec.encode(sliceVideo(clip, 0, 2))).geometry!.std).not.toBe(std);
    }
    await expect(c8.encode(clip, { std: -1 })).rejects.toMatchObject({ code: 'E_RANGE', message: expect.stringMatching(/^options\.std: /) });
  });
});

describe('decodeDistribution', () => {
  it.each([['stride 8', () => c8], ['stride 4', () => c4]])('%s: one-hot distributions reproduce decode, and "same code" renders the reference', async (_, codecOf) => {
    const codec = codecOf();
    const codes = await codec.encode(clip);
    const cells = codes.rows * codes.cols;
    const k = codec.k;
    const oneHot = (frame: number) => {
      const probs = new Float32Array(cells * k);
      for (let i = 0; i < cells; i++) probs[i * k + codes.codes[frame * cells + i]] = 1;
      return { rows: codes.rows, cols: codes.cols, k, probs };
    };
    const present = codes.codes.subarray(cells, 2 * cells);
    const reference = sliceVideo(clip, 1);
    // centroid decoder of frame 2's true codes = decode of frame 2
    const got = codec.decodeDistribution(oneHot(2), { geometry: codes.geometry!, reference, present, decoder: 'centroid' });
    const want = codec.decode(sliceCodes(codes, 2, 3));
    for (let i = 0; i < want.data.length; i++) expect(got.data[i]).toBeCloseTo(want.data[i], 3);
    // all mass on "same code as frame 1": every cell takes the reference's patch, so the frame is the reference
    // wherever patches cover it (the replicated overhang averages only copies of edge pixels)
    for (const decoder of ['skip', 'mbr', 'mean'] as const) {
      const same = codec.decodeDistribution(oneHot(1), { geometry: codes.geometry!, reference, present, decoder });
      for (let i = 0; i < same.data.length; i++) expect(same.data[i]).toBeCloseTo(reference.data[i], 3);
    }
    expect(() => codec.decodeDistribution(oneHot(2), { geometry: codes.geometry!, reference, present: present.subarray(1), decoder: 'mbr' })).toThrow(
      expect.objectContaining({ code: 'E_SHAPE' }),
    );
    expect(() => codec.decodeDistribution(oneHot(2), { geometry: { ...codes.geometry!, stride: 3 }, reference, present })).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });
});

/** Per cell, k probabilities ∝ exp(spread · a normal draw) (larger spread: more peaked). */
function randomProbs(rng: Rng, cells: number, k: number, spread: number): Float32Array {
  const probs = new Float32Array(cells * k);
  for (let i = 0; i < cells; i++) {
    const w = Array.from({ length: k }, () => Math.exp(spread * rng.normal()));
    const z = w.reduce((a, b) => a + b, 0);
    w.forEach((x, c) => (probs[i * k + c] = x / z));
  }
  return probs;
}

describe('decodeCandidates', () => {
  it('renders the same frame from each cell\'s top m as decodeDistribution from the whole distribution', async () => {
    const codec = c8;
    const codes = await codec.encode(clip);
    const g = codes.geometry!;
    const cells = codes.rows * codes.cols;
    const k = codec.k;
    const probs = randomProbs(new Rng(4), cells, k, 2);
    const present = codes.codes.subarray(cells, 2 * cells);
    const m = 5;
    // the slow way: a full sort per cell (ties: lower code)
    const top = { rows: codes.rows, cols: codes.cols, k, m, codes: new Int32Array(cells * m), probs: new Float32Array(cells * m), presentProbs: new Float32Array(cells) };
    for (let i = 0; i < cells; i++) {
      const p = probs.subarray(i * k, (i + 1) * k);
      const order = Array.from(p, (_, c) => c).sort((x, y) => p[y] - p[x] || x - y);
      for (let j = 0; j < m; j++) [top.codes[i * m + j], top.probs[i * m + j]] = [order[j], p[order[j]]];
      top.presentProbs[i] = p[present[i]];
    }
    const reference = sliceVideo(clip, 1);
    for (const decoder of ['centroid', 'skip', 'mbr', 'mean'] as const) {
      for (const search of [0, 2]) {
        const want = codec.decodeDistribution({ rows: codes.rows, cols: codes.cols, k, probs }, { geometry: g, reference, present, decoder, topM: 4, search, alpha: 0.7 });
        const got = codec.decodeCandidates(top, { geometry: g, reference, present, decoder, topM: 4, search, alpha: 0.7 });
        expect(Array.from(got.data)).toEqual(Array.from(want.data));
      }
    }
    expect(codeOf(() => codec.decodeCandidates(top, { geometry: g, reference, present, topM: 6 }))).toMatch(/^E_RANGE .*top\.m/);
  });
});

describe('motion search', () => {
  /** The slow reference: pixel (y, x) of the frame moved by (dx, dy), edge pixels repeated. */
  const moved = (v: Video, dx: number, dy: number): Video => ({
    ...v,
    frames: 1,
    data: Float32Array.from({ length: v.width * v.height }, (_, i) => {
      const y = Math.min(v.height - 1, Math.max(0, Math.floor(i / v.width) + dy));
      const x = Math.min(v.width - 1, Math.max(0, (i % v.width) + dx));
      return v.data[(v.frames - 1) * v.width * v.height + y * v.width + x];
    }),
  });

  it.each([['stride 8', () => c8], ['stride 4', () => c4]])('%s: motionPatches are the reference patches of the moved frames, (0, 0) first', async (_, codecOf) => {
    const codec = codecOf();
    const g = (await codec.encode(clip)).geometry!;
    const two = { ...clip, frames: 2, data: clip.data.slice(0, 2 * clip.width * clip.height) };
    const { patches, count } = codec.motionPatches(two, g, 2);
    expect(count).toBe(50);
    const dim = 64;
    const cells = codec.referencePatches(sliceVideo(clip, 0), g).length / dim;
    // the order: per frame, displacements by distance, then dy, then dx
    const order: Array<[number, number]> = [];
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) order.push([dx, dy]);
    order.sort((a, b) => a[0] ** 2 + a[1] ** 2 - b[0] ** 2 - b[1] ** 2 || a[1] - b[1] || a[0] - b[0]);
    expect(order[0]).toEqual([0, 0]);
    for (let f = 0; f < 2; f++) {
      order.forEach(([dx, dy], m) => {
        const want = codec.referencePatches(moved(sliceVideo(two, f), dx, dy), g);
        for (let cell = 0; cell < cells; cell++) {
          const got = patches.subarray((cell * count + f * 25 + m) * dim, (cell * count + f * 25 + m + 1) * dim);
          expect(maxAbsDiff(got, want.subarray(cell * dim, (cell + 1) * dim))).toBeLessThan(1e-6);
        }
      });
    }
    expect(codeOf(() => codec.motionPatches(two, g, 17))).toMatch(/^E_RANGE .*search/);
    expect(codeOf(() => codec.motionPatches(sliceVideo(clip, 0), { ...g, width: 30 }, 1))).toMatch(/^E_SHAPE .*sources/);
  });

  it.each([['stride 8', () => c8], ['stride 4', () => c4]])('%s: a render with search reads the moved patches in the padded frames, the same pixels as decodeCells on motionPatches', async (_, codecOf) => {
    const codec = codecOf();
    const codes = await codec.encode(clip);
    const g = codes.geometry!;
    const cells = codes.rows * codes.cols;
    const k = codec.k;
    const rng = new Rng(3);
    const probs = new Float32Array(cells * k);
    for (let i = 0; i < cells; i++) {
      const w = Array.from({ length: k }, () => Math.exp(2 * rng.normal()));
      const z = w.reduce((a, b) => a + b, 0);
      w.forEach((x, c) => (probs[i * k + c] = x / z));
    }
    const dist = { rows: codes.rows, cols: codes.cols, k, probs };
    const reference = sliceVideo(clip, 1);
    const sources = { ...clip, frames: 2, data: clip.data.slice(0, 2 * clip.width * clip.height) };
    const present = codes.codes.subarray(cells, 2 * cells);
    const patches = codec.referencePatches(reference, g);
    for (const decoder of ['skip', 'mbr', 'mean'] as const) {
      for (const [search, from] of [[1, reference], [3, sources]] as const) {
        const got = codec.decodeDistribution(dist, { geometry: g, reference, present, decoder, search, sources: from, alpha: 0.9, topM: 5 });
        const motion = codec.motionPatches(from, g, search);
        const data = decodeCells({ probs, k, present, reference: patches, centroids: codec.codebook.centroids, dim: 64, decoder, alpha: 0.9, topM: 5, motion: motion.patches, motionCount: motion.count });
        const want = reassemble({ size: 8, stride: g.stride, rows: codes.rows, cols: codes.cols, frames: 1, data }, { width: g.width, height: g.height });
        // toPixels: reassembled, then × std (denormalize)
        expect(Array.from(got.data)).toEqual(Array.from(want.data, (x) => Math.fround(x * g.std)));
      }
    }
  });

  it('with search, decodeDistribution renders a code as the moved patch nearest its centroid', async () => {
    const codec = c8;
    const codes = await codec.encode(clip);
    const g = codes.geometry!;
    const cells = codes.rows * codes.cols;
    const k = codec.k;
    const dim = 64;
    // every cell is sure of its frame-2 code; the reference is frame 1
    const probs = new Float32Array(cells * k);
    for (let i = 0; i < cells; i++) probs[i * k + codes.codes[2 * cells + i]] = 1;
    const dist = { rows: codes.rows, cols: codes.cols, k, probs };
    const reference = sliceVideo(clip, 1);
    const present = codes.codes.subarray(cells, 2 * cells);
    const { centroids } = codec.codebook;
    const { patches, count } = codec.motionPatches(reference, g, 3);
    // the slow way: per changed cell, the nearest moved patch to the centroid; unchanged cells keep their patch
    const P = codec.referencePatches(reference, g);
    const want = new Float32Array(cells * dim);
    for (let cell = 0; cell < cells; cell++) {
      const c = codes.codes[2 * cells + cell];
      if (c === present[cell]) {
        want.set(P.subarray(cell * dim, (cell + 1) * dim), cell * dim);
        continue;
      }
      let best = 0;
      let bestD = Infinity;
      for (let m = 0; m < count; m++) {
        let d = 0;
        for (let j = 0; j < dim; j++) d += (patches[(cell * count + m) * dim + j] - centroids[c * dim + j]) ** 2;
        if (d < bestD) [best, bestD] = [m, d];
      }
      want.set(patches.subarray((cell * count + best) * dim, (cell * count + best + 1) * dim), cell * dim);
    }
    const frame = reassemble({ size: 8, stride: 8, rows: codes.rows, cols: codes.cols, frames: 1, data: want }, { width: g.width, height: g.height });
    for (const decoder of ['skip', 'mbr'] as const) {
      const got = codec.decodeDistribution(dist, { geometry: g, reference, present, decoder, search: 3 });
      expect(maxAbsDiff(got.data, frame.data.map((x) => x * g.std))).toBeLessThan(1e-3);
      // without search the changed cells are centroids, which differ here
      const plain = codec.decodeDistribution(dist, { geometry: g, reference, present, decoder });
      expect(maxAbsDiff(plain.data, got.data)).toBeGreaterThan(1);
    }
    expect(codeOf(() => codec.decodeDistribution(dist, { geometry: g, reference, present, search: -1 }))).toMatch(/^E_RANGE .*search/);
  });

  it('with search, a pixel that is not finite in the frames it moves is refused, named (E_RANGE), with or without sources', async () => {
    const codec = c8;
    const codes = await codec.encode(clip);
    const g = codes.geometry!;
    const cells = codes.rows * codes.cols;
    const dist = { rows: codes.rows, cols: codes.cols, k: codec.k, probs: new Float32Array(cells * codec.k).fill(1 / codec.k) };
    const present = codes.codes.subarray(cells, 2 * cells);
    const reference = sliceVideo(clip, 1);
    for (const bad of [NaN, Infinity, 3e38]) {
      const broken = { ...reference, data: reference.data.slice() };
      broken.data[77] = bad;
      // 3e38 is finite, but not once divided by a std below 1
      const geometry = bad === 3e38 ? { ...g, std: 0.5 } : g;
      for (const decoder of ['skip', 'mbr', 'mean'] as const) {
        expect(codeOf(() => codec.decodeDistribution(dist, { geometry, reference: broken, present, decoder, search: 1 }))).toMatch(/^E_RANGE .*reference\.data\[77\]/);
        expect(codeOf(() => codec.decodeDistribution(dist, { geometry, reference, present, decoder, search: 1, sources: broken }))).toMatch(/^E_RANGE .*sources\.data\[77\]/);
      }
    }
    // frames that are not a video, or not of the codes' size, are named before any pixel is read
    const notVideo = { ...reference, data: null } as unknown as Video;
    expect(codeOf(() => codec.decodeDistribution(dist, { geometry: g, reference, present, decoder: 'mbr', search: 1, sources: notVideo }))).toMatch(/^E_(SHAPE|DTYPE) .*sources/);
    const small = { ...reference, width: reference.width - 8, data: reference.data.subarray(0, (reference.width - 8) * reference.height) };
    expect(codeOf(() => codec.decodeDistribution(dist, { geometry: g, reference, present, decoder: 'mbr', search: 1, sources: small }))).toMatch(/^E_SHAPE .*sources/);
  });

  it('renders reuse their scratch (moved patches, stand-in targets) without carrying anything from one frame to the next', async () => {
    const codec = c8;
    const codes = await codec.encode(clip);
    const g = codes.geometry!;
    const cells = codes.rows * codes.cols;
    const k = codec.k;
    const rng = new Rng(9);
    const distOf = (): { rows: number; cols: number; k: number; probs: Float32Array } => ({ rows: codes.rows, cols: codes.cols, k, probs: randomProbs(rng, cells, k, 3) });
    const a = distOf();
    const b = distOf();
    const present = codes.codes.subarray(cells, 2 * cells);
    const ref1 = sliceVideo(clip, 1);
    const ref2 = sliceVideo(clip, 2);
    const render = (dist: typeof a, reference: Video, decoder: 'skip' | 'mbr' | 'mean', search: number): number[] =>
      Array.from(codec.decodeDistribution(dist, { geometry: g, reference, present, decoder, search, alpha: 0.8, topM: 6 }).data);
    // each render alone, in a fresh codec (fresh scratch) ...
    const alone = (dist: typeof a, reference: Video, decoder: 'skip' | 'mbr' | 'mean', search: number): number[] =>
      Array.from(PatchCodec.fromQuantizer(codec.quantizer, codec.meta).decodeDistribution(dist, { geometry: g, reference, present, decoder, search, alpha: 0.8, topM: 6 }).data);
    const decoders = ['skip', 'mbr', 'mean'] as const;
    const want = decoders.map((d) => [alone(a, ref1, d, 3), alone(b, ref2, d, 1)]);
    // ... equals the same renders one after another in one codec, a larger search before a smaller one and back
    expect(decoders.map((d) => [render(a, ref1, d, 3), render(b, ref2, d, 1)])).toEqual(want);
    // the array motionPatches returns is the caller's: later renders do not write into it
    const { patches } = codec.motionPatches(ref1, g, 2);
    const copy = Float32Array.from(patches);
    render(b, ref2, 'mbr', 2);
    render(a, ref1, 'mean', 3);
    expect(Array.from(patches)).toEqual(Array.from(copy));
  });
});

describe('codes remember their codebook', () => {
  it("carry the codec's checksum; another codec of the same K and grid refuses them with E_SHAPE", async () => {
    const other = await fit(clip, { patch: 8, seed: 9 });
    expect(other.checksum).not.toBe(c8.checksum);
    const codes = await c8.encode(clip);
    expect(codes.geometry!.codebook).toBe(c8.checksum);
    expect(() => other.decode(codes)).toThrow(expect.objectContaining({ code: 'E_SHAPE', message: expect.stringContaining('codes.geometry.codebook') }));
    // bare geometry (no checksum, as older codes files have) still decodes
    const { codebook: _, ...bare } = codes.geometry!;
    expect(other.decode({ ...codes, geometry: bare }).frames).toBe(clip.frames);
    expect(() => assertCodeVolume({ ...codes, geometry: { ...codes.geometry!, codebook: 'xyz' } }, 'codes')).toThrow(/codes\.geometry\.codebook/);
  });
});
