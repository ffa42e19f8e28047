import * as tf from '@tensorflow/tfjs-core';
import { assertCodeVolume, assertInt, fail, Rng, stackFrames, transitionCells, VqvidError } from '@vqvid/core';
import type { CodeGeometry, CodeVolume, StoredArray, Video } from '@vqvid/core';
import { assembleBatch, type BatchGeometry, batchGeometry, cropRegion, epochPlan, epochSeed } from './batch';
import { type CellKind, receptiveRadius, resolveConfig } from './config';
import { batchDropout } from './dropout';
import { Network } from './network';
import { asFileFormat, readStore, takeF32, writeStore } from './persist';
import { readTidy } from './read';
import { applyClipped } from './step';
import { DEFAULT_FIT_OPTIONS, resolveSchedule, type FitOptions } from './train';

/**
 * Options of a {@link PatchRegressor}: the RCNN's body options (same defaults) plus the patch width `dim`.
 * @example
 * ```ts
 * const opts: RegressorOptions = { k: 1024, dim: 64, embedDim: 64, hidden: 96, dropout: 0.25 };
 * ```
 */
export interface RegressorOptions {
  /** Number of codes K the body reads; codes are integers in [0, k). */
  k: number;
  /** Values per predicted patch: patch·patch of the codec (64 for 8x8 patches). */
  dim: number;
  /** Width of the code embedding (default 128, as the RCNN). */
  embedDim?: number;
  /** Width of the per-cell recurrent state and of the hidden conv layers (default 128). */
  hidden?: number;
  /** Side of the square conv kernel in cells, odd (default 3). */
  kernel?: number;
  /** Number of conv layers (default 2). */
  layers?: number;
  /** Recurrent cell: 'tanh' (default) or 'gru'. */
  cell?: CellKind;
  /** Dropout rate in [0, 0.95] on the embedded codes and on the state the head reads, during training (default 0). */
  dropout?: number;
  /** Seed of every random choice (initialisation, crops, dropout masks); default 1. */
  seed?: number;
}

/**
 * {@link RegressorOptions} with every default filled in; what a saved regressor records.
 * @example
 * ```ts
 * const { dim, hidden }: RegressorConfig = new PatchRegressor({ k: 64, dim: 64 }).config;
 * ```
 */
export interface RegressorConfig {
  /** Number of codes K. */
  k: number;
  /** Values per predicted patch. */
  dim: number;
  /** Width of the code embedding. */
  embedDim: number;
  /** Width of the recurrent state and of the hidden conv layers. */
  hidden: number;
  /** Conv kernel side in cells. */
  kernel: number;
  /** Number of conv layers. */
  layers: number;
  /** Recurrent cell kind. */
  cell: CellKind;
  /** Training dropout rate. */
  dropout: number;
  /** Seed of every random choice. */
  seed: number;
}

/**
 * Training options of {@link PatchRegressor.fit}: the batch shape and schedule of the RCNN's
 * {@link FitOptions} (same defaults), with validation codes and their target patches.
 * @example
 * ```ts
 * const o: RegressorFitOptions = { bptt: 6, batch: 4, crop: 16, epochs: 10, stepsPerEpoch: 25, lr: 1e-2, validation: { codes, targets } };
 * ```
 */
export interface RegressorFitOptions extends Pick<FitOptions, 'bptt' | 'batch' | 'crop' | 'epochs' | 'stepsPerEpoch' | 'lr' | 'lrDecay' | 'clip' | 'onProgress'> {
  /** Learning rate multiplier after every epoch whose validation MSE did not improve; needs `validation` (default 1). */
  lrPlateau?: number;
  /** Codes and their patches, scored after every epoch: enables early stopping and best-weight keeping. */
  validation?: {
    /** Validation codes (≥ 2 frames, the model's k). */
    codes: CodeVolume;
    /** Their patches, [frames, rows, cols, dim] as the training targets. */
    targets: Float32Array;
  };
  /** Stop after this many epochs without a better validation MSE (default 3). */
  patience?: number;
}

/**
 * One epoch of a {@link RegressorFitResult}.
 * @example
 * ```ts
 * for (const e of (await reg.fit(codes, targets)).epochs) console.log(e.epoch, e.loss, e.valMse);
 * ```
 */
