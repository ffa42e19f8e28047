import {
  type CellCandidates, type CellDistribution, type CodeGeometry, type CodeVolume, type FrameRenderer, type RenderDistributionOptions, type Codebook, type PatchGrid, type Video, VqvidError, assertCodeVolume,
  assertInt, assertNumber, assertVideo, crc32, fail, sliceVideo,
} from '@vqvid/core';
import { extractPatches, gridShape, reassemble, samplePatches, type PatchSample } from '@vqvid/patches';
import { type Normalized, denormalize, normalize } from '@vqvid/video';
import { assignNaive } from './assign';
import { decodeCells, decodeCellsInLayout, DEFAULT_DECODER } from './decoders';
import { type MotionLayout, packedLayout } from './motion-simd';
import { Quantizer, type QuantizerOptions } from './quantizer';

/**
 * How a {@link PatchCodec} scales a video's pixels before cutting patches:
 * - `'per-video-std'`: each video is divided by the standard deviation of its own pixels (the paper's
 *   preprocessing, and how every published vqvid result was computed);
 * - `'codebook-std'`: every video is divided by the standard deviation recorded when the codebook was fitted,
 *   so a patch's code does not depend on the contrast of the rest of the clip.
 * @example
 * ```ts
 * for (const n of NORMALIZATIONS) console.log(n); // 'per-video-std', 'codebook-std'
 * ```
 */
export const NORMALIZATIONS = ['per-video-std', 'codebook-std'] as const;

/**
 * One of {@link NORMALIZATIONS}.
 * @example
 * ```ts
 * const n: Normalization = 'codebook-std';
 * ```
 */
export type Normalization = (typeof NORMALIZATIONS)[number];

/**
 * Defaults of {@link PatchCodec.fit}: 8x8 patches without overlap (stride = patch), each video divided by its
 * own std, k-means on at most 100,000 sampled patches. The Quantizer's own defaults (seed 1, maxIter, backend
 * 'auto', ...) apply to the other options.
 * @example
 * ```ts
 * const codec = await PatchCodec.fit(video, { k: 64, patch: DEFAULT_CODEC_OPTIONS.patch });
 * ```
 */
export const DEFAULT_CODEC_OPTIONS: Readonly<Required<Pick<PatchCodecOptions, 'patch' | 'normalization' | 'sample'>>> = Object.freeze({
  patch: 8,
  normalization: 'per-video-std',
  sample: 100_000,
});

/**
 * What a codebook's codes mean, typed: the patch grid they were cut on and how pixels were scaled. Stored in the
 * codebook's `meta` (next to the Quantizer's provenance), so a saved codec file carries it.
 * @example
 * ```ts
 * const meta: CodebookMeta = { patch: { size: 8, stride: 4 }, normalization: 'per-video-std', std: 41.2 };
 * ```
 */
export interface CodebookMeta {
  /** Patch side and step between patch origins, in pixels (1 <= stride <= size; size * size = codebook dim). */
  patch: {
    /** Side of a square patch in pixels. */
    size: number;
    /** Step between neighbouring patches in pixels (size: no overlap). */
    stride: number;
  };
  /** How {@link PatchCodec.encode} scales a video before cutting patches. */
  normalization: Normalization;
  /**
   * Standard deviation (pixel units, 0..255 scale) of the video the codebook was fitted on; the divisor of every
   * video under 'codebook-std'. null only for codebooks from files older than PatchCodec that did not record it
   * (then normalization is 'per-video-std').
   */
  std: number | null;
}

/** Options of {@link PatchCodec.fit}: the {@link QuantizerOptions} (k required) plus the patch grid and scaling. */
export interface PatchCodecOptions extends QuantizerOptions {
  /** Patch side in pixels, 1..256. Default {@link DEFAULT_CODEC_OPTIONS}.patch (8). */
  patch?: number;
  /** Step between patches in pixels, 1..patch. Default: patch (no overlap). */
  stride?: number;
  /** How videos are scaled before patches are cut. Default 'per-video-std' (see {@link NORMALIZATIONS}). */
  normalization?: Normalization;
  /** Most patches drawn (uniformly, seeded by `seed`) from the video for k-means. Default 100,000. */
  sample?: number;
}

/**
 * Options of {@link PatchCodec.encode}.
 * @example
 * ```ts
 * const o: EncodeOptions = { std: 41.2 }; // the std of the whole video, for one of its pieces
 * ```
 */
export interface EncodeOptions {
  /**
   * Divide the pixels by this (> 0) instead of what the codec's normalization says: the std of a whole video
   * when it is encoded a few frames at a time (each piece's own std would differ). Recorded in the geometry.
   */
  std?: number;
}

/** Options of {@link PatchCodec.decode}. */
export interface DecodeOptions {
  /**
   * Real frames just before the codes (0..255, the codes' width x height; only the last frame is used). With it,
   * decode renders "skip" frames: a cell whose code equals the same cell's code in the frame before keeps that
   * frame's pixels instead of its centroid.
   */
  reference?: Video;
  /**
   * Codes whose last frame is the code of the reference's last frame (e.g. the context codes a prediction
   * continues; same rows, cols and k). Default: the codec encodes the reference's last frame itself, with the
   * exact nearest-centroid search (float64) after dividing by `codes.geometry.std`, O(cells * k * dim).
   */
  referenceCodes?: CodeVolume;
}

