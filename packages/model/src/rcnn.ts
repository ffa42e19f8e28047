import * as tf from '@tensorflow/tfjs-core';
import { assertInt, crc32, evaluateLogProb, fail, ownValue, Rng, stackFrames } from '@vqvid/core';
import type { CodeEvaluation, CodeGeometry, CodeModel, CodeStepper, CodeVolume, DecoderName, FrameRenderer, SteppableModel, Video } from '@vqvid/core';
import { ModelConfig, ModelOptions, resolveConfig } from './config';
import { asFileFormat, readStore, writeStore } from './persist';
import { ADAPT_FROM, type AsyncStepper, checkStoredWeights, ModelParts } from './parts';
export type { AsyncStepper } from './parts';
import { chooseCodes, PredictOptions, resolvePredict } from './sample';
import { candidatePosterior, FilledFrame, fillGap, FillOptions } from './fill';
import { fitModel, FitOptions, FitResult, withPriorCountedOn } from './train';
import { cellFeatures, CellFeatures, FeatureOptions } from './features';
import { type AsyncTopSource, topCandidates, topCandidatesAsync, type TopCandidates } from './output';
import { driveAsync, driveSync } from './drive';

/**
 * Exact likelihood of codes under a model: core's {@link @vqvid/core!CodeEvaluation | CodeEvaluation}.
 * @deprecated use `CodeEvaluation` of @vqvid/core (the same fields).
 * @example
 * ```ts
 * const { bitsPerCode, count }: EvaluateResult = m.evaluate(testCodes);
 * ```
 */
export type EvaluateResult = CodeEvaluation;

/**
 * Predicted distribution of the next frame, per cell.
 * @example
 * ```ts
 * const d: NextDistribution = m.predictDistribution(codes);
 * const pOfCode7AtCell0 = d.probs![0 * d.k + 7];
 * ```
 */
export interface NextDistribution {
  /** Grid rows of the predicted frame (cells), as in the context codes. */
  rows: number;
  /** Grid columns of the predicted frame (cells), as in the context codes. */
  cols: number;
  /** Number of codes K each cell's distribution is over. */
  k: number;
  /** Entropy of each cell's distribution in bits, [rows*cols] row-major. */
  entropy: Float32Array;
  /** Probabilities [rows*cols, k] row-major (absent when `{ probs: false }`). */
  probs?: Float32Array;
}

/**
 * The inside of every model, for this package's internals (training, filling, tests) only. One map per process,
 * kept on globalThis: the CJS bundles of the entries (index, internals, onnx) each carry their own copy of this
 * module, and a model made through one must be found through another.
 */
const PARTS: WeakMap<RCNN, ModelParts> = ((globalThis as Record<symbol, unknown>)[Symbol.for('@vqvid/model/parts')] ??= new WeakMap<RCNN, ModelParts>()) as WeakMap<RCNN, ModelParts>;

/**
 * The inside of a model (network, output layer, weight I/O, recurrent steps); exported only through
 * `@vqvid/model/internals`, for tests and extensions.
 * @example
 * ```ts
 * import { partsOf } from '@vqvid/model/internals';
 * const weights = partsOf(model).exportWeights();
 * ```
 */
export function partsOf(model: RCNN): ModelParts {
  const parts = PARTS.get(model);
  if (!parts) fail('E_STATE', 'model', 'an RCNN or RNN', model);
  return parts;
}

/** Model classes by the name written into saved files, to rebuild the right class on load. */
const CLASSES: Record<string, typeof RCNN> = {};

/**
 * The recurrent convolutional network of Ranzato et al. 2014: a language model over a grid of patch codes.
 * Each code of frame t is embedded, a conv stage mixes a `kernel`-wide neighbourhood over `layers` layers, a
 * per-cell (1x1) recurrent state carries the past, and an output layer gives ln p(code of frame t+1) per cell.
 * @example
 * ```ts
 * await initBackend();
 * const m = new RCNN({ k: 1024, softmax: 'factored' });
 * await m.fit(trainCodes, { epochs: 5, validation: valCodes });
 * console.log(m.evaluate(testCodes).bitsPerCode);
 * const next = m.predictNext(testCodes);
 * ```
 */
export class RCNN implements CodeModel, SteppableModel {
  /** Kernel forced by a subclass (the RNN baseline pins it to 1). */
  protected static readonly fixedKernel: number | undefined = undefined;
  /** Name written into saved files (not `constructor.name`, which bundlers may mangle). */
  protected static readonly modelName: string = 'RCNN';
  /** The resolved options (defaults filled in). */
  readonly config: ModelConfig;
  private readonly parts: ModelParts;
  /** History of the last {@link RCNN.fit} (per-epoch losses and validation). */
  history_: FitResult | null = null;

