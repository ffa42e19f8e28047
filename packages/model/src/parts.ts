import * as tf from '@tensorflow/tfjs-core';
import { assertCodeVolume, fail, Rng, VqvidError } from '@vqvid/core';
import type { CodeVolume, StoredArray } from '@vqvid/core';
import { coarseWidth, type ModelConfig, stateWidth, usesMotion } from './config';
import { inputChannels, motionChannels, Network } from './network';
import { cellMixture, createOutputLayer, MixtureOutput, OnlineGateOffsets, type OutputLayer, outputVariableSizes, SparseBigram, SPATIAL_WIDTH, SpatialPrior, spatialContext } from './output';
import { takeF32 } from './persist';
import { readTidy } from './read';
import { driveAsync, driveSync } from './drive';

/**
 * The first frame whose cells the online gate adaptation observes: frame 1 is predicted from a state that has read
 * one frame, which cannot know which way anything moves, so the network component is at its weakest there and
 * would pull the gate toward copying for the warm states that follow.
 */
export const ADAPT_FROM = 2;

/**
 * A model's recurrent step run outside tfjs (e.g. `OnnxStep` of `@vqvid/model/onnx`), for
 * `RCNN.predictFramesAsync`.
 */
export interface AsyncStepper {
  /** The state after reading one frame's `codes` ([rows·cols]) from state `h` ([rows·cols, hidden] row-major). */
  stepAsync(h: Float32Array, codes: Int32Array, rows: number, cols: number): Promise<Float32Array>;
}

/**
 * The inside of a model: network, output layer, weight I/O and the recurrent steps every use of the model
 * runs. {@link RCNN} is a thin public class over it; training and filling get this object as an argument
 * instead of reaching into the public class.
 */
export class ModelParts {
  /** Embedding, conv stage and recurrent cell. */
  readonly net: Network;
  private out: OutputLayer | null = null;
  private readonly outputSeed: number;
  /** Checksum of the codebook of the codes the model was fitted on (from their geometry), null when unknown. */
  codebook: string | null = null;
  /**
   * With motion inputs, the state of a cell is its h plus the codes of its last two frames (the motion channels
   * of the next frame read them). They ride along with the state tensor here, so every caller that threads h
   * through {@link step} (likelihood, stepper, generation, filling) gets them without new plumbing.
   */
  private readonly history = new WeakMap<tf.Tensor2D, FrameHistory>();

  /** Fresh seeded weights: the network draws first, then the output layer's seed (the order saved models rely on). */
  constructor(readonly config: ModelConfig) {
    const rng = new Rng(config.seed);
    this.net = new Network(config, rng);
    this.outputSeed = rng.nextUint32() | 0;
    if (config.softmax === 'full') this.buildOutput();
  }

  /** The output layer, built on first use (the factored one wants code frequencies: fit builds it). */
  get output(): OutputLayer {
    return this.out ?? this.buildOutput();
  }

  /** (Re)builds the output layer from code counts or a saved configuration. */
  buildOutput(frequencies?: ArrayLike<number>, saved?: Record<string, unknown>): OutputLayer {
    this.out?.dispose();
    const { softmax: kind, k, classes, direct, copy, prior } = this.config;
    this.out = createOutputLayer({ kind, k, hidden: stateWidth(this.config), seed: this.outputSeed, classes, frequencies, config: saved, direct, copy, prior });
    return this.out;
  }

  /** Whether the output layer exists yet. */
  get outputBuilt(): boolean {
    return this.out !== null;
  }

  /** Every trainable variable, in a fixed order (the Adam state follows it). */
  variables(): tf.Variable[] {
    return [...this.net.weights.map((w) => w.variable), ...this.output.variables];
  }

  /** Copies of every weight (and a copy-aware output's counted prior), keyed as in saved files. */
  exportWeights(prefix = ''): Record<string, StoredArray> {
    const out: Record<string, StoredArray> = {};
    for (const w of this.net.weights) out[`${prefix}w:${w.name}`] = (w.variable.dataSync() as Float32Array).slice();
    this.output.variables.forEach((v, i) => (out[`${prefix}out:${i}`] = (v.dataSync() as Float32Array).slice()));
    const prior = this.output instanceof MixtureOutput ? this.output.prior : null;
    if (prior) Object.assign(out, prior.toArrays(`${prefix}prior:`));
    return out;
  }

