import {
  type Codebook, type CodeVolume, type OnProgress, type PatchGrid, Rng, VqvidError, assertCodeVolume, assertCodebook,
  assertFinite, assertInt, assertNumber, assertPatchGrid, checkSchema, fail, packContainer, readFileChecked, type Schema,
  unpackContainer, writeFileAtomic,
} from '@vqvid/core';
import type { AssignBackend, BackendName, BackendRequest } from './assign';
import { BACKEND_ALIASES, BACKEND_NAMES, createBackend } from './backends';
import type { GpuConstructor } from './gpujs';
import { type AssignFn, type LoopResult, type Rows, lloyd, miniBatch, seedKMeansPP, seedRandom } from './kmeans';
import { hamerly } from './kmeans-hamerly';
import { type FitAlgorithm, pickAlgorithm, yinyang } from './kmeans-yinyang';

/**
 * Points: a {@link @vqvid/core!PatchGrid | PatchGrid} (one row per cell), or a plain matrix of `data.length / dim` rows of `dim` floats
 * (such as a `samplePatches` result), optionally carrying the patch `size` (and `stride`) for later decoding.
 */
export type PatchInput = PatchGrid | {
  /** Points as [n*dim] row-major floats, n = data.length / dim. */
  data: Float32Array;
  /** Floats per point (size * size for square patches). */
  dim: number;
  /** Patch side in pixels (size * size must equal dim); kept in the codebook meta so decode can rebuild a grid. */
  size?: number;
  /** Step between patches in pixels, used only with size; default size (no overlap). */
  stride?: number;
};

/** Options of {@link Quantizer}; every field but `k` has a default. */
export interface QuantizerOptions {
  /** Number of centroids (codebook size), 1..65536 for Uint16 codes, up to 2^24 otherwise. */
  k: number;
  /** Seed of every random choice (subsampling, seeding, mini-batches). Default 1. */
  seed?: number;
  /** Assignment backend; 'auto' (default) takes the fastest that works here. */
  backend?: BackendRequest;
  /** Seeding: 'kmeans++' (default, see seedKMeansPP) or 'random' (k distinct random points). */
  init?: 'kmeans++' | 'random';
  /** Most Lloyd iterations, or mini-batch steps when batchSize is set. Default 50. */
  maxIter?: number;
  /** Stop when inertia changes by less than this fraction between iterations. Default 1e-4. */
  tol?: number;
  /** Set to run mini-batch k-means (Sculley 2010) with batches of this many points. */
  batchSize?: number;
  /**
   * How full k-means runs its Lloyd iterations; every choice gives the same labels, centroids and inertia
   * (bit for bit, on the same backend). 'lloyd' computes every distance; 'yinyang' skips those that grouped
   * triangle-inequality bounds rule out and searches the rest in GEMM blocks on the backend; 'hamerly' uses one
   * bound per point and a float64 search in TypeScript (slower here, kept for comparison). 'auto' (default):
   * 'yinyang' when the backend has a blocked search (tfjs-wasm, Node's default) and k ≥ 1024, else 'lloyd'
   * (see `pickAlgorithm` and the package README). Ignored with batchSize.
   */
  algorithm?: FitAlgorithm | 'auto';
  /** Progress of fit (stage 'seed': centers drawn of k; 'fit': iterations with metrics.inertia) and encode ('encode': patches). */
  onProgress?: OnProgress;
  /** gpu.js constructor for a browser page (window.GPU of gpu-browser.js); Node imports gpu.js itself. */
  gpu?: GpuConstructor;
  /** Where a fallback away from an explicitly requested backend is logged. Default console.warn. */
  log?: (message: string) => void;
}

/** A {@link @vqvid/core!CodeVolume | CodeVolume} with, when asked for, the squared distance of each patch to its centroid. */
export type EncodedCodes = CodeVolume & {
  /** Squared Euclidean distance of each patch to its centroid, in code order; only with `withDistances: true`. */
  distances?: Float32Array;
};