  /**
   * Creates an untrained model with freshly initialised weights (seeded by `opts.seed`); throws E_RANGE on bad options.
   * @param opts model options; `k` is required, every other field has a default (see {@link ModelOptions}).
   */
  constructor(opts: ModelOptions) {
    this.config = resolveConfig(opts, (new.target as typeof RCNN).fixedKernel);
    this.parts = new ModelParts(this.config);
    PARTS.set(this, this.parts);
  }

  /**
   * Trains the model (truncated BPTT on random crops, Adam, clipping, lr decay, early stopping, checkpoints).
   * @param codes training codes: one CodeVolume or several (same k; grids may differ).
   * @param opts see {@link FitOptions}.
   * @returns per-epoch history and why training stopped.
   * @example
   * ```ts
   * const r = await m.fit(codes, { epochs: 10, validation: val, patience: 2, checkpointDir: 'ckpt' });
   * ```
   */
  async fit(codes: CodeVolume | CodeVolume[], opts: FitOptions = {}): Promise<FitResult> {
    const volumes = Array.isArray(codes) ? codes : [codes];
    if (volumes.length === 0) fail('E_SHAPE', 'codes', 'at least one CodeVolume', volumes);
    volumes.forEach((v, i) => this.parts.checkCodes(v, volumes.length > 1 ? `codes[${i}]` : 'codes', 2));
    this.parts.recordCodebook(volumes);
    this.history_ = await fitModel(this.parts, volumes, opts);
    return this.history_;
  }

  /**
   * Exact likelihood of `codes` (one volume or several, summarised together): every cell of frames 1..T-1,
   * each frame conditioned on all frames before it (frame 0 only conditions, as in the n-gram baselines).
   * @example
   * ```ts
   * const { bitsPerCode, perplexity } = m.evaluate(testCodes);
   * ```
   */
  evaluate(codes: CodeVolume | CodeVolume[]): CodeEvaluation {
    return evaluateLogProb(this, codes);
  }

  /**
   * Runs `fn()` with the copy-aware output's counted prior recounted on `codes` only (same kind and strengths), then
   * restores it; as it is without a counted prior. Choose anything fitted to the model's predictions (a decoder,
   * its alpha) on frames the prior has not counted: `fit` counts every training frame, and a prior that has counted
   * a frame's exact contexts predicts that frame far better than any new one, so choices made there do not carry
   * over. Pass the frames before those you choose on.
   * @example
   * ```ts
   * const dist = m.withPriorCountedOn(sliceCodes(train, 0, t0), () => m.predictDistribution(sliceCodes(train, 0, t0 + 1)));
   * ```
   */
  withPriorCountedOn<T>(codes: CodeVolume | CodeVolume[], fn: () => T): T {
    const list = Array.isArray(codes) ? codes : [codes];
    if (list.length === 0) fail('E_SHAPE', 'codes', 'at least one CodeVolume', list);
    list.forEach((v, i) => this.parts.checkCodes(v, list.length > 1 ? `codes[${i}]` : 'codes', 2));
    return withPriorCountedOn(this.parts, list, fn);
  }

  /**
   * Checksum of the codebook (`PatchCodec.checksum`) of the codes the model was trained on, saved with it; null
   * when those codes did not carry one. Codes of another codebook are refused with E_SHAPE.
   * @example
   * ```ts
   * if (model.codebook !== codec.checksum) throw new Error('this model was trained on another codebook');
   * ```
   */
  get codebook(): string | null {
    return this.parts.codebook;
  }

  /**
   * K, the number of codes ({@link @vqvid/core!CodeModel | CodeModel}'s `k`): `config.k`.
   * @example
   * ```ts
   * new RCNN({ k: 1024 }).k; // 1024
   * ```
   */
  get k(): number {
    return this.config.k;
  }

  /**
   * ln p of every predicted cell: frames 1..T-1, frame-major then row-major ((T-1)*rows*cols values).
   * @example
   * ```ts
   * const lp = m.logProb(codes); // Float64Array, nats
   * ```
   */
  logProb(codes: CodeVolume): Float64Array {
    return this.parts.logProb(codes);
  }