/**
 * Options of {@link PatchCodec.decodeDistribution}: core's `RenderDistributionOptions` (geometry, reference,
 * present, decoder, alpha, topM).
 * @example
 * ```ts
 * const o: DecodeDistributionOptions = { geometry: codes.geometry!, reference: last, present: lastCodes, decoder: 'mbr' };
 * ```
 */
export type DecodeDistributionOptions = RenderDistributionOptions;

/**
 * What {@link PatchCodec.motionPatches} returns: the moved patches of every cell, for `decodeCells`' `motion`.
 * @example
 * ```ts
 * const { patches, count }: MotionPatches = codec.motionPatches(lastFrame, geometry, 2);
 * ```
 */
export interface MotionPatches {
  /** [cells, count, dim] row-major, in the codes' scale. */
  patches: Float32Array;
  /** Moved patches per cell: frames·(2·search+1)². */
  count: number;
}

/** Largest motion search radius (pixels) of `decodeDistribution`: (2·16+1)² = 1089 patches per cell and frame. */
const MAX_SEARCH = 16;

/**
 * The one owner of the video ↔ codes step: scales pixels, cuts patches on its grid, maps them to k-means codes
 * (`encode`) and codes back to pixels (`decode`), and saves/loads all of that as one codebook file.
 *
 * Normalization: by default ('per-video-std') each video is divided by its own pixel standard deviation, as the
 * paper does; every published vqvid result (bench, examples, CLI) was computed this way, so it stays the default
 * and results do not move. 'codebook-std' divides every video by the std of the fit video instead: use it when
 * clips differ in contrast and a code should mean the same patch whatever clip it comes from. Either way the
 * divisor used for a video is recorded in its codes' geometry (`geometry.std`), so decode is its exact inverse.
 * @example
 * ```ts
 * const codec = await PatchCodec.fit(video, { k: 64, patch: 8, stride: 4 }); // video: pixels 0..255
 * const codes = await codec.encode(video);   // CodeVolume with geometry { patch, stride, width, height, std }
 * const frames = codec.decode(codes);        // Video, pixels 0..255 (not clamped)
 * await codec.save('codebook.vqcb');
 * const again = await PatchCodec.load('codebook.vqcb');
 * codec.dispose();
 * ```
 */
export class PatchCodec implements FrameRenderer {
  /** The fitted k-means quantizer the codec encodes with (backend, inertia, iterations... live here). */
  readonly quantizer: Quantizer;
  /** The codebook's typed meta (frozen). */
  readonly meta: Readonly<CodebookMeta>;
  private sum: string | undefined;
  /**
   * The moved patches of the last render with a motion search, reused by the next (several MB a frame at 320x240:
   * allocating them every frame keeps the garbage collector busy on the other cores).
   */
  private motionScratch: Float32Array | null = null;

  /** The pixels and patch starts of the last {@link PatchCodec.motionLayout} (reused by the next). */
  private layoutScratch: { data: Float32Array; bases: Int32Array } | null = null;

  private constructor(quantizer: Quantizer, meta: CodebookMeta) {
    this.quantizer = quantizer;
    this.meta = Object.freeze({ ...meta, patch: Object.freeze({ ...meta.patch }) });
  }

  /**
   * Fits a codec on a video: scales it by its std, draws `sample` patches on the codec's grid and fits k-means.
   * Bad options: E_RANGE naming the option.
   * @param video gray video, pixels 0..255.
   * @param options `k` (required), patch, stride, normalization, sample and any {@link QuantizerOptions}.
   * @example
   * ```ts
   * const codec = await PatchCodec.fit(video, { k: 256, stride: 4, seed: 7, maxIter: 20, backend: 'wasm-simd' });
   * ```
   */
  static async fit(video: Video, options: PatchCodecOptions): Promise<PatchCodec> {
    assertVideo(video, 'video');
    return fitOn(options, (seed, { size, stride, count }) => {
      const { video: scaled, std } = normalize(video);
      return { points: samplePatches(scaled, { count, seed, size, stride }), std };
    });
  }