/** Plain-JSON form of a fitted quantizer, from {@link Quantizer.toJSON}. */
export interface QuantizerJSON {
  /** Format tag, always 'vqvid-quantizer'. */
  format: 'vqvid-quantizer';
  /** Format version, always 1. */
  version: 1;
  /** Fit options with defaults filled in; the runtime-only ones (backend, onProgress, gpu, log) are not stored. */
  options: {
    /** Number of centroids. */
    k: number;
    /** Seed of every random choice of fit. */
    seed: number;
    /** Seeding method fit used. */
    init: 'kmeans++' | 'random';
    /** Most Lloyd iterations (or mini-batch steps). */
    maxIter: number;
    /** Relative inertia change below which fit stopped. */
    tol: number;
    /** Mini-batch size; absent for full Lloyd k-means. */
    batchSize?: number;
  };
  /** The fitted codebook, centroids as a plain number array. */
  codebook: {
    /** Number of centroids. */
    k: number;
    /** Floats per centroid (patch size squared for patch input). */
    dim: number;
    /** Centroids as [k*dim] row-major numbers. */
    centroids: number[];
    /** Fit provenance: seed, init, algorithm ('lloyd' | 'minibatch'), trainedOn (points), backend, and size/stride when known. */
    meta: Record<string, unknown>;
  };
  /** Statistics of the fit. */
  stats: {
    /** Sum of squared Euclidean distances of the training points to their centroids after fit. */
    inertia: number;
    /** Lloyd iterations (or mini-batch steps) fit ran. */
    iterations: number;
    /** Inertia before the first and after every iteration (mini-batch: per-step estimates of the total). */
    inertiaHistory: number[];
    /** Training points per centroid (length k). */
    clusterSizes: number[];
  };
}

/** {@link QuantizerOptions} as {@link Quantizer.options} holds them: validated, defaults filled in, runtime hooks left out. */
export type ResolvedQuantizerOptions = Required<Pick<QuantizerOptions, 'k' | 'seed' | 'backend' | 'init' | 'maxIter' | 'tol' | 'algorithm'>> & {
  /** Mini-batch size; undefined for full Lloyd k-means. */
  batchSize?: number;
};

const ENCODE_CHUNK = 1 << 16;

/**
 * The defaults of {@link QuantizerOptions} (k has none): the CLI builds its flags and help from them.
 * @example
 * ```ts
 * new Quantizer({ k: 256, maxIter: DEFAULT_QUANTIZER_OPTIONS.maxIter * 2 });
 * ```
 */
export const DEFAULT_QUANTIZER_OPTIONS: Readonly<Required<Pick<QuantizerOptions, 'seed' | 'backend' | 'init' | 'maxIter' | 'tol' | 'algorithm'>>> = Object.freeze({
  seed: 1,
  backend: 'auto',
  algorithm: 'auto',
  init: 'kmeans++',
  maxIter: 50,
  tol: 1e-4,
});

/**
 * k-means vector quantizer of patches: `fit` learns a codebook of k centroids, `encode` maps patches to the
 * index of their nearest centroid, `decode` maps codes back to centroid patches. The assignment step runs
 * on the backend in {@link Quantizer.backend} (see the package README for backends and tolerances).
 * @example
 * ```ts
 * const q = new Quantizer({ k: 1024, seed: 1 });
 * await q.fit(grid);                   // grid: PatchGrid from @vqvid/patches
 * const codes = await q.encode(grid);  // CodeVolume, Uint16Array codes
 * const back = q.decode(codes);        // PatchGrid of centroids
 * await q.save('codebook.vqcb');
 * q.dispose();
 * ```
 */
export class Quantizer {
  /** Resolved options (defaults filled in). */
  readonly options: ResolvedQuantizerOptions;
  /** Backend that ran the last assignment; null before the first fit/encode. */
  backend: BackendName | null = null;
  /** Why the backend differs from the requested one (or the first 'auto' preference); null when it does not. */
  backendReason: string | null = null;
  /** Sum of squared distances of the training points to their centroids after fit. */
  inertia = NaN;
  /** Lloyd iterations (or mini-batch steps) fit ran. */
  iterations = 0;
  /** Training points per centroid after fit (length k). */
  clusterSizes = new Int32Array(0);
  /** Inertia before the first and after every iteration (mini-batch: per-step estimates of the total). */
  inertiaHistory: number[] = [];
  /** Share of point–centroid distances the last fit skipped, per iteration (Yinyang's or Hamerly's bounds; empty otherwise). */
  skipped: number[] = [];

  private book: Codebook | null = null;
  private engine: Promise<AssignBackend> | null = null;
  private readonly hooks: Pick<QuantizerOptions, 'onProgress' | 'gpu' | 'log'>;