  /**
   * Per-cell features of every frame of `codes`, for linear probes and other downstream uses of the model as an
   * unsupervised feature learner. `layer: 'hidden'` (default): the recurrent state after reading frames 0..t,
   * which the output layer reads to predict frame t+1; `'input-drive'`: the conv stage over frame t's code
   * neighbourhood before the recurrence (no temporal context). See `FeatureLayer`.
   * @param codes ≥ 1 frame of this model's k (E_SHAPE otherwise); 'hidden' at frame t depends on frames 0..t of
   * `codes` only, so slicing the codes changes the context.
   * @param opts `layer` (E_RANGE for an unknown one).
   * @returns `data` [frames, rows, cols, dims] frame-major (Float32Array of frames·rows·cols·dims values).
   * @example
   * ```ts
   * const { data, dims } = m.features(codes, { layer: 'hidden' }); // dims = config.hidden (+ hiddenCoarse with scales: 2)
   * const cell = (t: number, i: number) => data.subarray((t * codes.rows * codes.cols + i) * dims, (t * codes.rows * codes.cols + i + 1) * dims);
   * ```
   */
  features(codes: CodeVolume, opts?: FeatureOptions): CellFeatures {
    return cellFeatures(this.parts, codes, opts);
  }

  /**
   * The next frame after `context` (one CodeVolume frame): per-cell argmax or a seeded sample.
   * @param context ≥ 1 frame; its last frame is the present.
   * @example
   * ```ts
   * const next = m.predictNext(codes, { mode: 'sample', temperature: 0.8, topK: 20, seed: 3 });
   * ```
   */
  predictNext(context: CodeVolume, opts?: PredictOptions): CodeVolume {
    return this.generate(context, 1, opts);
  }

  /**
   * Per-cell distribution of the next frame: entropy in bits (for uncertainty heat maps) and probabilities.
   * @param opts `probs: false` skips the [cells, k] probability array.
   * @example
   * ```ts
   * const { entropy } = m.predictDistribution(codes, { probs: false });
   * ```
   */
  predictDistribution(context: CodeVolume, opts: { probs?: boolean } = {}): NextDistribution {
    this.parts.checkCodes(context, 'context', 1);
    const { rows, cols } = context;
    const { h, offsets } = this.parts.contextState(context);
    const logp = this.parts.withOffsets(offsets, () => this.parts.nextLogProbs(h, lastFrame(context), rows, cols));
    const k = this.config.k;
    const entropy = new Float32Array(rows * cols);
    const probs = new Float32Array(logp.length);
    for (let i = 0; i < rows * cols; i++) {
      let e = 0;
      for (let c = 0; c < k; c++) {
        const p = Math.exp(logp[i * k + c]);
        probs[i * k + c] = p;
        if (p > 0) e -= p * logp[i * k + c];
      }
      entropy[i] = e / Math.LN2;
    }
    return opts.probs === false ? { rows, cols, k, entropy } : { rows, cols, k, entropy, probs };
  }

  /**
   * A {@link @vqvid/core!CodeStepper | CodeStepper} over a rows × cols grid that carries the recurrent state:
   * fed frame t, it returns the probabilities of frame t+1 given frames 0..t, the same numbers as
   * `predictDistribution(frames 0..t).probs` (the same tensor ops in the same order). Its identity names the
   * class, a CRC-32 of the config and every weight, and the tfjs backend (`tf.getBackend()`): entropy coding
   * needs encoder and decoder to agree bit for bit, which is only known within one backend.
   * @example
   * ```ts
   * const s = m.stepper(codes.rows, codes.cols);
   * const p1 = s.next(frame0); // Float32Array(rows·cols·k), p(frame 1 | frame 0)
   * const p2 = s.next(frame1); // p(frame 2 | frames 0, 1)
   * s.dispose();
   * ```
   */
  stepper(rows: number, cols: number): CodeStepper {
    assertInt(rows, 'rows', 1);
    assertInt(cols, 'cols', 1);
    const k = this.config.k;
    const parts = this.parts;
    const identity = { kind: (this.constructor as typeof RCNN).modelName.toLowerCase(), checksum: this.weightsChecksum(), backend: tf.getBackend() };
    let h: tf.Tensor2D | null = null;
    let before: Int32Array | null = null;
    let read = 0; // frames read so far
    const online = parts.onlineGate();
    return {
      k,
      rows,
      cols,
      identity,
      next(frame: ArrayLike<number>): Float32Array {
        const now = Int32Array.from(frame);
        parts.checkCodes({ rows, cols, frames: 1, k, codes: now }, 'frame', 1);
        // from ADAPT_FROM frames read on, the state and the frame before exist
        if (online && read >= ADAPT_FROM) parts.observe(online, h!, before!, now, rows, cols);
        h = parts.step(h, now, rows, cols, true);
        read++;
        before = now;
        const state = h;
        return probsOf(parts.withOffsets(online ? online.offsets : null, () => parts.nextLogProbs(state, now, rows, cols, false)));
      },
      dispose(): void {
        h?.dispose();
        h = null;
      },
    };
  }