  /**
   * Fits a codec on patches already drawn from a video's pixels (0..255), e.g. by a `PatchReservoir` of
   * @vqvid/patches over streamed frames, given the std of all that video's pixels: the patches are divided by
   * it exactly as {@link PatchCodec.fit} divides the whole video, so a sample holding every patch `fit` would
   * draw gives the same codec. E_SHAPE when the patches are not `patch` pixels square, E_RANGE on a bad option.
   * @param sample unscaled patch vectors `{ size, dim, count, data }` cut on the grid of `options.patch`/`stride`.
   * @param std the video's pixel standard deviation (population, over every pixel of every frame), > 0.
   * @param options as {@link PatchCodec.fit}'s; `sample` is ignored (the patches are given).
   * @example
   * ```ts
   * const reservoir = new PatchReservoir({ count: 100000, seed: 1, size: 8 });
   * for await (const f of streamVideo('clip.avi')) reservoir.add({ ...f, frames: 1 });
   * const codec = await PatchCodec.fitSample(reservoir.result(), 41.2, { k: 128, patch: 8, seed: 1 });
   * ```
   */
  static async fitSample(sample: PatchSample, std: number, options: PatchCodecOptions): Promise<PatchCodec> {
    return fitOn(options, (_, { size }) => {
      if (typeof sample !== 'object' || sample === null || !(sample.data instanceof Float32Array)) fail('E_SHAPE', 'sample', 'a PatchSample { size, dim, count, data }', sample);
      if (sample.size !== size || sample.dim !== size * size) fail('E_SHAPE', 'sample.size', `${size} (options.patch)`, sample.size);
      assertNumber(std, 'std', Number.MIN_VALUE);
      const data = new Float32Array(sample.data.length);
      const by = 1 / std; // as normalize scales: x * (1 / std), rounded to float32
      for (let i = 0; i < data.length; i++) data[i] = sample.data[i] * by;
      return { points: { ...sample, data }, std };
    });
  }

  /**
   * Wraps a fitted Quantizer. `meta` is required unless the codebook's meta already holds it (a codec's file,
   * or an older codebook with `size`/`stride`, read as 'per-video-std'); it is written into
   * `quantizer.codebook.meta` so saving keeps it. The codec then owns the quantizer ({@link PatchCodec.dispose}).
   * E_SHAPE when the meta is missing or does not fit the codebook (size * size !== dim), E_RANGE on a bad value.
   * @example
   * ```ts
   * const codec = PatchCodec.fromQuantizer(q, { patch: { size: 8, stride: 8 }, normalization: 'per-video-std', std: 40 });
   * ```
   */
  static fromQuantizer(quantizer: Quantizer, meta?: CodebookMeta): PatchCodec {
    if (!(quantizer instanceof Quantizer)) fail('E_STATE', 'quantizer', 'a fitted Quantizer', quantizer);
    const book = quantizer.codebook;
    const checked = meta === undefined ? checkMeta(fromBag(book.meta), 'quantizer.codebook.meta', book.dim) : checkMeta(meta, 'meta', book.dim);
    const { size, stride } = checked.patch;
    // size/stride stay at the top level too: Quantizer.decode and pre-codec readers look there.
    Object.assign(book.meta, { patch: { size, stride }, normalization: checked.normalization, std: checked.std, size, stride });
    return new PatchCodec(quantizer, checked);
  }

  /**
   * Loads a codebook file written by {@link PatchCodec.save} (or by `Quantizer.save` of an older codebook whose
   * meta has `size`/`stride`). E_NOT_FOUND for a missing file, E_FORMAT for a corrupt one or one without patch
   * geometry. Node only.
   * @param runtime backend, onProgress, gpu, log for the quantizer (not stored in files).
   * @example
   * ```ts
   * const codec = await PatchCodec.load('codebook.vqcb', { backend: 'wasm-simd' });
   * ```
   */
  static async load(path: string, runtime: Partial<Pick<QuantizerOptions, 'backend' | 'onProgress' | 'gpu' | 'log'>> = {}): Promise<PatchCodec> {
    const quantizer = await Quantizer.load(path, runtime);
    try {
      return PatchCodec.fromQuantizer(quantizer);
    } catch (e) {
      quantizer.dispose();
      if (e instanceof VqvidError) throw new VqvidError('E_FORMAT', `${path}: not a patch codebook (${e.message})`, { path });
      throw e;
    }
  }

  /** The codebook {k, dim, centroids, meta}; `dim` = patch size². */
  get codebook(): Codebook {
    return this.quantizer.codebook;
  }

  /** Number of codes K: every code is an integer in [0, k). */
  get k(): number {
    return this.quantizer.codebook.k;
  }

  /**
   * Identity of what the codes mean: CRC-32 (core's {@link @vqvid/core!crc32 | crc32}, the container's checksum)
   * of the JSON of k, dim and {@link CodebookMeta} followed by the centroids' bytes, as 8 hex digits. Same
   * codebook, same checksum, across save/load; not a cryptographic hash.
   */
  get checksum(): string {
    if (this.sum === undefined) {
      const { k, dim, centroids } = this.codebook;
      const head = new TextEncoder().encode(JSON.stringify({ k, dim, patch: this.meta.patch, normalization: this.meta.normalization, std: this.meta.std }));
      const bytes = new Uint8Array(head.length + centroids.byteLength);
      bytes.set(head);
      bytes.set(new Uint8Array(centroids.buffer, centroids.byteOffset, centroids.byteLength), head.length);
      this.sum = crc32(bytes).toString(16).padStart(8, '0');
    }
    return this.sum;
  }