  /**
   * Creates an unfitted quantizer; call {@link Quantizer.fit} (or use {@link Quantizer.load}) before encoding.
   * @param options see {@link QuantizerOptions}; validated here (E_RANGE on a bad value).
   */
  constructor(options: QuantizerOptions) {
    if (typeof options !== 'object' || options === null) fail('E_RANGE', 'options', 'an options object with k', options);
    const { k, seed = DEFAULT_QUANTIZER_OPTIONS.seed, backend = DEFAULT_QUANTIZER_OPTIONS.backend, init = DEFAULT_QUANTIZER_OPTIONS.init, maxIter = DEFAULT_QUANTIZER_OPTIONS.maxIter, tol = DEFAULT_QUANTIZER_OPTIONS.tol, batchSize, algorithm = DEFAULT_QUANTIZER_OPTIONS.algorithm } = options;
    assertInt(k, 'k', 1, 1 << 24);
    assertInt(seed, 'seed');
    assertInt(maxIter, 'maxIter', 1);
    assertNumber(tol, 'tol', 0);
    if (batchSize !== undefined) assertInt(batchSize, 'batchSize', 1);
    if (init !== 'kmeans++' && init !== 'random') fail('E_RANGE', 'init', "'kmeans++' or 'random'", init);
    if (!['lloyd', 'hamerly', 'yinyang', 'auto'].includes(algorithm)) fail('E_RANGE', 'algorithm', "'lloyd', 'hamerly', 'yinyang' or 'auto'", algorithm);
    if (backend !== 'auto' && !BACKEND_NAMES.includes(BACKEND_ALIASES[backend] ?? backend)) fail('E_RANGE', 'backend', `'auto' or one of ${BACKEND_NAMES.join(', ')}`, backend);
    this.options = { k, seed, backend, init, maxIter, tol, algorithm, batchSize };
    this.hooks = { onProgress: options.onProgress, gpu: options.gpu, log: options.log };
  }

  /** The fitted codebook {k, dim, centroids, meta}; E_STATE before fit or load. */
  get codebook(): Codebook {
    if (!this.book) throw new VqvidError('E_STATE', 'quantizer: not fitted; call fit() or Quantizer.load() first');
    return this.book;
  }

  /**
   * Learns k centroids from the points: seeding, then Lloyd iterations (or mini-batch steps when batchSize
   * is set). E_RANGE when k exceeds the number of points or a value is not finite.
   * @example
   * ```ts
   * await new Quantizer({ k: 256 }).fit({ data: rows, dim: 64 });
   * ```
   */
  async fit(points: PatchInput): Promise<this> {
    const { rows, size, stride } = toRows(points, 'points');
    const { k, seed, init, maxIter, tol, batchSize, algorithm } = this.options;
    if (k > rows.n) fail('E_RANGE', 'k', `at most the number of points (${rows.n})`, k);
    const assign = await this.assignFn(rows.dim);
    const rng = new Rng(seed);
    const start = init === 'random' ? seedRandom(rows, k, rng) : await seedKMeansPP(rows, k, rng, assign, this.hooks.onProgress);
    const loop = { maxIter, tol, onProgress: this.hooks.onProgress };
    const engine = await this.assignBackend();
    const chosen = pickAlgorithm(algorithm, k, engine);
    const result = batchSize !== undefined
      ? await miniBatch(rows, start, k, Math.min(batchSize, rows.n), rng, loop, assign)
      : chosen === 'yinyang'
        ? await yinyang(rows, start, k, loop, assign, engine.top2?.bind(engine))
        : await (chosen === 'hamerly' ? hamerly : lloyd)(rows, start, k, loop, assign);
    this.adopt(result, rows, size, stride);
    this.skipped = result.skipped ?? [];
    return this;
  }