  /** CRC-32 of the config and every weight (by name), as 8 hex digits. */
  private weightsChecksum(): string {
    const weights = this.parts.exportWeights();
    let c = crc32(new TextEncoder().encode(JSON.stringify(this.config)));
    const words = [c];
    for (const name of Object.keys(weights).sort()) {
      const a = weights[name];
      words.push(crc32(new TextEncoder().encode(name)), crc32(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)));
    }
    c = crc32(new Uint8Array(Uint32Array.from(words, (w) => w >>> 0).buffer));
    return c.toString(16).padStart(8, '0');
  }

  /**
   * `steps` frames after `context`, each predicted from the context and the frames generated before it.
   * @example
   * ```ts
   * const future = m.generate(codes, 10, { mode: 'sample', seed: 1 }); // CodeVolume of 10 frames
   * ```
   */
  generate(context: CodeVolume, steps: number, opts?: PredictOptions): CodeVolume {
    this.parts.checkCodes(context, 'context', 1);
    assertInt(steps, 'steps', 1);
    const p = resolvePredict(opts, this.config.k, this.config.seed);
    const rng = new Rng(p.seed);
    const n = context.rows * context.cols;
    const out = new Int32Array(steps * n);
    const start = this.parts.contextState(context);
    let h = start.h;
    let present: ArrayLike<number> = lastFrame(context);
    for (let s = 0; s < steps; s++) {
      const [state, here] = [h, present];
      const logp = this.parts.withOffsets(start.offsets, () => this.parts.nextLogProbs(state, here, context.rows, context.cols, s === steps - 1));
      const frame = chooseCodes(logp, this.config.k, p, rng);
      present = frame;
      out.set(frame, s * n);
      if (s < steps - 1) h = this.parts.step(h, frame, context.rows, context.cols, true);
    }
    return { rows: context.rows, cols: context.cols, frames: steps, k: this.config.k, codes: out };
  }

  /**
   * `steps` frames after `context` in pixels: each step's per-cell distribution is rendered by `opts.codec`
   * (e.g. a `PatchCodec`) with `opts.decoder`, the frame before standing for "same code" (the last real frame
   * for step 1, the rendered frame before for later steps); later steps continue from the argmax codes.
   * `context` must carry the geometry its codes were encoded with. Pixels 0..255, not clamped.
   * @param opts `codec` (a {@link @vqvid/core!FrameRenderer | FrameRenderer}), `reference` (video whose last frame is the frame of
   * `context`'s last codes), `decoder` (default 'mbr'), `alpha` and `topM` (see `decodeCells` in @vqvid/quantize);
   * each step's top M codes per cell are found without scoring all K codes where the output layer allows it
   * (`dense: true` scores all; `classBeam` trades exactness for speed with the factored softmax).
   * @example
   * ```ts
   * const next = m.predictFrames(context, 1, { codec, reference: lastFrame, decoder: 'mean', alpha: 0.6 });
   * ```
   */
  predictFrames(context: CodeVolume, steps: number, opts: RenderOptions): Video {
    this.parts.checkCodes(context, 'context', 1);
    assertInt(steps, 'steps', 1);
    const geometry = geometryOf(context);
    const { rows, cols } = context;
    const start = this.parts.contextState(context);
    return this.parts.withOffsets(start.offsets, () =>
      driveSync(this.framesFrom(context, steps, opts, geometry, start.h), (r) =>
        r.kind === 'top' ? this.topOf(r.h, r.present, rows, cols, opts) : this.parts.step(r.h, r.codes, rows, cols, false),
      ),
    );
  }

  /**
   * {@link RCNN.predictFrames} with each step's top M codes from `source`, an {@link AsyncTopSource} that scores
   * the output layer outside tfjs (e.g. `OnnxOutput` of `@vqvid/model/onnx`, a native ONNX runtime): the recurrent
   * step, the mixture's gates and search, the decoder and the rendering stay here. The frames are those of
   * predictFrames up to the float rounding of the two runtimes (lists are exact in both; codes whose
   * probabilities differ by rounding alone may swap). Needs a codec with `decodeCandidates`. With a `stepper`
   * (e.g. `OnnxStep`), every recurrent step runs there too: the context's frames and those between the predicted
   * frames.
   * @example
   * ```ts
   * const onnx = await OnnxOutput.create(model);
   * const next = await model.predictFramesAsync(context, 1, { codec, reference: lastFrame, source: onnx });
   * ```
   */
  async predictFramesAsync(context: CodeVolume, steps: number, opts: RenderOptions & { source: AsyncTopSource; stepper?: AsyncStepper }): Promise<Video> {
    this.parts.checkCodes(context, 'context', 1);
    assertInt(steps, 'steps', 1);
    if (typeof opts.codec?.decodeCandidates !== 'function') fail('E_STATE', 'opts.codec', 'a renderer with decodeCandidates (the source gives top lists)', opts.codec);
    const geometry = geometryOf(context);
    const { rows, cols } = context;
    const m = Math.min(opts.topM ?? DEFAULT_RENDER_TOP_M, this.config.k);
    const start = opts.stepper ? await this.parts.contextStateAsync(context, opts.stepper) : this.parts.contextState(context);
    return driveAsync(this.framesFrom(context, steps, opts, geometry, start.h), async (r): Promise<TopCandidates | tf.Tensor2D> => {
      if (r.kind === 'step') {
        if (!opts.stepper) return this.parts.step(r.h, r.codes, rows, cols, false);
        const next = await opts.stepper.stepAsync(r.h.dataSync() as Float32Array, Int32Array.from(r.codes), rows, cols);
        return tf.tensor2d(next, r.h.shape);
      }
      const presentTensor = this.parts.presentTensor(r.present, rows, cols);
      try {
        return await topCandidatesAsync(this.parts.output, r.h, r.present, presentTensor, m, opts.source, start.offsets);
      } finally {
        presentTensor?.dispose();
      }
    });
  }

  /**
   * The loop of {@link RCNN.predictFrames} and {@link RCNN.predictFramesAsync} from the state `h` after `context`
   * (owned: freed at the end, or when a request fails): it asks its driver for each step's top lists ('top'; null
   * renders from all K probabilities) and for the state after each predicted frame but the last ('step').
   */
  private *framesFrom(context: CodeVolume, steps: number, opts: RenderOptions, geometry: CodeGeometry, h: tf.Tensor2D): Generator<FrameRequest, Video, TopCandidates | null | tf.Tensor2D> {
    const { rows, cols } = context;
    const n = rows * cols;
    const k = this.config.k;
    const frames: Video[] = [];
    let reference = opts.reference;
    let present: Int32Array = Int32Array.from(lastFrame(context));
    try {
      for (let s = 0; s < steps; s++) {
        const render = { geometry, reference, present, decoder: opts.decoder, alpha: opts.alpha, topM: opts.topM, changeRatio: opts.changeRatio, search: opts.search };
        const top = (yield { kind: 'top', h, present }) as TopCandidates | null;
        let frame: Video;
        let codes: Int32Array;
        if (top) {
          // the decoders read only each cell's top M and its present code: the same frame as from all K probabilities
          frame = opts.codec.decodeCandidates!({ rows, cols, k, ...top }, render);
          codes = Int32Array.from({ length: n }, (_, i) => top.codes[i * top.m]);
        } else {
          const probs = probsOf(this.parts.nextLogProbs(h, present, rows, cols, false));
          frame = opts.codec.decodeDistribution({ rows, cols, k, probs }, render);
          codes = argmaxCodes(probs, n, k);
        }
        frames.push(frame);
        reference = frame;
        present = codes;
        if (s < steps - 1) {
          const last = h;
          h = (yield { kind: 'step', h: last, codes }) as tf.Tensor2D;
          last.dispose();
        }
      }
    } finally {
      h.dispose();
    }
    return stackFrames(frames);
  }

  /**
   * Each cell's top M candidates (M = opts.topM, default 16) when the renderer takes them and the output layer
   * finds them without all K probabilities; null (use the dense path) otherwise, with `dense: true`, or
   * when a list is not provably exact and no `classBeam` allows that.
   */
  private topOf(h: tf.Tensor2D, present: ArrayLike<number>, rows: number, cols: number, opts: RenderOptions): TopCandidates | null {
    if (opts.dense === true || typeof opts.codec.decodeCandidates !== 'function') return null;
    const k = this.config.k;
    const m = Math.min(opts.topM ?? DEFAULT_RENDER_TOP_M, k);
    const codes = Int32Array.from(present);
    const presentTensor = this.parts.presentTensor(codes, rows, cols);
    let top: TopCandidates | null;
    try {
      top = topCandidates(this.parts.output, h, codes, presentTensor, m, opts.classBeam ?? Infinity);
    } finally {
      presentTensor?.dispose();
    }
    if (!top || (opts.classBeam === undefined && !top.exact.every((e) => e === 1))) return null;
    return top;
  }

  /**
   * The missing frame(s) between `before` and `after` in pixels: {@link RCNN.fillDistributions}' posteriors
   * rendered by `opts.codec`. Missing frame j of n stands for "same code as before" by the linear interpolation
   * of the two known frames at j/(n+1) (the midpoint when n = 1).
   * @param opts as in {@link RCNN.predictFrames}, with `reference` the frame before the gap and `next` the frame
   * after it (pixels), plus the fill's `candidates`, `sweeps` and `missing`.
   * @returns a Video of `missing` frames (default 1).
   * @example
   * ```ts
   * const mid = m.fillFrame(sliceCodes(codes, 0, t), sliceCodes(codes, t + 1, t + 2), { codec, reference: prev, next, decoder: 'mbr' });
   * ```
   */
  fillFrame(before: CodeVolume, after: CodeVolume, opts: RenderOptions & FillOptions & { next: Video }): Video {
    const geometry = geometryOf(before);
    const a = opts.reference;
    const b = opts.next;
    if (!b || !a || b.width !== a.width || b.height !== a.height) fail('E_SHAPE', 'next', `a frame of ${a?.width} x ${a?.height} like reference`, b && `${b.width} x ${b.height}`);
    const dists = this.fillDistributions(before, after, opts);
    const size = a.width * a.height;
    const pa = a.data.subarray((a.frames - 1) * size);
    const pb = b.data.subarray(0, size);
    let present: ArrayLike<number> = lastFrame(before);
    // the motion search looks in both real frames around the gap
    const sources: Video = { width: a.width, height: a.height, frames: 2, data: new Float32Array(2 * size) };
    sources.data.set(pa);
    sources.data.set(pb, size);
    const frames = dists.map((dist, j) => {
      const w = (j + 1) / (dists.length + 1);
      const mid: Video = { width: a.width, height: a.height, frames: 1, data: Float32Array.from(pa, (v, i) => (1 - w) * v + w * pb[i]) };
      const probs = dist.probs!;
      const frame = opts.codec.decodeDistribution({ rows: dist.rows, cols: dist.cols, k: dist.k, probs }, { geometry, reference: mid, present, decoder: opts.decoder, alpha: opts.alpha, topM: opts.topM, changeRatio: opts.changeRatio, search: opts.search, sources });
      present = argmaxCodes(probs, dist.rows * dist.cols, dist.k);
      return frame;
    });
    return stackFrames(frames);
  }

  /**
   * The missing frame(s) between `before` (its last frame is t−1; earlier frames are context) and `after` (its
   * first frame is the known frame after the gap). One missing frame t maximises ln p(x_t | past) +
   * ln p(x_{t+1} | past, x_t) by coordinate ascent over the top-M candidates of each cell; with `missing: n` the
   * search starts from the model's roll-out and each sweep visits the n frames in order, frame j scored by its own
   * term and the next frame's (see the README for method and cost: about n times the one-frame fill per sweep).
   * @returns a CodeVolume of `missing` frames (default 1).
   * @example
   * ```ts
   * const mid = m.fill(sliceCodes(codes, 0, 5), sliceCodes(codes, 6, 7), { candidates: 8, sweeps: 3 });
   * const gap = m.fill(sliceCodes(codes, 0, 1), sliceCodes(codes, 4, 5), { missing: 3 }); // frames 1, 2, 3
   * ```
   */
  fill(before: CodeVolume, after: CodeVolume, opts?: FillOptions): CodeVolume {
    const found = this.fillSearch(before, after, opts, false);
    const n = before.rows * before.cols;
    const codes = new Int32Array(found.length * n);
    found.forEach((f, j) => codes.set(f.codes.codes, j * n));
    return { rows: before.rows, cols: before.cols, frames: found.length, k: this.config.k, codes };
  }

  /**
   * The posterior of the missing frame of {@link RCNN.fill} per cell, for decoders that weigh candidates:
   * over each cell's M candidates, p(x_t,i = c) ∝ exp(S) with S the fill score of candidate c given every
   * other cell at its filled code (zero outside the candidates); `entropy` in bits. One missing frame only
   * (E_RANGE otherwise): {@link RCNN.fillDistributions} gives one per missing frame.
   * @example
   * ```ts
   * const { probs } = m.fillDistribution(sliceCodes(codes, 0, 5), sliceCodes(codes, 6, 7));
   * ```
   */
  fillDistribution(before: CodeVolume, after: CodeVolume, opts?: FillOptions): NextDistribution {
    if (opts?.missing !== undefined && opts.missing !== 1) fail('E_RANGE', 'opts.missing', '1 (fillDistributions gives one distribution per missing frame)', opts.missing);
    return this.fillDistributions(before, after, opts)[0];
  }

  /**
   * {@link RCNN.fillDistribution} for a gap of `opts.missing` frames: one per-cell posterior per missing frame,
   * each over its cells' candidates given the other frames as filled.
   * @example
   * ```ts
   * const [d1, d2, d3] = m.fillDistributions(sliceCodes(codes, 0, 1), sliceCodes(codes, 4, 5), { missing: 3 });
   * ```
   */
  fillDistributions(before: CodeVolume, after: CodeVolume, opts?: FillOptions): NextDistribution[] {
    const k = this.config.k;
    const n = before.rows * before.cols;
    return this.fillSearch(before, after, opts, true).map((found) => {
      const probs = candidatePosterior(found, k);
      const entropy = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let e = 0;
        for (let j = 0; j < found.m; j++) {
          const p = probs[i * k + found.candidates[i * found.m + j]];
          if (p > 0) e -= p * Math.log2(p);
        }
        entropy[i] = e;
      }
      return { rows: before.rows, cols: before.cols, k, entropy, probs };
    });
  }

  private fillSearch(before: CodeVolume, after: CodeVolume, opts: FillOptions | undefined, withScores: boolean): FilledFrame[] {
    this.parts.checkCodes(before, 'before', 1);
    this.parts.checkCodes(after, 'after', 1);
    if (after.rows !== before.rows || after.cols !== before.cols) {
      fail('E_SHAPE', 'after', `a ${before.rows}x${before.cols} grid like before`, `${after.rows}x${after.cols}`);
    }
    const { h, offsets } = this.parts.contextState(before);
    try {
      return this.parts.withOffsets(offsets, () => fillGap(this.parts, h, lastFrame(before), before.rows, before.cols, after.codes.subarray(0, before.rows * before.cols), opts, withScores));
    } finally {
      h.dispose();
    }
  }

  /**
   * Saves config and weights into `dir` (created if needed) as one checksummed, versioned file, atomically.
   * @example
   * ```ts
   * await m.save('models/rcnn'); const again = await RCNN.load('models/rcnn');
   * ```
   */
  async save(dir: string): Promise<void> {
    const header = { className: (this.constructor as typeof RCNN).modelName, config: this.config, output: this.parts.output.toJSON(), codebook: this.parts.codebook };
    await writeStore(dir, 'model', header, this.parts.exportWeights());
  }

  /**
   * Loads a model saved by {@link RCNN.save} (an RCNN or an RNN, as saved). E_NOT_FOUND, E_FORMAT (corrupt, a
   * malformed header, or weights that do not match the config, all found before anything is built) or
   * E_VERSION (other format version) otherwise.
   * @example
   * ```ts
   * const m = await RCNN.load('models/rcnn');
   * ```
   */
  static async load(dir: string): Promise<RCNN> {
    const { header, arrays, file } = await readStore(dir, 'model');
    // everything the file claims is checked before a tensor is built: a few hundred bytes of header must not
    // make the loader allocate the gigabytes of weights its config implies
    const { Ctor, config } = asFileFormat(file, () => {
      const Ctor = ownValue(CLASSES, header.className);
      if (!Ctor) fail('E_FORMAT', 'header.className', `one of ${Object.keys(CLASSES).join(', ')}`, header.className);
      // files from before the copy-aware output hold plain-softmax models; from before online adaptation, gates as trained
      const config = resolveConfig({ copy: false, prior: 'none', adapt: false, ...(header.config as ModelOptions) }, Ctor.fixedKernel);
      checkStoredWeights(config, header.output as Record<string, unknown>, arrays, file);
      return { Ctor, config };
    });
    const m = new Ctor({ ...config, adapt: config.adapt ?? false });
    try {
      asFileFormat(file, () => {
        m.parts.buildOutput(undefined, header.output as Record<string, unknown>);
        m.parts.importWeights(arrays, file);
      });
    } catch (e) {
      m.dispose();
      throw e;
    }
    // files from before codes carried their codebook's checksum have none: such a model checks nothing
    m.parts.codebook = (header.codebook as string | null | undefined) ?? null;
    return m;
  }

  /** Frees the model's tensors; the object is unusable afterwards. */
  dispose(): void {
    this.parts.dispose();
  }

}