export interface RegressorEpoch {
  /** Index of the epoch, from 0. */
  epoch: number;
  /** Mean training loss (squared error per patch value, normalised units). */
  loss: number;
  /** Learning rate of the epoch. */
  lr: number;
  /** Validation MSE per patch value, when validation was given. */
  valMse?: number;
}

/**
 * What {@link PatchRegressor.fit} returns.
 * @example
 * ```ts
 * const { bestEpoch, steps } = await reg.fit(codes, targets, { validation: { codes: vc, targets: vt } });
 * ```
 */
export interface RegressorFitResult {
  /** One record per epoch run. */
  epochs: RegressorEpoch[];
  /** Epoch whose weights the model holds (the best validation epoch, else the last; -1 if none). */
  bestEpoch: number;
  /** Lowest validation MSE seen, when validation was given. */
  bestValMse?: number;
  /** 'completed' (all epochs) or 'early' (patience ran out). */
  stopped: 'completed' | 'early';
  /** Optimizer steps taken. */
  steps: number;
}

/**
 * What {@link PatchRegressor.predictFrames} needs of a codec: patches to pixels and pixels to codes (a
 * `PatchCodec` of @vqvid/quantize is one).
 * @example
 * ```ts
 * const renderer: PatchRenderer = codec; // a PatchCodec
 * ```
 */
export interface PatchRenderer {
  /** One frame (0..255, not clamped) from patches [cells*dim] in the codes' normalised units, overlaps averaged. */
  renderPatches(patches: Float32Array, geometry: CodeGeometry): Video;
  /** Codes of a video, its pixels divided by `options.std`. */
  encode(video: Video, options?: { std?: number }): Promise<CodeVolume>;
}

const CLASS_NAME = 'PatchRegressor';

/**
 * The pixel-regression baseline the paper names as future work: the RCNN's recurrent convolutional body
 * (embedding → conv stage → recurrent cell, reading the codes) with a linear head from each cell's state to
 * the next frame's patch at that cell, trained with a squared-error loss instead of a softmax over codes.
 * Targets are patches in the codec's normalised units (`PatchCodec.referencePatches(frame, geometry)`).
 * @example
 * ```ts
 * const reg = new PatchRegressor({ k: codec.k, dim: 64, embedDim: 64, hidden: 96 });
 * await reg.fit(codes, targets, { epochs: 10, validation: { codes: val, targets: valTargets } });
 * const next = await reg.predictFrames(context, 1, { codec });
 * reg.dispose();
 * ```
 */
export class PatchRegressor {
  /** Every option with its default filled in. */
  readonly config: RegressorConfig;
  private readonly net: Network;
  private readonly head: { w: tf.Variable; b: tf.Variable };
  private fresh = true;

  /**
   * A fresh regressor with seeded weights (the body drawn as the RCNN's, then the head). E_RANGE naming the
   * option when one is out of range.
   * @example
   * ```ts
   * const reg = new PatchRegressor({ k: 256, dim: 64, seed: 3 });
   * ```
   */
  constructor(options: RegressorOptions) {
    if (typeof options !== 'object' || options === null) fail('E_RANGE', 'options', 'an object with k and dim', options);
    assertInt(options.dim, 'dim', 1, 65536);
    const body = resolveConfig({ k: options.k, embedDim: options.embedDim, hidden: options.hidden, kernel: options.kernel, layers: options.layers, cell: options.cell, dropout: options.dropout, seed: options.seed, copy: false, prior: 'none' });
    const { k, embedDim, hidden, kernel, layers, cell, dropout, seed } = body;
    this.config = { k, dim: options.dim, embedDim, hidden, kernel, layers, cell, dropout, seed };
    const rng = new Rng(seed);
    this.net = new Network(body, rng);
    // a small head: the first fit sets the bias to the mean training patch, so training starts from the mean frame
    const w = new Float32Array(hidden * options.dim);
    const std = 0.1 / Math.sqrt(hidden);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
    this.head = { w: tf.variable(tf.tensor2d(w, [hidden, options.dim]), true), b: tf.variable(tf.zeros([options.dim]), true) };
  }