  /** Assigns weights written by {@link exportWeights}; E_FORMAT when one is missing or mis-sized. */
  importWeights(arrays: Record<string, StoredArray>, source: string, prefix = ''): void {
    const assign = (v: tf.Variable, name: string) => {
      const data = takeF32(arrays, `${prefix}${name}`, v.size, source);
      tf.tidy(() => v.assign(tf.tensor(data, v.shape, 'float32')));
    };
    for (const w of this.net.weights) assign(w.variable, `w:${w.name}`);
    this.output.variables.forEach((v, i) => assign(v, `out:${i}`));
    const out = this.output;
    if (out instanceof MixtureOutput && out.priorKind === 'bigram' && `${prefix}prior:rowStart` in arrays) {
      out.setPrior(SparseBigram.fromArrays(arrays, this.config.k, `${prefix}prior:`, source));
    }
    if (out instanceof MixtureOutput && out.priorKind === 'spatial' && `${prefix}prior:contexts` in arrays) {
      out.setPrior(SpatialPrior.fromArrays(arrays, this.config.k, `${prefix}prior:`, source));
    }
  }

  /** Validation shared by every entry point: a CodeVolume of this model's k with ≥ minFrames frames. */
  checkCodes(codes: CodeVolume, arg: string, minFrames: number): void {
    assertCodeVolume(codes, arg);
    if (codes.k !== this.config.k) fail('E_SHAPE', `${arg}.k`, `${this.config.k} (the model's k)`, codes.k);
    if (codes.frames < minFrames) fail('E_SHAPE', `${arg}.frames`, `at least ${minFrames}`, codes.frames);
    const book = codes.geometry?.codebook;
    if (this.codebook !== null && book !== undefined && book !== this.codebook) {
      fail('E_SHAPE', `${arg}.geometry.codebook`, `${this.codebook} (the codebook the model was trained with)`, book);
    }
  }

  /**
   * Records the codebook checksum the training codes carry (all that carry one must agree); a model trained on
   * one codebook then refuses codes of another. E_SHAPE when the volumes disagree with each other or the model.
   */
  recordCodebook(volumes: CodeVolume[]): void {
    for (const [i, v] of volumes.entries()) {
      const book = v.geometry?.codebook;
      if (book === undefined) continue;
      if (this.codebook !== null && book !== this.codebook) {
        fail('E_SHAPE', `codes[${i}].geometry.codebook`, `${this.codebook} (the codebook the model was trained with)`, book);
      }
      this.codebook = book;
    }
  }

  /**
   * The input drive of whole-grid frames before the recurrence: `frames` int32 [b*rows*cols] → [b*n, gates*H];
   * `motion` [b*n, 2] interleaved, the frames' motion channels (required with motion inputs, see {@link motionChannels}).
   */
  inputDrive(frames: ArrayLike<number>, rows: number, cols: number, motion?: Float32Array): tf.Tensor2D {
    const b = frames.length / (rows * cols);
    return tf.tidy(() => {
      const m = motion && tf.tensor4d(motion, [b, rows, cols, 2], 'float32');
      return this.net.inputDrive(tf.tensor3d(Int32Array.from(frames), [b, rows, cols], 'int32'), null, undefined, m);
    });
  }

  /**
   * One recurrent step on a whole-grid batch: `frames` int32 [b*rows*cols] (b frames), `h` [b*n, H] (null: the
   * start of a sequence). With motion inputs the frames before come from the history `h` carries.
   */
  step(h: tf.Tensor2D | null, frames: ArrayLike<number>, rows: number, cols: number, disposePrev: boolean): tf.Tensor2D {
    let motion: Float32Array | undefined;
    let past: FrameHistory | undefined;
    if (usesMotion(this.config)) {
      past = h ? this.history.get(h) : { frames: [] };
      if (!past) throw new VqvidError('E_STATE', 'h: a state of a motion model that carries no frame history (made outside ModelParts.step)');
      const now = Int32Array.from(frames);
      const seq = [...past.frames, now];
      const joined = new Int32Array(seq.length * now.length);
      seq.forEach((f, i) => joined.set(f, i * now.length));
      motion = motionChannels(joined, now.length, seq.length - 1, seq.length);
      past = { frames: seq.slice(-2) };
    }
    const next = tf.tidy(() => this.net.cell(this.inputDrive(frames, rows, cols, motion), h));
    if (past) this.history.set(next, past);
    if (disposePrev) h?.dispose();
    return next;
  }

  /** `times` copies of the state `h` stacked (tf.tile), with its frame history tiled alike; a new tensor. */
  tileState(h: tf.Tensor2D, times: number): tf.Tensor2D {
    const tiled = tf.tile(h, [times, 1]) as tf.Tensor2D;
    const past = this.history.get(h);
    if (past) {
      this.history.set(tiled, {
        frames: past.frames.map((f) => {
          const out = new Int32Array(f.length * times);
          for (let j = 0; j < times; j++) out.set(f, j * f.length);
          return out;
        }),
      });
    }
    return tiled;
  }