/** The codes of the last frame of `codes`. */
function lastFrame(codes: CodeVolume): CodeVolume['codes'] {
  const n = codes.rows * codes.cols;
  return codes.codes.subarray((codes.frames - 1) * n, codes.frames * n);
}


/** The geometry of context codes, which rendering to pixels needs (E_SHAPE without). */
function geometryOf(codes: CodeVolume): CodeGeometry {
  if (codes.geometry === undefined) fail('E_SHAPE', 'context.geometry', 'the geometry the codes were encoded with (PatchCodec.encode sets it)', undefined);
  return codes.geometry;
}

/** What the prediction loop (`RCNN.framesFrom`) asks its driver for: a step's top lists, or the state after a step's codes. */
type FrameRequest = { kind: 'top'; h: tf.Tensor2D; present: Int32Array } | { kind: 'step'; h: tf.Tensor2D; codes: Int32Array };

/** Candidates per cell of the decoders when `topM` is not given (decodeCells' default). */
const DEFAULT_RENDER_TOP_M = 16;

/** exp of a [cells, k] log-probability array (a plain loop: Float32Array.from with a map function is ~30x slower). */
function probsOf(logp: Float32Array): Float32Array {
  const out = new Float32Array(logp.length);
  for (let i = 0; i < logp.length; i++) out[i] = Math.exp(logp[i]);
  return out;
}

