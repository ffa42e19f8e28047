/**
 * A gray-scale video: `frames` frames of `height` x `width` pixels, frame-major then row-major.
 * Pixel values are 0..255 as read, or in standard-deviation units after `normalize`.
 */
export interface Video {
  /** Frame width in pixels (integer >= 1). */
  width: number;
  /** Frame height in pixels (integer >= 1). */
  height: number;
  /** Number of frames (integer >= 1). */
  frames: number;
  /** Frame rate in frames per second (>= 0), when known; absent when the source did not give one. */
  fps?: number;
  /** length = frames * height * width; index = (t * height + y) * width + x. */
  data: Float32Array;
}

/**
 * Patches cut on a regular grid: one `size*size` vector per (frame, row, col) cell.
 * Cell (t, r, c) covers pixels y in [r*stride, r*stride+size), x in [c*stride, c*stride+size).
 */
export interface PatchGrid {
  /** Side of a square patch in pixels; each patch vector has `size * size` values. */
  size: number;
  /** Step between neighbouring cells in pixels (equal to `size` for non-overlapping patches). */
  stride: number;
  /** Number of grid rows (cells down a frame). */
  rows: number;
  /** Number of grid columns (cells across a frame). */
  cols: number;
  /** Number of frames. */
  frames: number;
  /** length = frames * rows * cols * size * size; patch vectors are row-major inside a patch. */
  data: Float32Array;
}

/** k centroids of dimension `dim`, centroid j at `centroids[j*dim .. (j+1)*dim)`. */
export interface Codebook {
  /** Number of centroids (codebook size); codes are integers in [0, k). */
  k: number;
  /** Length of each centroid vector (`size * size` for patch codebooks). */
  dim: number;
  /** All centroids, [k*dim] row-major: centroid j is `centroids[j*dim .. (j+1)*dim)`. */
  centroids: Float32Array;
  /** Free-form, JSON-serialisable provenance: patch size, stride, normalisation, inertia, seed... */
  meta: Record<string, unknown>;
}

/**
 * Where the cells of a {@link CodeVolume} sit in the frames and how its pixels were scaled: what turns codes back
 * into pixels without guessing. Cell (t, r, c) covers pixels y in [r*stride, r*stride+patch), x in
 * [c*stride, c*stride+patch) of a `width` x `height` frame, on the grid `extractPatches` of `@vqvid/patches`
 * cuts with its default edge rule ('replicate': rows = 1 + ceil((height - patch) / stride) when height > patch, else 1).
 * @example
 * ```ts
 * const geometry: CodeGeometry = { patch: 8, stride: 4, width: 96, height: 96, std: 41.2 };
 * ```
 */
export interface CodeGeometry {
  /** Side of a square patch in pixels (integer >= 1). */
  patch: number;
  /** Step between neighbouring cells in pixels (integer in [1, patch]). */
  stride: number;
  /** Frame width in pixels (integer >= 1). */
  width: number;
  /** Frame height in pixels (integer >= 1). */
  height: number;
  /** The divisor the frames' pixels (0..255) were divided by before encoding, so decoding multiplies by it (> 0). */
  std: number;
  /**
   * Checksum of the codebook that made the codes (`PatchCodec.checksum`, 8 hex digits), when known: a codec or a
   * model refuses codes of another codebook instead of decoding or scoring them silently.
   */
  codebook?: string;
}

/** Integer codes in [0, k) on a rows x cols grid per frame, frame-major then row-major. */
export interface CodeVolume {
  /** Number of grid rows per frame (cells). */
  rows: number;
  /** Number of grid columns per frame (cells). */
  cols: number;
  /** Number of frames. */
  frames: number;
  /** Codebook size: every code is an integer in [0, k). */
  k: number;
  /** Codes, [frames*rows*cols] with index (t * rows + r) * cols + c; Uint16Array when k <= 65536, else Int32Array. */
  codes: Uint16Array | Int32Array;
  /**
   * Patch geometry and pixel scale the codes were made with (set by `PatchCodec.encode`); absent on bare volumes
   * (e.g. a model's predictions), which must get it before they can be decoded to pixels.
   */
  geometry?: CodeGeometry;
}

/**
 * How a per-cell distribution over codes becomes pixels (see `decodeCells` in `@vqvid/quantize`): 'centroid'
 * renders the argmax code's centroid; 'skip' keeps the reference patch where the argmax is the present code;
 * 'mbr' picks the candidate with the least expected squared error; 'mean' averages the candidates.
 * @example
 * ```ts
 * const decoder: DecoderName = 'mbr';
 * ```
 */
export type DecoderName = 'centroid' | 'skip' | 'mbr' | 'mean';