  /**
   * Codes of every patch of a video on the codec's grid (nearest centroid, lowest index on ties), carrying
   * their geometry: patch, stride, the frame size and the std the video was divided by.
   * @param video gray video, pixels 0..255, any frame size.
   * @param options `std`: the divisor of a whole video this is a piece of (see {@link EncodeOptions}).
   * @example
   * ```ts
   * const codes = await codec.encode(video); // codes.geometry.std: the divisor used
   * const part = await codec.encode(firstFrames, { std: codes.geometry!.std }); // = the first frames' codes
   * ```
   */
  async encode(video: Video, options: EncodeOptions = {}): Promise<CodeVolume> {
    assertVideo(video, 'video');
    if (options.std !== undefined) assertNumber(options.std, 'options.std', Number.MIN_VALUE);
    const { video: scaled, std } = options.std === undefined ? this.scale(video) : { video: divide(video, options.std), std: options.std };
    const { size, stride } = this.meta.patch;
    const { rows, cols, frames, k, codes } = await this.quantizer.encode(extractPatches(scaled, { size, stride }));
    return { rows, cols, frames, k, codes, geometry: { patch: size, stride, width: video.width, height: video.height, std, codebook: this.checksum } };
  }

  /**
   * Frames rebuilt from codes: each cell's centroid, overlapping patches averaged (`reassemble`), times
   * `codes.geometry.std`. Pixels are on the 0..255 scale but not clamped (averages of centroids can overshoot
   * slightly): clamp before writing 8-bit frames or scoring. E_SHAPE, naming the argument, when codes have no
   * geometry (a model's predictions: give them the geometry of the codes they continue) or their patch, stride
   * or k differ from the codec's. See {@link DecodeOptions.reference} for the "skip" rendering.
   * @example
   * ```ts
   * const frames = codec.decode(codes);
   * const next = codec.decode({ ...model.generate(context, 4), geometry: context.geometry });
   * const skip = codec.decode({ ...predicted, geometry: context.geometry }, { reference: contextVideo, referenceCodes: context });
   * ```
   */
  decode(codes: CodeVolume, options: DecodeOptions = {}): Video {
    const geometry = this.geometryOf(codes);
    const grid = this.quantizer.decode(codes, { size: geometry.patch, stride: geometry.stride });
    if (options.reference !== undefined) keepUnchanged(grid, codes, this.referenceOf(options, codes, geometry));
    return toPixels(grid, geometry);
  }

  /**
   * One frame rendered from a per-cell distribution over the K codes (a model's prediction), with a decoder
   * that can keep the pixels of a reference frame ({@link DECODERS}: 'centroid', 'skip', 'mbr', 'mean'; see
   * {@link decodeCells}): each cell's patch is chosen in patch space, overlapping patches are averaged and the
   * result is scaled back by `geometry.std`. Pixels 0..255, not clamped. E_SHAPE when the distribution's grid,
   * the reference's size or `present` do not fit `geometry` and the codec.
   * @param dist `{ rows, cols, k, probs }`, probs [rows*cols, k] row-major (e.g. `model.predictDistribution`).
   * @param options `geometry` of the codes the prediction continues; `reference`, a video whose last frame
   * (0..255) stands for the event "same code as `present`"; `present`, each cell's code in that frame;
   * `decoder` (default 'mbr'), `alpha` (default 1), `topM` and `changeRatio` as in {@link decodeCells}.
   * @example
   * ```ts
   * const dist = model.predictDistribution(context);
   * const frame = codec.decodeDistribution(dist, { geometry: context.geometry!, reference: lastFrame, present: lastCodes, decoder: 'mean', alpha: 0.6 });
   * ```
   */
  decodeDistribution(dist: CellDistribution, options: DecodeDistributionOptions): Video {
    return this.render(dist, { probs: dist.probs }, options);
  }

  /**
   * {@link PatchCodec.decodeDistribution} from each cell's top candidates only (a model's `CellCandidates`: the m
   * most probable codes with their probabilities, and the present code's): the same frame as from the whole
   * distribution when `m` ≥ `topM` (default 16), without reading K values per cell.
   * @example
   * ```ts
   * const top = { rows: 1, cols: 1, k: codec.k, m: 16, codes, probs, presentProbs };
   * const frame = codec.decodeCandidates(top, { geometry, reference: lastFrame, present: lastCodes, decoder: 'mbr' });
   * ```
   */
  decodeCandidates(top: CellCandidates, options: DecodeDistributionOptions): Video {
    return this.render(top, { top }, options);
  }