  /**
   * Nearest-centroid code of every patch (lowest index on ties), on the grid's rows/cols/frames; a plain
   * matrix gives rows = n, cols = frames = 1. Codes are Uint16Array when k ≤ 65536, else Int32Array.
   * @example
   * ```ts
   * const codes = await q.encode(grid);
   * const { distances } = await q.encode(grid, { withDistances: true }); // squared distances, per patch
   * ```
   */
  async encode(points: PatchInput, opts: { withDistances?: boolean } = {}): Promise<EncodedCodes> {
    const book = this.codebook;
    const { rows, grid } = toRows(points, 'points');
    if (rows.dim !== book.dim) fail('E_SHAPE', 'points dim', `${book.dim} (the codebook's)`, rows.dim);
    const assign = await this.assignFn(rows.dim);
    const codes = book.k <= 65536 ? new Uint16Array(rows.n) : new Int32Array(rows.n);
    const distances = opts.withDistances ? new Float32Array(rows.n) : undefined;
    for (let p0 = 0; p0 < rows.n; p0 += ENCODE_CHUNK) {
      const count = Math.min(ENCODE_CHUNK, rows.n - p0);
      const { labels, dist } = await assign(rows.data.subarray(p0 * rows.dim, (p0 + count) * rows.dim), count, book.centroids, book.k);
      codes.set(labels, p0);
      distances?.set(dist, p0);
      this.hooks.onProgress?.({ stage: 'encode', done: p0 + count, total: rows.n, fraction: (p0 + count) / rows.n });
    }
    const shape = grid ? { rows: grid.rows, cols: grid.cols, frames: grid.frames } : { rows: rows.n, cols: 1, frames: 1 };
    return distances ? { ...shape, k: book.k, codes, distances } : { ...shape, k: book.k, codes };
  }

  /**
   * Patch grid whose cell (t, r, c) is the centroid of code (t, r, c). Patch size and stride come from the
   * grid fit saw, or from `opts` (required after fitting on a plain matrix).
   * @example
   * ```ts
   * const back = q.decode(codes);                   // same size/stride as the training grid
   * const back2 = q.decode(codes, { size: 8, stride: 4 });
   * ```
   */
  decode(codes: CodeVolume, opts: { size?: number; stride?: number } = {}): PatchGrid {
    const book = this.codebook;
    assertCodeVolume(codes, 'codes');
    if (codes.k !== book.k) fail('E_SHAPE', 'codes.k', `${book.k} (the codebook's)`, codes.k);
    const size = opts.size ?? book.meta.size;
    const stride = opts.stride ?? book.meta.stride ?? size;
    assertInt(size, 'size', 1);
    assertInt(stride, 'stride', 1);
    if (size * size !== book.dim) fail('E_SHAPE', 'size', `sqrt of the codebook dim ${book.dim}`, size);
    const data = new Float32Array(codes.codes.length * book.dim);
    for (let i = 0; i < codes.codes.length; i++) {
      data.set(book.centroids.subarray(codes.codes[i] * book.dim, (codes.codes[i] + 1) * book.dim), i * book.dim);
    }
    return { size, stride, rows: codes.rows, cols: codes.cols, frames: codes.frames, data };
  }

  /**
   * Plain-JSON snapshot (options, codebook, fit statistics); {@link Quantizer.fromJSON} restores it exactly.
   * @example
   * ```ts
   * const copy = Quantizer.fromJSON(JSON.parse(JSON.stringify(q.toJSON())));
   * ```
   */
  toJSON(): QuantizerJSON {
    const book = this.codebook;
    const { k, seed, init, maxIter, tol, batchSize } = this.options;
    return {
      format: 'vqvid-quantizer',
      version: 1,
      options: batchSize === undefined ? { k, seed, init, maxIter, tol } : { k, seed, init, maxIter, tol, batchSize },
      codebook: { k: book.k, dim: book.dim, centroids: Array.from(book.centroids), meta: { ...book.meta } },
      stats: this.stats(),
    };
  }

  /**
   * Rebuilds a quantizer from {@link Quantizer.toJSON} output; E_FORMAT when it is not one.
   * @param extra runtime-only options (backend, onProgress, gpu, log) that JSON does not carry.
   * @example
   * ```ts
   * const q = Quantizer.fromJSON(json, { backend: 'wasm-simd' });
   * ```
   */
  static fromJSON(json: QuantizerJSON, extra: Partial<Pick<QuantizerOptions, 'backend' | 'onProgress' | 'gpu' | 'log'>> = {}): Quantizer {
    return asFormat('json', () => {
      if (json?.format !== 'vqvid-quantizer' || json.version !== 1) fail('E_FORMAT', 'json.format', "'vqvid-quantizer' version 1", json?.format);
      const c = json.codebook;
      if (!Array.isArray(c?.centroids)) fail('E_FORMAT', 'json.codebook.centroids', 'an array of numbers', c?.centroids);
      return Quantizer.restore(json.options, { ...c, centroids: Float32Array.from(c.centroids) }, json.stats, extra);
    });
  }