  /** Every trainable variable, in a fixed order. */
  private variables(): tf.Variable[] {
    return [...this.net.weights.map((w) => w.variable), this.head.w, this.head.b];
  }

  /**
   * Trains on `codes` and `targets`, the patches of every frame of `codes` ([frames, rows, cols, dim],
   * normalised units): the state after frame t predicts frame t+1's patches. Random crops and windows as the
   * RCNN's fit, Adam on the mean squared error, gradients clipped; with `validation` the best epoch's weights are kept.
   * @example
   * ```ts
   * const r = await reg.fit(codes, targets, { bptt: 6, batch: 4, epochs: 5, validation: { codes: val, targets: valTargets } });
   * ```
   */
  async fit(codes: CodeVolume, targets: Float32Array, options: RegressorFitOptions = {}): Promise<RegressorFitResult> {
    this.checkPair(codes, targets, 'codes', 'targets', 2);
    const o = resolveFit(options);
    if (o.validation) this.checkPair(o.validation.codes, o.validation.targets, 'validation.codes', 'validation.targets', 2);
    const g = batchGeometry([codes], o.bptt, o.batch, o.crop, receptiveRadius(this.config));
    const cellsPerStep = g.steps * g.batch * g.cropRows * g.cropCols;
    const stepsPerEpoch = o.stepsPerEpoch ?? Math.max(1, Math.round(transitionCells([codes]) / cellsPerStep));
    if (this.fresh) this.startHead(targets);
    const opt = tf.train.adam(o.lr);
    const internals = opt as unknown as { learningRate: number };
    const epochs: RegressorEpoch[] = [];
    let best: tf.Tensor[] | null = null;
    let bestMse = Infinity;
    let bestEpoch = -1;
    let bad = 0;
    let scale = 1;
    let steps = 0;
    let stopped: RegressorFitResult['stopped'] = 'completed';
    try {
      for (let e = 0; e < o.epochs; e++) {
        const lr = o.lr * Math.pow(o.lrDecay, e) * scale;
        internals.learningRate = lr;
        const plan = epochPlan([codes], g, stepsPerEpoch, new Rng(epochSeed(this.config.seed, e)));
        let sum = 0;
        for (let s = 0; s < stepsPerEpoch; s++) {
          const batch = assembleBatch([codes], g, plan, s);
          const patches = batchTargets(targets, codes, g, plan, s, this.config.dim);
          const loss = tf.tidy(() => {
            const { value, grads } = tf.variableGrads(() => this.batchLoss(g, batch.inputs, batch.mask, patches, epochSeed(this.config.seed ^ 0x6a09e667, steps)), this.variables());
            applyClipped(this.variables(), grads, opt, o.clip);
            return value.dataSync()[0];
          });
          if (!Number.isFinite(loss)) throw new VqvidError('E_STATE', `training diverged (loss ${loss}) at epoch ${e}; lower lr`);
          sum += loss;
          steps++;
          o.onProgress?.({ stage: 'train', done: e * stepsPerEpoch + s + 1, total: o.epochs * stepsPerEpoch, fraction: (e * stepsPerEpoch + s + 1) / (o.epochs * stepsPerEpoch), metrics: { loss, epoch: e } });
        }
        const rec: RegressorEpoch = { epoch: e, loss: sum / stepsPerEpoch, lr };
        if (o.validation) {
          rec.valMse = this.evaluate(o.validation.codes, o.validation.targets);
          if (rec.valMse < bestMse) {
            bestMse = rec.valMse;
            bestEpoch = e;
            bad = 0;
            best?.forEach((t) => t.dispose());
            best = this.variables().map((v) => v.clone());
          } else {
            bad++;
            scale *= o.lrPlateau;
          }
        }
        epochs.push(rec);
        o.onProgress?.({ stage: 'epoch', done: e + 1, total: o.epochs, metrics: { ...rec } as Record<string, number> });
        if (o.validation && bad >= o.patience) {
          stopped = 'early';
          break;
        }
      }
    } finally {
      opt.dispose();
    }
    if (best) {
      this.variables().forEach((v, i) => v.assign(best![i]));
      best.forEach((t) => t.dispose());
    }
    const result: RegressorFitResult = { epochs, bestEpoch: best ? bestEpoch : epochs.length - 1, stopped, steps };
    if (best) result.bestValMse = bestMse;
    return result;
  }