  /** The body of decodeDistribution and decodeCandidates: `input` is the distribution's probs or its top lists. */
  private render(grid: { rows: number; cols: number; k: number }, input: { probs: Float32Array } | { top: CellCandidates }, options: DecodeDistributionOptions): Video {
    const { geometry, reference, present, decoder = DEFAULT_DECODER, alpha = 1, topM, changeRatio, search = 0, sources } = options;
    const g = this.geometryOf({ rows: grid.rows, cols: grid.cols, frames: 1, k: grid.k, codes: new Uint16Array(grid.rows * grid.cols), geometry });
    const patches = this.referencePatches(reference, g);
    const cells = grid.rows * grid.cols;
    if (present === undefined || present.length !== cells) fail('E_SHAPE', 'present', `${cells} codes (one per cell)`, present?.length);
    const { k, dim, centroids } = this.codebook;
    assertInt(search, 'search', 0, MAX_SEARCH);
    const motionFrames = search > 0 && decoder !== 'centroid' ? (sources ?? sliceVideo(reference, reference.frames - 1)) : null;
    const motionArg = sources ? 'sources' : 'reference';
    const cellOptions = { ...input, k, present, reference: patches, centroids, dim, decoder, alpha, topM, changeRatio };
    const data = motionFrames ? decodeCellsInLayout(cellOptions, this.motionLayout(motionFrames, g, search, motionArg)) : decodeCells(cellOptions);
    return toPixels({ size: g.patch, stride: g.stride, rows: grid.rows, cols: grid.cols, frames: 1, data }, g);
  }

  /**
   * Every cell's patch in every frame of `sources` moved by up to `search` pixels in x and y (the frame moved,
   * edge pixels repeated, then cut on the geometry's grid), divided by the geometry's std: [cells, count, dim]
   * with count = frames·(2·search+1)²; per cell the frames in order, each frame's displacements by distance (dx² + dy², then dy, then dx), so
   * (0, 0) comes first and ties in the decoder's nearest-patch search go to the smallest motion.
   * @example
   * ```ts
   * const { patches, count } = codec.motionPatches(lastFrame, codes.geometry!, 2); // count = 25
   * ```
   */
  motionPatches(sources: Video, geometry: CodeGeometry, search: number, arg = 'sources'): MotionPatches {
    return this.cutMotion(sources, geometry, search, arg, false);
  }

  /**
   * The patches {@link PatchCodec.motionPatches} cuts, described where they lie instead of copied: in the frames
   * ÷ std, padded by `search` pixels (edge pixels repeated, as the cut repeats them), each moved patch's rows
   * `padded width` values apart. Where the grid reaches past the frame's edge, the cut itself (into the codec's
   * scratch). The frames are checked first: their size, then every pixel ÷ std finite (E_RANGE names it).
   */
  private motionLayout(sources: Video, geometry: CodeGeometry, search: number, arg: string): MotionLayout {
    const { rows, cols, dim } = motionGrid(sources, geometry, search, arg);
    const { width, height, patch, stride, std } = geometry;
    // the moved patches are these frames' pixels ÷ std: finite when every pixel is (checked here, once per pixel,
    // instead of once per moved copy of it)
    assertScaledFinite(sources, std, arg);
    if ((rows - 1) * stride + patch > height || (cols - 1) * stride + patch > width) {
      const cut = this.cutMotion(sources, geometry, search, arg, true);
      return packedLayout(cut.patches, rows * cols, cut.count, dim);
    }
    const shifts = motionShifts(search);
    const count = sources.frames * shifts.length;
    const [pw, ph] = [width + 2 * search, height + 2 * search];
    // the codec's scratch (valid until the next decode: the layout lives only as long as one), every value written
    const scratch = (this.layoutScratch ??= { data: new Float32Array(0), bases: new Int32Array(0) });
    if (scratch.data.length < sources.frames * pw * ph) scratch.data = new Float32Array(sources.frames * pw * ph);
    if (scratch.bases.length < rows * cols * count) scratch.bases = new Int32Array(rows * cols * count);
    const data = scratch.data.subarray(0, sources.frames * pw * ph);
    padFrames(sources.data, sources.frames, width, height, search, std, data);
    const bases = scratch.bases.subarray(0, rows * cols * count);
    // each shift's offset from a cell's unmoved patch
    const moved = Int32Array.from(shifts, ([dx, dy]) => (dy + search) * pw + dx + search);
    shiftedBases(moved, rows, cols, sources.frames, stride, pw, ph, bases);
    return { data, bases, count, rowLen: patch, rowStride: pw };
  }