/** Most probable code per cell (ties → lowest code). */
function argmaxCodes(probs: Float32Array, n: number, k: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + best]) best = c;
    out[i] = best;
  }
  return out;
}


/**
 * How {@link RCNN.predictFrames} and {@link RCNN.fillFrame} render distributions into pixels.
 * @example
 * ```ts
 * const opts: RenderOptions = { codec, reference: lastFrame, decoder: 'mbr', alpha: 0.5 };
 * ```
 */
export interface RenderOptions {
  /** What renders a distribution into a frame (a `PatchCodec` of @vqvid/quantize). */
  codec: FrameRenderer;
  /** Video (0..255) whose last frame is the frame of the context's last codes. */
  reference: Video;
  /** Decoder (default 'mbr'). */
  decoder?: DecoderName;
  /** Stand-in shrink in [0, 1] (default 1). */
  alpha?: number;
  /** Candidates per cell (default 16). */
  topM?: number;
  /**
   * true: materialise all K probabilities of every cell (the path before, kept for comparison). Default false:
   * when the output layer and the codec can, {@link RCNN.predictFrames} finds each cell's top M codes without them
   * (exact: the same candidates and frame up to float rounding of the probabilities).
   */
  dense?: boolean;
  /**
   * Factored softmax only, an opt-in approximation: search each cell's top codes in at most this many of its most
   * probable classes (default: as many as exactness needs, up to all). Cheaper when class probabilities are flat;
   * the candidates' probabilities stay exact, a code of an unvisited class can be missed.
   */
  classBeam?: number;
  /** 'mbr' only, in (0, 1]: change a cell only when that cuts its expected error below this factor × keeping it (default 1). */
  changeRatio?: number;
  /**
   * Motion search radius in pixels, 0..16 (default 0: off): a changed code is rendered as the nearby moved patch
   * nearest its centroid, searched in the frame before (predictions) or in both frames around the gap (fills).
   */
  search?: number;
}

/**
 * The paper's per-location baseline: the same recurrent model with a 1x1 input (kernel 1, no spatial
 * context), so each cell sees only its own history.
 * @example
 * ```ts
 * const rnn = new RNN({ k: 1024 });
 * await rnn.fit(trainCodes, { epochs: 5 });
 * ```
 */
export class RNN extends RCNN {
  protected static override readonly fixedKernel: number | undefined = 1;
  protected static override readonly modelName: string = 'RNN';
}

CLASSES.RCNN = RCNN;
CLASSES.RNN = RNN;