  /**
   * Hidden state after every frame of `codes` from a zero state, [rows*cols, state width]; `onStep(t, h_t)` sees
   * each. With `online`, each frame t ≥ {@link ADAPT_FROM} is first observed by it (its cells' gate terms given h_(t−1)).
   */
  stateAfter(codes: CodeVolume, onStep?: (t: number, h: tf.Tensor2D) => void, online?: OnlineGateOffsets | null): tf.Tensor2D {
    return driveSync(this.statesOf(codes, online ?? null, onStep), (r) => this.step(r.h, r.frame, codes.rows, codes.cols, false));
  }

  /**
   * The loop of {@link stateAfter} and {@link contextStateAsync}: asks its driver for the state after each frame of
   * `codes` given the state before (null: the zero state), `online` observing the frame first; frees each state once
   * the next is made, and the last one when a request fails.
   */
  private *statesOf(codes: CodeVolume, online: OnlineGateOffsets | null, onStep?: (t: number, h: tf.Tensor2D) => void): Generator<StateRequest, tf.Tensor2D, tf.Tensor2D> {
    const n = codes.rows * codes.cols;
    let h: tf.Tensor2D | null = null;
    try {
      for (let t = 0; t < codes.frames; t++) {
        const frame = codes.codes.subarray(t * n, (t + 1) * n);
        if (online && h && t >= ADAPT_FROM) this.observe(online, h, codes.codes.subarray((t - 1) * n, t * n), frame, codes.rows, codes.cols);
        const next: tf.Tensor2D = yield { h, frame };
        h?.dispose();
        h = next;
        onStep?.(t, h);
      }
    } catch (e) {
      h?.dispose();
      throw e;
    }
    return h!;
  }

  /** A fresh online adaptation of the copy-aware output's gate ({@link OnlineGateOffsets}) when the config asks for one (`adapt`), else null. */
  onlineGate(): OnlineGateOffsets | null {
    const out = this.output;
    return this.config.adapt && out instanceof MixtureOutput ? new OnlineGateOffsets(out.components.length, this.config.adapt) : null;
  }

  /** Feeds `online` the gate terms of the cells of `target` given the state `h` after `present` (all rows × cols). */
  observe(online: OnlineGateOffsets, h: tf.Tensor2D, present: ArrayLike<number>, target: ArrayLike<number>, rows: number, cols: number): void {
    const out = this.output as MixtureOutput;
    const targets = tf.tensor1d(Int32Array.from(target), 'int32');
    const pt = this.presentTensor(present, rows, cols);
    try {
      const g = out.gateTerms(h, targets, pt);
      online.observe(g.logits, g.comps);
    } finally {
      tf.dispose([targets, ...(pt ? [pt] : [])]);
    }
  }

  /**
   * The state after `codes` and the gate offsets the model predicts the next frame with: adapted online to
   * `codes` when the config asks for it (`adapt`), else null. Run the prediction in {@link withOffsets}.
   */
  contextState(codes: CodeVolume): { h: tf.Tensor2D; offsets: Float64Array | null } {
    const online = this.onlineGate();
    const h = this.stateAfter(codes, undefined, online);
    return { h, offsets: online ? online.offsets : null };
  }

  /**
   * {@link contextState} with every step run by `stepper` (e.g. an ONNX runtime) from a zero state; the online gate
   * adaptation observes the same terms. For single-scale models without motion inputs (a stepper carries no frame
   * history).
   */
  async contextStateAsync(codes: CodeVolume, stepper: AsyncStepper): Promise<{ h: tf.Tensor2D; offsets: Float64Array | null }> {
    const online = this.onlineGate();
    const shape: [number, number] = [codes.rows * codes.cols, stateWidth(this.config)];
    const h = await driveAsync(this.statesOf(codes, online), async (r) => {
      const before = r.h ? (r.h.dataSync() as Float32Array) : new Float32Array(shape[0] * shape[1]);
      return tf.tensor2d(await stepper.stepAsync(before, Int32Array.from(r.frame), codes.rows, codes.cols), shape);
    });
    return { h, offsets: online ? online.offsets : null };
  }

  /** Runs `fn` with the copy-aware output's gate shifted by `offsets` (null, or a plain output: as it is). */
  withOffsets<T>(offsets: ArrayLike<number> | null, fn: () => T): T {
    const out = this.output;
    return offsets !== null && out instanceof MixtureOutput ? out.withOffsets(offsets, fn) : fn();
  }