  /**
   * Saves codebook, options and statistics as a checksummed vqvid 'codebook' container, atomically (a failed
   * write leaves no file behind). Node only.
   * @example
   * ```ts
   * await q.save('out/codebook.vqcb');
   * ```
   */
  async save(path: string): Promise<void> {
    const { codebook, options, stats } = this.toJSON();
    const header = { format: 'vqvid-quantizer', version: 1, options, k: codebook.k, dim: codebook.dim, meta: codebook.meta, stats: { ...stats, clusterSizes: undefined } };
    const bytes = packContainer('codebook', header, { centroids: this.codebook.centroids, clusterSizes: this.clusterSizes });
    await writeFileAtomic(path, bytes);
  }

  /**
   * Loads a file written by {@link Quantizer.save}; E_NOT_FOUND for a missing file, E_FORMAT for a corrupt,
   * truncated or foreign one. Node only.
   * @example
   * ```ts
   * const q = await Quantizer.load('out/codebook.vqcb', { backend: 'wasm-simd' });
   * ```
   */
  static async load(path: string, extra: Partial<Pick<QuantizerOptions, 'backend' | 'onProgress' | 'gpu' | 'log'>> = {}): Promise<Quantizer> {
    const { header, arrays } = unpackContainer(await readFileChecked(path), 'codebook', path);
    checkSchema(header, CODEBOOK_HEADER, 'header', path);
    const h = header as unknown as StoredHeader;
    return asFormat(path, () => {
      const { centroids, clusterSizes: sizes } = arrays;
      if (!(centroids instanceof Float32Array) || centroids.length !== h.k * h.dim) fail('E_FORMAT', 'centroids', `${h.k * h.dim} (k·dim) float32 values`, centroids);
      if (!(sizes instanceof Int32Array) || sizes.length !== h.k) fail('E_FORMAT', 'clusterSizes', `${h.k} (k) int32 values`, sizes);
      // only the stored fit options: a file cannot set runtime hooks (log, gpu, onProgress) or the backend
      const { k, seed, init, maxIter, tol, batchSize } = h.options;
      const options = batchSize === undefined ? { k, seed, init, maxIter, tol } : { k, seed, init, maxIter, tol, batchSize };
      const stats = { inertia: h.stats.inertia ?? NaN, iterations: h.stats.iterations, inertiaHistory: h.stats.inertiaHistory, clusterSizes: Array.from(sizes) };
      return Quantizer.restore(options, { k: h.k, dim: h.dim, centroids, meta: h.meta }, stats, extra);
    });
  }

  /** Releases the backend (kernels, GPU contexts, worker pools). The quantizer stays usable. */
  dispose(): void {
    const engine = this.engine;
    this.engine = null;
    engine?.then((b) => b.dispose(), () => undefined);
  }

  private static restore(options: QuantizerJSON['options'], book: Codebook, stats: QuantizerJSON['stats'], extra: Partial<QuantizerOptions>): Quantizer {
    const q = new Quantizer({ ...options, ...extra });
    assertCodebook(book, 'codebook');
    if (book.k !== q.options.k) fail('E_FORMAT', 'codebook.k', `${q.options.k} (options.k)`, book.k);
    if (!Array.isArray(stats?.inertiaHistory) || !Array.isArray(stats.clusterSizes) || stats.clusterSizes.length !== book.k) {
      fail('E_FORMAT', 'stats', 'inertiaHistory and k clusterSizes', stats);
    }
    q.book = { k: book.k, dim: book.dim, centroids: book.centroids, meta: { ...book.meta } };
    q.inertia = stats.inertia;
    q.iterations = stats.iterations;
    q.inertiaHistory = [...stats.inertiaHistory];
    q.clusterSizes = Int32Array.from(stats.clusterSizes);
    return q;
  }

  private stats(): QuantizerJSON['stats'] {
    return { inertia: this.inertia, iterations: this.iterations, inertiaHistory: [...this.inertiaHistory], clusterSizes: Array.from(this.clusterSizes) };
  }

  private adopt(r: LoopResult, rows: Rows, size: number | undefined, stride: number | undefined): void {
    const { k, seed, init, batchSize } = this.options;
    this.inertia = r.inertia;
    this.iterations = r.iterations;
    this.inertiaHistory = r.inertiaHistory;
    this.clusterSizes = new Int32Array(k);
    for (const j of r.labels) this.clusterSizes[j]++;
    const meta: Record<string, unknown> = { seed, init, algorithm: batchSize === undefined ? 'lloyd' : 'minibatch', trainedOn: rows.n, backend: this.backend };
    if (size !== undefined) Object.assign(meta, { size, stride });
    this.book = { k, dim: rows.dim, centroids: r.centroids, meta };
  }