  /** {@link PatchCodec.motionPatches}, into the codec's scratch when `reuse` (valid until the next such call). */
  private cutMotion(sources: Video, geometry: CodeGeometry, search: number, arg: string, reuse: boolean): MotionPatches {
    const { rows, cols, dim } = motionGrid(sources, geometry, search, arg);
    const { width, height, patch, stride, std } = geometry;
    const shifts = motionShifts(search);
    const count = sources.frames * shifts.length;
    const size = rows * cols * count * dim;
    let out: Float32Array;
    if (reuse) {
      if (this.motionScratch === null || this.motionScratch.length < size) this.motionScratch = new Float32Array(size);
      out = this.motionScratch.subarray(0, size); // every value is written below
    } else {
      out = new Float32Array(size);
    }
    const plane = width * height;
    // the patch of the frame moved by (dx, dy), cut as any frame is (edge pixels repeated both times): pixel
    // (r·stride + i, c·stride + j) reads row ys[(dy + search)·rows·patch + r·patch + i], column likewise
    const side = 2 * search + 1;
    const clamped = (size: number, cells: number): Int32Array => {
      const at = new Int32Array(side * cells * patch);
      for (let d = -search; d <= search; d++) {
        for (let q = 0; q < cells * patch; q++) {
          const cell = Math.floor(q / patch);
          at[(d + search) * cells * patch + q] = Math.min(size - 1, Math.max(0, Math.min(size - 1, cell * stride + (q % patch)) + d));
        }
      }
      return at;
    };
    const ys = clamped(height, rows);
    const xs = clamped(width, cols);
    // every pixel ÷ std once (as float32, what each moved copy of it would store), not once per moved copy
    const data = new Float32Array(sources.frames * plane);
    for (let i = 0; i < data.length; i++) data[i] = sources.data[i] / std;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        let at = (r * cols + c) * count * dim;
        for (let f = 0; f < sources.frames; f++) {
          const frame = f * plane;
          for (let q = 0; q < shifts.length; q++) {
            const [dx, dy] = shifts[q];
            const yRow = (dy + search) * rows * patch + r * patch;
            const xRow = (dx + search) * cols * patch + c * patch;
            // away from the edges a moved patch's columns are consecutive: read each row as a run
            const x0 = xs[xRow];
            const run = xs[xRow + patch - 1] - x0 === patch - 1;
            for (let i = 0; i < patch; i++) {
              const line = frame + ys[yRow + i] * width;
              if (run) {
                const from = line + x0;
                for (let j = 0; j < patch; j++) out[at++] = data[from + j];
              } else {
                for (let j = 0; j < patch; j++) out[at++] = data[line + xs[xRow + j]];
              }
            }
          }
        }
      }
    }
    return { patches: out, count };
  }

  /**
   * The reference frame's patches on the codes' grid, in the codes' scale (divided by `geometry.std`): what
   * the decoders' "same code" event stands for, and what {@link fitDecoderAlpha} samples need.
   * @example
   * ```ts
   * const patches = codec.referencePatches(lastFrame, context.geometry!); // Float32Array [cells * dim]
   * ```
   */
  referencePatches(reference: Video, geometry: CodeGeometry): Float32Array {
    assertVideo(reference, 'reference');
    if (reference.width !== geometry.width || reference.height !== geometry.height) {
      fail('E_SHAPE', 'reference (width x height)', `${geometry.width} x ${geometry.height} (codes.geometry)`, `${reference.width} x ${reference.height}`);
    }
    const last = divide(sliceVideo(reference, reference.frames - 1), geometry.std);
    return extractPatches(last, { size: geometry.patch, stride: geometry.stride }).data;
  }

  /**
   * Saves the codebook with its typed meta (and the k-means statistics) as a checksummed vqvid 'codebook'
   * container, atomically. Node only.
   * @example
   * ```ts
   * await codec.save('out/codebook.vqcb');
   * ```
   */
  async save(path: string): Promise<void> {
    await this.quantizer.save(path);
  }

  /**
   * One frame from patches in the codes' scale (what {@link PatchCodec.referencePatches} returns, or a model's
   * predicted patches): overlapping patches averaged, times `geometry.std`. Pixels 0..255, not clamped.
   * @example
   * ```ts
   * const frame = codec.renderPatches(codec.referencePatches(lastFrame, g), g); // = lastFrame on the grid
   * ```
   */
  renderPatches(patches: Float32Array, geometry: CodeGeometry): Video {
    if (typeof geometry !== 'object' || geometry === null) fail('E_SHAPE', 'geometry', 'the { patch, stride, width, height, std } of the codes', geometry);
    const { rows, cols } = gridShape(geometry.width, geometry.height, { size: geometry.patch, stride: geometry.stride });
    const g = this.geometryOf({ rows, cols, frames: 1, k: this.k, codes: new Uint16Array(rows * cols), geometry });
    if (!(patches instanceof Float32Array) || patches.length !== rows * cols * g.patch * g.patch) {
      fail('E_SHAPE', 'patches', `a Float32Array of ${rows * cols * g.patch * g.patch} values (${rows} x ${cols} cells x ${g.patch * g.patch})`, patches?.length);
    }
    return toPixels({ size: g.patch, stride: g.stride, rows, cols, frames: 1, data: patches }, g);
  }

  /** Releases the quantizer's backend (kernels, worker pools); the codec stays usable. */
  dispose(): void {
    this.quantizer.dispose();
  }

  private scale(video: Video): Normalized {
    if (this.meta.normalization === 'per-video-std') return normalize(video);
    const std = this.meta.std as number; // checkMeta: 'codebook-std' always has one
    return { video: divide(video, std), std };
  }

  private geometryOf(codes: CodeVolume): CodeGeometry {
    assertCodeVolume(codes, 'codes');
    const { geometry } = codes;
    if (geometry === undefined) {
      fail('E_SHAPE', 'codes.geometry', 'the { patch, stride, width, height, std } that encode attaches (copy it from the codes a prediction continues)', geometry);
    }
    const { size, stride } = this.meta.patch;
    if (codes.k !== this.k) fail('E_SHAPE', 'codes.k', `${this.k} (the codec's K)`, codes.k);
    if (geometry.patch !== size) fail('E_SHAPE', 'codes.geometry.patch', `${size} (the codec's patch size)`, geometry.patch);
    if (geometry.stride !== stride) fail('E_SHAPE', 'codes.geometry.stride', `${stride} (the codec's stride)`, geometry.stride);
    if (geometry.codebook !== undefined && geometry.codebook !== this.checksum) {
      fail('E_SHAPE', 'codes.geometry.codebook', `${this.checksum} (this codec's checksum: the codes were made with another codebook)`, geometry.codebook);
    }
    return geometry;
  }

  /** Patches (in the codes' scale) and codes of the reference's last frame, on the codes' grid. */
  private referenceOf(options: DecodeOptions, codes: CodeVolume, g: CodeGeometry): Reference {
    const { reference, referenceCodes } = options;
    const patches = this.referencePatches(reference as Video, g);
    const cells = codes.rows * codes.cols;
    if (referenceCodes === undefined) {
      const { k, dim, centroids } = this.codebook;
      return { patches, codes: assignNaive(patches, cells, centroids, k, dim).labels };
    }
    assertCodeVolume(referenceCodes, 'referenceCodes');
    const { rows, cols, k } = referenceCodes;
    if (rows !== codes.rows || cols !== codes.cols || k !== codes.k) {
      fail('E_SHAPE', 'referenceCodes (rows x cols, k)', `${codes.rows} x ${codes.cols}, k ${codes.k} (the codes')`, `${rows} x ${cols}, k ${k}`);
    }
    return { patches, codes: referenceCodes.codes.subarray(referenceCodes.codes.length - cells) };
  }
}