  /** Symbols per cell the output layer reads of the present frame: 5 with a spatial prior, else 1 (the cell's code). */
  get presentWidth(): number {
    return this.config.prior === 'spatial' ? SPATIAL_WIDTH : 1;
  }

  /**
   * What the output layer reads of the present frame for every cell of one or more stacked rows × cols frames:
   * the cell's code, or with a spatial prior its code and its 4 neighbours' ([cells, 5], K outside the grid).
   */
  presentContext(frames: ArrayLike<number>, rows: number, cols: number): Int32Array {
    return this.presentWidth === 1 ? Int32Array.from(frames) : spatialContext(frames, rows, cols, this.config.k);
  }

  /**
   * A present context ({@link presentContext}, or a batch's `present`) as the output layer wants it: an int32
   * tensor [n] (or [n, 5] with a spatial prior) with direct connections or a copy-aware output, undefined
   * without (the caller's tidy disposes it).
   */
  contextTensor(context: ArrayLike<number>): tf.Tensor1D | tf.Tensor2D | undefined {
    if (!this.readsPresent) return undefined;
    const w = this.presentWidth;
    return w === 1 ? tf.tensor1d(Int32Array.from(context), 'int32') : tf.tensor2d(Int32Array.from(context), [context.length / w, w], 'int32');
  }

  /** {@link contextTensor} of the present context of stacked rows × cols frames. */
  presentTensor(frames: ArrayLike<number>, rows: number, cols: number): tf.Tensor1D | tf.Tensor2D | undefined {
    return this.readsPresent ? this.contextTensor(this.presentContext(frames, rows, cols)) : undefined;
  }

  /** Whether the output layer reads the present frame (direct connections or a copy-aware output). */
  private get readsPresent(): boolean {
    const { direct, copy, prior } = this.config;
    return direct || copy || prior !== 'none';
  }

  /**
   * ln p over the k codes for every cell given the state `h` and the present rows × cols frame's codes ([cells, k]
   * row-major); disposes `h` if asked.
   */
  nextLogProbs(h: tf.Tensor2D, present: ArrayLike<number>, rows: number, cols: number, disposeH = true): Float32Array {
    const data = readTidy(() => this.output.logProbsAll(h, this.presentTensor(present, rows, cols)));
    if (disposeH) h.dispose();
    return data;
  }

  /**
   * ln p of every predicted cell: frames 1..T-1 of `codes`, frame-major then row-major. With `adapt`, frame t's
   * cells are scored with the gate offsets fitted online to frames {@link ADAPT_FROM}..t−1 (prequential: still exact).
   */
  logProb(codes: CodeVolume): Float64Array {
    this.checkCodes(codes, 'codes', 2);
    const n = codes.rows * codes.cols;
    const out = new Float64Array((codes.frames - 1) * n);
    const online = this.onlineGate();
    if (online) {
      const m = online.m;
      const pi = new Float64Array(m);
      const r = new Float64Array(m);
      this.eachPrediction(codes, (t, h, targets, present) => {
        const g = (this.output as MixtureOutput).gateTerms(h, targets, present);
        const d = online.offsets;
        for (let i = 0; i < n; i++) out[t * n + i] = cellMixture(g.logits, g.comps, i, m, d, pi, r);
        if (t + 1 >= ADAPT_FROM) online.observe(g.logits, g.comps);
      });
      return out;
    }
    this.eachPrediction(codes, (t, h, targets, present) => {
      const lp = this.output.logProb(h, targets, present);
      out.set(lp.dataSync(), t * n);
      lp.dispose();
    });
    return out;
  }

  /**
   * The copy-aware output's gate logits and component log-likelihoods (see {@link MixtureOutput.gateTerms}) of every
   * predicted cell of `codes` (frames 1..T-1, frame-major then row-major), [cells, m] each; null for a plain output.
   */
  gateTerms(codes: CodeVolume): { logits: Float32Array; comps: Float32Array } | null {
    const out = this.output;
    if (!(out instanceof MixtureOutput)) return null;
    this.checkCodes(codes, 'codes', 2);
    const at = codes.rows * codes.cols * out.components.length;
    const logits = new Float32Array((codes.frames - 1) * at);
    const comps = new Float32Array(logits.length);
    this.eachPrediction(codes, (t, h, targets, present) => {
      const g = out.gateTerms(h, targets, present);
      logits.set(g.logits, t * at);
      comps.set(g.comps, t * at);
    });
    return { logits, comps };
  }