  /**
   * Mean squared error of one training batch (per patch value), as a scalar inside the caller's tidy: the
   * windows' states on the crop, dropout on what the head reads, the head, squared error to `patches`
   * ([steps, batch, cropRows, cropCols, dim]). Internal: the training loop and the gradient test share it.
   * @internal
   */
  batchLoss(g: BatchGeometry, inputs: Int32Array, mask: Float32Array | null, patches: Float32Array, seed: number): tf.Scalar {
    const er = g.cropRows + 2 * g.marginRows;
    const ec = g.cropCols + 2 * g.marginCols;
    const { hidden, dim, dropout: rate } = this.config;
    const x = tf.tensor3d(inputs, [g.steps * g.batch, er, ec], 'int32');
    const m = mask ? tf.tensor4d(mask, [g.steps * g.batch, er, ec, 1], 'float32') : null;
    // the states of the crop alone (its margins only feed the conv stack; see WindowRegion)
    const hs = this.net.window(x, m, g.steps, { rate, seed }, cropRegion(g));
    let crop = tf.reshape(hs, [-1, hidden]) as tf.Tensor2D;
    if (rate > 0) crop = batchDropout(crop, rate, seed ^ 0x9e3779b9, g.steps) as tf.Tensor2D;
    const pred = this.applyHead(crop);
    return tf.mean(tf.squaredDifference(pred, tf.tensor2d(patches, [pred.shape[0], dim]))) as tf.Scalar;
  }