/**
 * A per-cell distribution over the K codes of one frame, as a model predicts it.
 * @example
 * ```ts
 * const dist: CellDistribution = model.predictDistribution(context); // { rows, cols, k, probs, ... }
 * ```
 */
export interface CellDistribution {
  /** Grid rows (cells). */
  rows: number;
  /** Grid columns (cells). */
  cols: number;
  /** Number of codes K. */
  k: number;
  /** Probabilities [rows*cols, k] row-major, each row summing to 1. */
  probs: Float32Array;
}

/**
 * The most probable codes of each cell of one frame with their exact probabilities, and the probability of the
 * cell's present code: all a decoder reads of a {@link CellDistribution}, without its K values per cell.
 * @example
 * ```ts
 * const top: CellCandidates = { rows: 1, cols: 1, k: 4, m: 2, codes: Int32Array.of(3, 0), probs: Float32Array.of(0.6, 0.3), presentProbs: Float32Array.of(0.3) };
 * ```
 */
export interface CellCandidates {
  /** Grid rows (cells). */
  rows: number;
  /** Grid columns (cells). */
  cols: number;
  /** Number of codes K. */
  k: number;
  /** Candidates per cell. */
  m: number;
  /** [rows*cols, m] the m most probable codes of each cell, by probability descending (ties: lower code first). */
  codes: Int32Array;
  /** [rows*cols, m] their probabilities (of the whole K-code distribution). */
  probs: Float32Array;
  /** [rows*cols] the probability of each cell's present code (the render options' `present`). */
  presentProbs: Float32Array;
}

/**
 * How to render a {@link CellDistribution} into a frame (`PatchCodec.decodeDistribution`).
 * @example
 * ```ts
 * const o: RenderDistributionOptions = { geometry: codes.geometry!, reference: last, present: lastCodes, decoder: 'mbr' };
 * ```
 */
export interface RenderDistributionOptions {
  /** Geometry of the codes the distribution continues (patch, stride, frame size, std). */
  geometry: CodeGeometry;
  /** Video whose last frame (0..255, geometry's size) stands for the "same code as `present`" event. */
  reference: Video;
  /** Each cell's code in the reference frame, [rows*cols]. */
  present: ArrayLike<number>;
  /** How to turn each cell's distribution into a patch (default 'mbr'). */
  decoder?: DecoderName;
  /** Stand-in shrink in [0, 1]: code c ≠ present stands for P + alpha·(centroid_c − P) (default 1). */
  alpha?: number;
  /** Candidates per cell (default 16). */
  topM?: number;
  /** 'mbr' only, in (0, 1]: a cell changes only when that cuts its expected error below changeRatio × keeping it (default 1). */
  changeRatio?: number;
  /**
   * Motion search radius in pixels, 0..16 (default 0: off). When > 0, a code c ≠ present stands for the patch of
   * `sources` nearest to centroid c among the patches displaced by up to `search` pixels in x and y from the cell
   * (a real patch that moved, instead of the centroid); `alpha` still shrinks it towards the reference patch.
   */
  search?: number;
  /** Frames searched with `search` (0..255, geometry's size; every frame of it): default the reference's last frame. */
  sources?: Video;
}

/**
 * Anything that renders a per-cell distribution into a frame: `PatchCodec` of `@vqvid/quantize` is one. Models
 * take it to predict and fill in pixels without depending on the quantizer.
 * @example
 * ```ts
 * const renderer: FrameRenderer = codec;
 * ```
 */
export interface FrameRenderer {
  /** One frame (pixels 0..255, not clamped) from a per-cell distribution. */
  decodeDistribution(dist: CellDistribution, options: RenderDistributionOptions): Video;
  /**
   * The same frame from each cell's top candidates only (optional; a model that can find them without scoring all
   * K codes uses it): equal to `decodeDistribution` of the full distribution when `m` ≥ the options' `topM`.
   */
  decodeCandidates?(top: CellCandidates, options: RenderDistributionOptions): Video;
}

/** One report of long-running work; `fraction` is in [0, 1] when known. */
export interface ProgressEvent {
  /** What is running: 'fit', 'encode', 'train', 'read', ... */
  stage: string;
  /** Units done and total (iterations, frames, batches...). */
  done: number;
  /** Units the stage will do in all, when known (same unit as `done`). */
  total?: number;
  /** Share of the stage completed, in [0, 1] (usually `done / total`); absent when unknown. */
  fraction?: number;
  /** Stage-specific numbers, e.g. { loss, bitsPerCode, inertia, epoch }. */
  metrics?: Record<string, number>;
  /** Optional human-readable note for logs or a progress bar. */
  message?: string;
}

/** The progress callback every long operation accepts as `onProgress`. */
export type OnProgress = (event: ProgressEvent) => void;