  /**
   * Runs the network over `codes` (already checked by the caller) and calls `visit` for every frame t < T-1 with the state after it, the
   * codes of frame t+1 as [cells] targets and frame t's present tensor; all three are disposed after the call.
   */
  private eachPrediction(codes: CodeVolume, visit: (t: number, h: tf.Tensor2D, targets: tf.Tensor1D, present: tf.Tensor1D | tf.Tensor2D | undefined) => void): void {
    const n = codes.rows * codes.cols;
    const last = this.stateAfter(codes, (t, h) => {
      if (t === codes.frames - 1) return;
      const targets = tf.tidy(() => tf.reshape(frameTensor(codes, t + 1), [n]) as tf.Tensor1D);
      const present = this.presentTensor(codes.codes.subarray(t * n, (t + 1) * n), codes.rows, codes.cols);
      try {
        visit(t, h, targets, present);
      } finally {
        tf.dispose([targets, ...(present ? [present] : [])]);
      }
    });
    last.dispose();
  }

  /** Frees every tensor. */
  dispose(): void {
    this.net.dispose();
    this.out?.dispose();
    this.out = null;
  }
}

/**
 * Names and sizes of the network's weights for `config`, in the order Network creates them, computed
 * without allocating (the loader checks a file against them before building anything).
 */
export function networkWeightSizes(config: ModelConfig): [name: string, size: number][] {
  const { k, embedDim, hidden, kernel, layers, cell } = config;
  const gates = cell === 'gru' ? 3 : 1;
  const out: [string, number][] = [['embedding', k * embedDim]];
  let cin = inputChannels(config);
  for (let l = 0; l < layers; l++) {
    const last = l === layers - 1;
    const cout = last ? gates * hidden : hidden;
    out.push([`conv${l}.w`, kernel * kernel * cin * cout]);
    if (!last) out.push([`conv${l}.b`, cout]);
    cin = cout;
  }
  if (cell === 'gru') out.push(['rec.wzr', hidden * 2 * hidden], ['rec.wn', hidden * hidden]);
  else out.push(['rec.w', hidden * hidden]);
  out.push(['rec.b', gates * hidden]);
  const hc = coarseWidth(config);
  if (hc > 0) {
    cin = inputChannels(config);
    for (let l = 0; l < layers; l++) {
      out.push([`coarse.conv${l}.w`, kernel * kernel * cin * hc]);
      if (l < layers - 1) out.push([`coarse.conv${l}.b`, hc]);
      cin = hc;
    }
    out.push(['coarse.rec.w', hc * hc], ['coarse.rec.b', hc], ['coarse.rec.tofine', hc * gates * hidden]);
  }
  return out;
}

/**
 * Checks that `arrays` hold every weight a model of `config` with the saved output configuration has, each of
 * the right size, before any tensor is built: a file whose config claims more parameters than it holds is
 * refused with E_FORMAT (naming `source`) without allocating them.
 */
export function checkStoredWeights(
  config: ModelConfig,
  savedOutput: Record<string, unknown>,
  arrays: Record<string, StoredArray>,
  source: string,
  prefix = '',
): void {
  const { softmax: kind, k, classes, direct, copy, prior } = config;
  const outSizes = outputVariableSizes({ kind, k, hidden: stateWidth(config), seed: 0, classes, config: savedOutput, direct, copy, prior });
  const expected: [string, number][] = [
    ...networkWeightSizes(config).map(([name, size]): [string, number] => [`${prefix}w:${name}`, size]),
    ...outSizes.map((size, i): [string, number] => [`${prefix}out:${i}`, size]),
  ];
  const total = expected.reduce((sum, [, size]) => sum + size, 0);
  let held = 0;
  for (const [name] of expected) if (arrays[name] instanceof Float32Array) held += arrays[name].length;
  if (held !== total) {
    throw new VqvidError('E_FORMAT', `${source}: the config implies ${total} weights in ${expected.length} arrays, the file holds ${held}`, { source });
  }
  for (const [name, size] of expected) takeF32(arrays, name, size, source);
}

/** What the state loop (`ModelParts.statesOf`) asks its driver for: the state after `frame` given `h` (null: the zero state). */
interface StateRequest {
  h: tf.Tensor2D | null;
  frame: CodeVolume['codes'];
}

/** The last (at most two) frames a motion model's state has read, oldest first, each [b*rows*cols]. */
interface FrameHistory {
  frames: Int32Array[];
}

/** Frame `t` of `codes` as an int32 [1, rows, cols] tensor. */
function frameTensor(codes: CodeVolume, t: number): tf.Tensor3D {
  const n = codes.rows * codes.cols;
  return tf.tensor3d(Int32Array.from(codes.codes.subarray(t * n, (t + 1) * n)), [1, codes.rows, codes.cols], 'int32');
}