  /** The linear head: states [n, hidden] → patches [n, dim]. */
  private applyHead(h: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(h, this.head.w as tf.Tensor2D), this.head.b) as tf.Tensor2D;
  }

  /** One recurrent step on a whole frame of codes (no tidy of its own: callers hold one). */
  private step(h: tf.Tensor2D | null, frame: ArrayLike<number>, rows: number, cols: number): tf.Tensor2D {
    const drive = this.net.inputDrive(tf.tensor3d(Int32Array.from(frame), [1, rows, cols], 'int32'), null);
    return this.net.cell(drive, h);
  }

  /** The state after every frame of `codes` from a zero state, [rows*cols, hidden]; `each(t, h)` sees every step. */
  private stateAfter(codes: CodeVolume, each?: (t: number, h: tf.Tensor2D) => void): tf.Tensor2D {
    const n = codes.rows * codes.cols;
    let h: tf.Tensor2D | null = null;
    for (let t = 0; t < codes.frames; t++) {
      const next: tf.Tensor2D = tf.tidy(() => this.step(h, codes.codes.subarray(t * n, (t + 1) * n), codes.rows, codes.cols));
      h?.dispose();
      h = next;
      each?.(t, h);
    }
    return h as tf.Tensor2D;
  }

  /**
   * The next frame's patches after `context` (any number of frames ≥ 1): Float32Array [rows*cols*dim],
   * cell-major, in the codec's normalised units.
   * @example
   * ```ts
   * const patches = reg.predictPatches(context); // compare with codec.referencePatches(nextFrame, context.geometry!)
   * ```
   */
  predictPatches(context: CodeVolume): Float32Array {
    this.checkCodes(context, 'context', 1);
    const h = this.stateAfter(context);
    const out = readTidy(() => this.applyHead(h));
    h.dispose();
    return out;
  }

  /**
   * `steps` frames after `context` in pixels: step 1 is the predicted patches rendered by `options.codec`
   * (overlaps averaged, times the codes' std); each later step reads the codes the codec gives the frame
   * rendered before, as if it were real, and predicts again. `context` must carry its geometry. Pixels 0..255, not clamped.
   * @example
   * ```ts
   * const frames = await reg.predictFrames(context, 10, { codec }); // codec: a PatchCodec
   * ```
   */
  async predictFrames(context: CodeVolume, steps: number, options: { codec: PatchRenderer; geometry?: CodeGeometry }): Promise<Video> {
    this.checkCodes(context, 'context', 1);
    assertInt(steps, 'steps', 1);
    if (typeof options !== 'object' || options === null || typeof options.codec?.renderPatches !== 'function' || typeof options.codec.encode !== 'function') {
      fail('E_RANGE', 'options.codec', 'a PatchRenderer (a PatchCodec: renderPatches and encode)', options?.codec);
    }
    const geometry = options.geometry ?? context.geometry;
    if (geometry === undefined) fail('E_SHAPE', 'context.geometry', 'the geometry encode attaches (or options.geometry)', geometry);
    if (geometry.patch * geometry.patch !== this.config.dim) fail('E_SHAPE', 'geometry.patch', `a patch of ${this.config.dim} values (the regressor's dim)`, geometry.patch);
    const frames: Video[] = [];
    let h = this.stateAfter(context);
    try {
      for (let s = 0; s < steps; s++) {
        const patches = readTidy(() => this.applyHead(h));
        const frame = options.codec.renderPatches(patches, geometry);
        frames.push(frame);
        if (s === steps - 1) break;
        const codes = await options.codec.encode(frame, { std: geometry.std });
        if (codes.rows !== context.rows || codes.cols !== context.cols || codes.k !== this.config.k) {
          fail('E_SHAPE', 'options.codec', `codes of ${context.rows} x ${context.cols} cells, k ${this.config.k}`, `${codes.rows} x ${codes.cols}, k ${codes.k}`);
        }
        const next: tf.Tensor2D = tf.tidy(() => this.step(h, codes.codes, codes.rows, codes.cols));
        h.dispose();
        h = next;
      }
    } finally {
      h.dispose();
    }
    return stackFrames(frames);
  }

  /**
   * Mean squared error per patch value (normalised units) of the next-frame predictions over `codes`: the state
   * after frame t against `targets`' frame t+1, for every t < frames − 1.
   * @example
   * ```ts
   * const mse = reg.evaluate(testCodes, testTargets);
   * ```
   */
  evaluate(codes: CodeVolume, targets: Float32Array): number {
    this.checkPair(codes, targets, 'codes', 'targets', 2);
    const per = codes.rows * codes.cols * this.config.dim;
    let sum = 0;
    const last = this.stateAfter(codes, (t, h) => {
      if (t === codes.frames - 1) return;
      sum += tf.tidy(() => tf.sum(tf.squaredDifference(this.applyHead(h), tf.tensor2d(targets.subarray((t + 1) * per, (t + 2) * per), [codes.rows * codes.cols, this.config.dim]))).dataSync()[0]);
    });
    last.dispose();
    return sum / ((codes.frames - 1) * per);
  }

  /**
   * Saves config and weights into `dir/model.vqm` atomically (the RCNN's container and format version).
   * @example
   * ```ts
   * await reg.save('models/regressor');
   * ```
   */
  async save(dir: string): Promise<void> {
    const arrays: Record<string, StoredArray> = {};
    for (const w of this.net.weights) arrays[`w:${w.name}`] = (w.variable.dataSync() as Float32Array).slice();
    arrays['head:w'] = (this.head.w.dataSync() as Float32Array).slice();
    arrays['head:b'] = (this.head.b.dataSync() as Float32Array).slice();
    await writeStore(dir, 'model', { className: CLASS_NAME, config: this.config, output: { kind: 'regression', dim: this.config.dim } }, arrays);
  }

  /**
   * Loads a regressor saved by {@link PatchRegressor.save}: E_NOT_FOUND, E_FORMAT (corrupt file, another
   * model class, weights that do not match the config) or E_VERSION.
   * @example
   * ```ts
   * const reg = await PatchRegressor.load('models/regressor');
   * ```
   */
  static async load(dir: string): Promise<PatchRegressor> {
    const { header, arrays, file } = await readStore(dir, 'model');
    const config = asFileFormat(file, () => {
      if (header.className !== CLASS_NAME) fail('E_FORMAT', 'header.className', `'${CLASS_NAME}'`, header.className);
      const c = header.config as RegressorConfig;
      // the file's sizes are checked before any tensor is built: a small header must not allocate huge weights
      for (const [name, size] of [['w:embedding', c.k * c.embedDim], ['head:w', c.hidden * c.dim], ['head:b', c.dim]] as const) takeF32(arrays, name, size, file);
      return c;
    });
    const m = asFileFormat(file, () => new PatchRegressor(config));
    try {
      asFileFormat(file, () => {
        const assign = (v: tf.Variable, name: string) => tf.tidy(() => v.assign(tf.tensor(takeF32(arrays, name, v.size, file), v.shape, 'float32')));
        for (const w of m.net.weights) assign(w.variable, `w:${w.name}`);
        assign(m.head.w, 'head:w');
        assign(m.head.b, 'head:b');
      });
    } catch (e) {
      m.dispose();
      throw e;
    }
    m.fresh = false;
    return m;
  }

  /** Releases the weights' tensors. */
  dispose(): void {
    this.net.dispose();
    this.head.w.dispose();
    this.head.b.dispose();
  }

  /** The head's bias starts at the mean training patch (once: a trained head is kept). */
  private startHead(targets: Float32Array): void {
    const { dim } = this.config;
    const mean = new Float64Array(dim);
    for (let i = 0; i < targets.length; i++) mean[i % dim] += targets[i];
    const cells = targets.length / dim;
    tf.tidy(() => this.head.b.assign(tf.tensor1d(Float32Array.from(mean, (v) => v / cells))));
    this.fresh = false;
  }

  private checkCodes(codes: CodeVolume, arg: string, minFrames: number): void {
    assertCodeVolume(codes, arg);
    if (codes.k !== this.config.k) fail('E_SHAPE', `${arg}.k`, `${this.config.k} (the model's k)`, codes.k);
    if (codes.frames < minFrames) fail('E_SHAPE', `${arg}.frames`, `at least ${minFrames}`, codes.frames);
  }

  private checkPair(codes: CodeVolume, targets: Float32Array, arg: string, targetArg: string, minFrames: number): void {
    this.checkCodes(codes, arg, minFrames);
    if (!(targets instanceof Float32Array)) fail('E_DTYPE', targetArg, 'a Float32Array [frames, rows, cols, dim]', targets);
    const want = codes.frames * codes.rows * codes.cols * this.config.dim;
    if (targets.length !== want) fail('E_SHAPE', `${targetArg}.length`, `${want} (frames·rows·cols·dim of ${arg})`, targets.length);
    for (let i = 0; i < targets.length; i++) if (!Number.isFinite(targets[i])) fail('E_RANGE', `${targetArg}[${i}]`, 'a finite number', targets[i]);
  }
}