  private async assignFn(dim: number): Promise<AssignFn> {
    const backend = await this.assignBackend();
    return (data, n, centroids, k) => backend.assign(data, n, centroids, k, dim);
  }

  private assignBackend(): Promise<AssignBackend> {
    if (!this.engine) {
      this.engine = createBackend(this.options.backend, { gpu: this.hooks.gpu, log: this.hooks.log }).then(({ backend, reason }) => {
        this.backend = backend.name;
        this.backendReason = reason;
        return backend;
      });
    }
    return this.engine;
  }
}

/** Rows of a PatchInput plus the grid geometry when it is a PatchGrid; validates shape and finiteness. */
export function toRows(points: PatchInput, arg: string): { rows: Rows; grid?: PatchGrid; size?: number; stride?: number } {
  if (typeof points !== 'object' || points === null) fail('E_SHAPE', arg, 'a PatchGrid or { data, dim }', points);
  let rows: Rows;
  let grid: PatchGrid | undefined;
  if ('rows' in points && 'cols' in points) {
    assertPatchGrid(points, arg);
    grid = points;
    rows = { data: points.data, n: points.frames * points.rows * points.cols, dim: points.size * points.size };
  } else {
    const { data, dim } = points;
    if (!(data instanceof Float32Array)) fail('E_DTYPE', `${arg}.data`, 'a Float32Array', data);
    assertInt(dim, `${arg}.dim`, 1);
    if (data.length === 0 || data.length % dim !== 0) fail('E_SHAPE', `${arg}.data.length`, `a positive multiple of dim ${dim}`, data.length);
    rows = { data, n: data.length / dim, dim };
    if (points.size !== undefined) {
      assertInt(points.size, `${arg}.size`, 1);
      if (points.size ** 2 !== dim) fail('E_SHAPE', `${arg}.size`, `the square root of dim ${dim}`, points.size);
      if (points.stride !== undefined) assertInt(points.stride, `${arg}.stride`, 1);
    }
  }
  assertFinite(rows.data, `${arg}.data`);
  const geometry = grid ?? (points as { size?: number; stride?: number });
  return { rows, grid, size: geometry.size, stride: geometry.size === undefined ? undefined : (geometry.stride ?? geometry.size) };
}

/** Runs `f`, turning any complaint about stored data into E_FORMAT that names the source. */
function asFormat<T>(source: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof VqvidError && !(e.code === 'E_FORMAT' && e.message.startsWith(`${source}:`))) {
      throw new VqvidError('E_FORMAT', `${source}: not a valid quantizer (${e.message})`, { source });
    }
    throw e;
  }
}

// The codebook file's header, checked by core's hand-written checkSchema (no dependency, exact messages naming
// the file and field) before anything is built; ranges of the options are then checked by the constructor.
const INTEGER: Schema = { type: 'integer' };
const CODEBOOK_HEADER: Schema = {
  type: 'object',
  fields: {
    format: { type: 'string', oneOf: ['vqvid-quantizer'] },
    version: { type: 'integer', min: 1, max: 1 },
    options: {
      type: 'object',
      fields: {
        k: INTEGER,
        seed: INTEGER,
        init: { type: 'string', oneOf: ['kmeans++', 'random'] },
        maxIter: INTEGER,
        tol: { type: 'number' },
        batchSize: { ...INTEGER, optional: true },
      },
    },
    k: { type: 'integer', min: 1, max: 1 << 24 },
    dim: { type: 'integer', min: 1 },
    meta: { type: 'object' },
    stats: {
      type: 'object',
      fields: {
        // NaN and Infinity come back from JSON as null
        inertia: { type: 'number', nullable: true },
        iterations: { type: 'integer', min: 0 },
        inertiaHistory: { type: 'array', items: { type: 'number', nullable: true } },
      },
    },
  },
};

/** A codebook file's header once CODEBOOK_HEADER passed. */
interface StoredHeader {
  options: QuantizerJSON['options'];
  k: number;
  dim: number;
  meta: Record<string, unknown>;
  stats: { inertia: number | null; iterations: number; inertiaHistory: number[] };
}