/** Resolved {@link PatchCodecOptions} of a fit: the patch grid and how many patches to draw. */
interface FitGrid {
  size: number;
  stride: number;
  count: number;
}

/**
 * The shared body of fit and fitSample: checks the options, then fits k-means on the scaled patches `draw`
 * returns (with the std they were divided by); the quantizer is released if anything fails.
 */
async function fitOn(options: PatchCodecOptions, draw: (seed: number, grid: FitGrid) => { points: PatchSample; std: number }): Promise<PatchCodec> {
  if (typeof options !== 'object' || options === null) fail('E_RANGE', 'options', 'an options object with k', options);
  const { patch = DEFAULT_CODEC_OPTIONS.patch, stride = patch, normalization = DEFAULT_CODEC_OPTIONS.normalization, sample = DEFAULT_CODEC_OPTIONS.sample, ...rest } = options;
  assertInt(patch, 'patch', 1, 256);
  assertInt(stride, 'stride', 1, patch);
  assertNormalization(normalization, 'normalization');
  assertInt(sample, 'sample', 1);
  const quantizer = new Quantizer(rest);
  try {
    const { points, std } = draw(quantizer.options.seed, { size: patch, stride, count: sample });
    await quantizer.fit({ data: points.data, dim: points.dim, size: patch, stride });
    return PatchCodec.fromQuantizer(quantizer, { patch: { size: patch, stride }, normalization, std });
  } catch (e) {
    quantizer.dispose();
    throw e;
  }
}

/** The reference's last frame as patches and codes, cell-major like one frame of a grid. */
interface Reference {
  patches: Float32Array;
  codes: ArrayLike<number>;
}

/**
 * The "skip" rendering in patch space: frame by frame, a cell whose code equals the code of the same cell one
 * frame earlier takes that frame's patch (the reference's for frame 0, already substituted ones after).
 */
function keepUnchanged(grid: PatchGrid, codes: CodeVolume, ref: Reference): void {
  const cells = codes.rows * codes.cols;
  const dim = grid.size * grid.size;
  for (let t = 0; t < codes.frames; t++) {
    const prevCodes = t === 0 ? ref.codes : codes.codes.subarray((t - 1) * cells, t * cells);
    const prevPatches = t === 0 ? ref.patches : grid.data.subarray((t - 1) * cells * dim, t * cells * dim);
    for (let i = 0; i < cells; i++) {
      if (codes.codes[t * cells + i] === prevCodes[i]) grid.data.set(prevPatches.subarray(i * dim, (i + 1) * dim), (t * cells + i) * dim);
    }
  }
}

/** A patch grid back to pixels on the codes' geometry: overlapping patches averaged, times the std. */
function toPixels(grid: PatchGrid, g: CodeGeometry): Video {
  return denormalize(reassemble(grid, { width: g.width, height: g.height }), g.std);
}

/** The video divided by `std` (denormalize multiplies). */
function divide(video: Video, std: number): Video {
  return denormalize(video, 1 / std);
}

function assertNormalization(v: unknown, arg: string): asserts v is Normalization {
  if (!NORMALIZATIONS.includes(v as Normalization)) fail('E_RANGE', arg, NORMALIZATIONS.map((n) => `'${n}'`).join(' or '), v);
}