/** The defaults of the fit options: the RCNN's ({@link DEFAULT_FIT_OPTIONS}). */
function resolveFit(o: RegressorFitOptions): Required<Omit<RegressorFitOptions, 'stepsPerEpoch' | 'validation' | 'onProgress'>> & Pick<RegressorFitOptions, 'stepsPerEpoch' | 'validation' | 'onProgress'> {
  const r = { ...resolveSchedule(o), validation: o.validation, onProgress: o.onProgress };
  if (r.validation !== undefined && (typeof r.validation !== 'object' || r.validation === null)) fail('E_RANGE', 'validation', 'an object { codes, targets }', r.validation);
  if (r.onProgress !== undefined && typeof r.onProgress !== 'function') fail('E_RANGE', 'onProgress', 'a function', r.onProgress);
  return r;
}

/**
 * The target patches of batch `step` of an epoch plan: for each window (origin t0, r0, c0 in `plan`) and step
 * l, the crop's patches of frame t0 + l + 1; layout [steps, batch, cropRows, cropCols, dim] as the crop's states.
 */
export function batchTargets(targets: Float32Array, codes: CodeVolume, g: BatchGeometry, plan: Int32Array, step: number, dim: number): Float32Array {
  const out = new Float32Array(g.steps * g.batch * g.cropRows * g.cropCols * dim);
  for (let b = 0; b < g.batch; b++) {
    const o = (step * g.batch + b) * 4;
    const [t0, r0, c0] = [plan[o + 1], plan[o + 2], plan[o + 3]];
    for (let l = 0; l < g.steps; l++) {
      for (let y = 0; y < g.cropRows; y++) {
        for (let x = 0; x < g.cropCols; x++) {
          const from = (((t0 + l + 1) * codes.rows + r0 + y) * codes.cols + c0 + x) * dim;
          out.set(targets.subarray(from, from + dim), (((l * g.batch + b) * g.cropRows + y) * g.cropCols + x) * dim);
        }
      }
    }
  }
  return out;
}