/** The typed meta of a codebook's meta bag: a codec's own fields, or an older codebook's size/stride. */
function fromBag(bag: Record<string, unknown>): CodebookMeta {
  if (bag.patch !== undefined) return { patch: bag.patch, normalization: bag.normalization, std: bag.std } as CodebookMeta;
  if (bag.size === undefined) fail('E_SHAPE', 'quantizer.codebook.meta.patch', 'the patch geometry { size, stride } (or size/stride of an older codebook)', undefined);
  // Before PatchCodec every caller divided each video by its own std; some recorded the fit video's std.
  const std = typeof bag.std === 'number' ? bag.std : null;
  return { patch: { size: bag.size, stride: bag.stride ?? bag.size }, normalization: 'per-video-std', std } as CodebookMeta;
}

/** Validates a CodebookMeta against a codebook of `dim` floats per centroid; a fresh copy in a fixed key order. */
function checkMeta(meta: CodebookMeta, arg: string, dim: number): CodebookMeta {
  if (typeof meta !== 'object' || meta === null) fail('E_SHAPE', arg, 'a CodebookMeta { patch, normalization, std }', meta);
  if (typeof meta.patch !== 'object' || meta.patch === null) fail('E_SHAPE', `${arg}.patch`, 'an object { size, stride }', meta.patch);
  const { size, stride } = meta.patch;
  assertInt(size, `${arg}.patch.size`, 1, 256);
  assertInt(stride, `${arg}.patch.stride`, 1, size);
  if (size * size !== dim) fail('E_SHAPE', `${arg}.patch.size`, `the square root of the codebook dim ${dim}`, size);
  assertNormalization(meta.normalization, `${arg}.normalization`);
  const std = meta.std ?? null;
  if (std !== null || meta.normalization === 'codebook-std') assertNumber(std, `${arg}.std`, Number.MIN_VALUE);
  return { patch: { size, stride }, normalization: meta.normalization, std };
}

/** E_RANGE unless every pixel of `video` divided by `std` is a finite float32 (the first one that is not is named). */
function assertScaledFinite(video: Video, std: number, arg: string): void {
  const data = video.data;
  let largest = 0;
  // NaN makes the running maximum NaN, and ±∞ makes it ∞: one test after the loop
  for (let i = 0; i < data.length; i++) largest = Math.max(largest, Math.abs(data[i]));
  if (Number.isFinite(Math.fround(largest / std))) return;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(Math.fround(data[i] / std))) fail('E_RANGE', `${arg}.data[${i}]`, `a pixel whose value ÷ std (${std}) is finite`, data[i]);
}

/** The grid of the frames a motion search reads (E_SHAPE unless they have the codes' size, E_RANGE on a bad `search`). */
function motionGrid(sources: Video, geometry: CodeGeometry, search: number, arg: string): { rows: number; cols: number; dim: number } {
  assertVideo(sources, arg);
  assertInt(search, 'search', 0, MAX_SEARCH);
  const { width, height, patch, stride } = geometry;
  if (sources.width !== width || sources.height !== height) {
    fail('E_SHAPE', `${arg} (width x height)`, `${width} x ${height} (codes.geometry)`, `${sources.width} x ${sources.height}`);
  }
  return { ...gridShape(width, height, { size: patch, stride }), dim: patch * patch };
}

/** The displacements of a motion search, (dx, dy) by distance (dx² + dy², then dy, then dx): (0, 0) first. */
function motionShifts(search: number): Array<[number, number]> {
  const shifts: Array<[number, number]> = [];
  for (let dy = -search; dy <= search; dy++) for (let dx = -search; dx <= search; dx++) shifts.push([dx, dy]);
  return shifts.sort((a, b) => a[0] * a[0] + a[1] * a[1] - (b[0] * b[0] + b[1] * b[1]) || a[1] - b[1] || a[0] - b[0]);
}

/**
 * The frames (width x height each, in `src`) ÷ std, each padded by `search` pixels on every side with its edge
 * pixels, into `out` ((width + 2·search) x (height + 2·search) a frame). Its own function, with typed arguments
 * alone: the loop is optimized on its own, whatever shapes the caller's objects take.
 */
function padFrames(src: Float32Array, frames: number, width: number, height: number, search: number, std: number, out: Float32Array): void {
  const pw = width + 2 * search;
  const ph = height + 2 * search;
  const plane = width * height;
  for (let f = 0, at = 0; f < frames; f++) {
    for (let y = 0; y < ph; y++) {
      const line = f * plane + Math.min(height - 1, Math.max(0, y - search)) * width;
      for (let x = 0; x < pw; x++) out[at++] = src[line + Math.min(width - 1, Math.max(0, x - search))] / std;
    }
  }
}

/** Per cell (rows x cols, row-major), frame and shift, where its moved patch starts in {@link padFrames}' output. */
function shiftedBases(moved: Int32Array, rows: number, cols: number, frames: number, stride: number, pw: number, ph: number, out: Int32Array): void {
  for (let r = 0, at = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      for (let f = 0; f < frames; f++) {
        const origin = f * pw * ph + r * stride * pw + c * stride;
        for (let s = 0; s < moved.length; s++) out[at++] = origin + moved[s];
      }
    }
  }
}
