import * as tf from '@tensorflow/tfjs-core';
import { assertCodeVolume, assertInt, assertNumber, evaluateLogProb, fail, Rng, transitionCells, VqvidError } from '@vqvid/core';
import type { CodeVolume, OnProgress, StoredArray } from '@vqvid/core';
import { assembleBatch, BatchGeometry, batchGeometry, epochPlan, epochSeed } from './batch';
import { coarseSide, receptiveRadius } from './config';
import { bigramLogTable } from './direct';
import { hasCheckpoint, readStore, takeF32, writeStore } from './persist';
import { emGateWeights, fitGateOffsets, MixtureOutput, SparseBigram, SpatialPrior, spatialContext, type OutputLayer } from './output';
import type { ModelParts } from './parts';
import { rolloutBatch, rolloutPlan } from './rollout';
import { FusedAdam, optimizerSnapshot, type AdamInternals, type AdamSnapshot } from './fused-adam';
import { assignFlat, fusedTrainStep, packValues } from './step';
import { defaultWorkers, TrainPool } from './workers';

/**
 * Training options of {@link RCNN.fit}; every field optional.
 * @example
 * ```ts
 * const opts: FitOptions = { epochs: 20, lr: 2e-3, lrDecay: 0.95, validation: val, patience: 3, checkpointDir: 'ckpt' };
 * ```
 */
export interface FitOptions {
  /** Frames of truncated back-propagation through time per window (default 6); each window starts from a zero state. */
  bptt?: number;
  /** Frames run before each window's `bptt` frames only to build up the state, without loss (default 0). */
  warmup?: number;
  /** Windows per batch (default 8). */
  batch?: number;
  /** Side of the random square crop in cells (default 16; the whole grid when smaller). */
  crop?: number;
  /** Number of epochs (default 10). */
  epochs?: number;
  /** Batches per epoch (default: enough to cover every predicted cell of the training codes once). */
  stepsPerEpoch?: number;
  /** Adam learning rate of epoch 0 (default 2e-3). */
  lr?: number;
  /** Learning rate multiplier per epoch: lr_e = lr * lrDecay^e (default 0.95). */
  lrDecay?: number;
  /**
   * Learning rate multiplier applied after every epoch whose validation nll did not improve (reduce on
   * plateau), on top of `lrDecay`; needs `validation`; 1 = off (default 1).
   */
  lrPlateau?: number;
  /** Maximum global gradient norm (default 5). */
  clip?: number;
  /** Codes whose perplexity is measured after every epoch; enables early stopping and best-weight keeping. */
  validation?: CodeVolume | CodeVolume[];
  /** Stop after this many epochs without a better validation nll (default 3). */
  patience?: number;
  /** Directory of the checkpoint written atomically after every epoch (and when aborted). */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir` when there is one (same result as an uninterrupted run). */
  resume?: boolean;
  /** Progress per batch ('train') and per epoch ('epoch'). */
  onProgress?: OnProgress;
  /** Aborting stops after the current batch, writes a checkpoint and returns with `stopped: 'aborted'`. */
  signal?: AbortSignal;
  /**
   * Wall-clock budget in seconds: the batch that crosses it ends the epoch early, which is then closed as
   * usual (validation, checkpoint), and training ends with `stopped: 'time'` and the best validation weights.
   */
  timeLimit?: number;
  /**
   * Worker threads that share every batch (data parallel): each computes the gradient of a fixed slice of the
   * windows, the gradients are summed in worker order and one Adam step is applied. 1 = all in this thread;
   * any count gives the one-thread result within float rounding (the same batches and dropout masks), and the
   * same count the same result bit for bit. At most `batch` are used. Default: the cores
   * (os.availableParallelism()), at most `batch`; 1 outside Node. With 2 or more, Adam's step runs fused in
   * plain JS on the weights the workers share, each worker updating its own shard of them, and the model's
   * variables are brought up to date before whatever reads them (validation, checkpoints, rollouts, the end of an
   * epoch and of `fit`): an `onProgress` 'train' callback sees the weights as of the epoch's start.
   */
  workers?: number;
  /**
   * Multi-step training by scheduled sampling (Bengio et al. 2015): in a window picked with probability
   * `rolloutProb`, from a random frame after the warm-up, the inputs of the next `rollout` frames on the crop are
   * the model's own argmax predictions (each made from the window read so far, its earlier predictions
   * included; no gradient through the choice; margin cells keep their true codes), while the targets stay the
   * true frames, so the model learns to continue from its own outputs as in `generate`. The choices are a
   * function of the model seed and the global step (resume and workers replay them). 0 = teacher forcing only
   * (default 0). A checkpoint records it, and resuming continues with it.
   */
  rollout?: number;
  /** Probability that a window of a batch rolls out, with `rollout` > 0 (default 0.5). */
  rolloutProb?: number;
  /**
   * With `validation` codes and a copy-aware output: once training ends (best weights restored), refit the gate
   * biases on the validation codes, the held-out estimate of the mixture weights (Jelinek and Mercer 1980). The
   * gate learns its weights on training frames, which the counted prior has seen and whose rate of change may not
   * be the clip's later one; the validation frames correct both (see `FitResult.calibration`). Default true.
   */
  calibrate?: boolean;
}

/**
 * The gate calibration of {@link FitResult}: what `fit` added to the gate biases and the validation bits it bought.
 * @example
 * ```ts
 * const { calibration } = await m.fit(codes, { validation: val });
 * if (calibration) console.log(calibration.valBitsBefore, '->', calibration.valBitsAfter);
 * ```
 */
export interface GateCalibration {
  /** Offsets added to the gate biases, one per mixture component (network first, always 0). */
  offsets: number[];
  /** The mixture's components in gate order: the network's softmax, "same code as now", the counted prior. */
  components: Array<'net' | 'copy' | 'prior'>;
  /** Validation bits per code of the weights as trained (the best epoch's). */
  valBitsBefore: number;
  /** Validation bits per code with the offsets added (≤ valBitsBefore). */
  valBitsAfter: number;
}

/**
 * One epoch of {@link FitResult}.
 * @example
 * ```ts
 * for (const e of (await m.fit(codes, { validation: val })).epochs) console.log(e.epoch, e.loss, e.valBits);
 * ```
 */
export interface EpochRecord {
  /** Index of the epoch, counting from 0. */
  epoch: number;
  /** Mean training loss of the epoch, nats per code. */
  loss: number;
  /** Adam learning rate used in this epoch: lr * lrDecay^epoch, times lrPlateau per epoch without improvement before it. */
  lr: number;
  /** Validation nll in nats per code, when validation codes were given. */
  valNll?: number;
  /** Validation bits per code (valNll / ln 2), when validation codes were given. */
  valBits?: number;
}

/**
 * What {@link RCNN.fit} returns (also kept as `model.history_`).
 * @example
 * ```ts
 * const { stopped, bestEpoch, steps } = await m.fit(codes, { epochs: 50, validation: val, patience: 3 });
 * ```
 */
export interface FitResult {
  /** One record per completed epoch, in order (those before a resume included). */
  epochs: EpochRecord[];
  /** Epoch whose weights the model holds at the end when validation was used (else the last), -1 if none. */
  bestEpoch: number;
  /** Lowest validation nll seen, nats per code; absent without validation codes. */
  bestValNll?: number;
  /** Why training ended: all epochs run, early stop after `patience` epochs without improvement, the time limit, or the abort signal. */
  stopped: 'completed' | 'early' | 'time' | 'aborted';
  /** Optimizer steps taken in total (resumed runs included). */
  steps: number;
  /** The gate refit on the validation codes (`calibrate`), when there was one. */
  calibration?: GateCalibration;
}

interface Resolved {
  bptt: number;
  warmup: number;
  batch: number;
  crop: number;
  epochs: number;
  stepsPerEpoch?: number;
  lr: number;
  lrDecay: number;
  lrPlateau: number;
  clip: number;
  patience: number;
  validation: CodeVolume[];
  checkpointDir?: string;
  resume: boolean;
  onProgress?: OnProgress;
  signal?: AbortSignal;
  timeLimit?: number;
  workers?: number;
  /** undefined: the checkpoint's when resuming, else 0. */
  rollout?: number;
  rolloutProb: number;
  calibrate: boolean;
}

/** Everything a checkpoint holds besides weights and optimizer moments. */
interface TrainState {
  epoch: number;
  step: number;
  globalStep: number;
  lossSum: number;
  lossCount: number;
  history: EpochRecord[];
  bestNll: number | null;
  bestEpoch: number;
  badEpochs: number;
  /** Product of the plateau multipliers applied so far (absent in checkpoints from before lrPlateau: 1). */
  lrScale?: number;
  /** Scheduled sampling of the run, absent when it trains by teacher forcing only (`rollout` 0). */
  rollout?: { frames: number; prob: number };
}

/**
 * The defaults of {@link FitOptions}: the CLI builds its flags and help from them.
 * @example
 * ```ts
 * await m.fit(codes, { epochs: DEFAULT_FIT_OPTIONS.epochs * 2 });
 * ```
 */
export const DEFAULT_FIT_OPTIONS: Readonly<Required<Pick<FitOptions, 'bptt' | 'warmup' | 'batch' | 'crop' | 'epochs' | 'lr' | 'lrDecay' | 'lrPlateau' | 'clip' | 'patience' | 'rollout' | 'rolloutProb'>>> = Object.freeze({
  bptt: 6,
  warmup: 0,
  batch: 8,
  crop: 16,
  epochs: 10,
  lr: 2e-3,
  lrDecay: 0.95,
  lrPlateau: 1,
  clip: 5,
  patience: 3,
  rollout: 0,
  rolloutProb: 0.5,
});

/** The step schedule every trainer of this package shares: window, batch, crop, epochs, lr schedule, clip, patience. */
export type Schedule = Pick<Resolved, 'bptt' | 'batch' | 'crop' | 'epochs' | 'stepsPerEpoch' | 'lr' | 'lrDecay' | 'lrPlateau' | 'clip' | 'patience'>;

/** The schedule fields of `o` with {@link DEFAULT_FIT_OPTIONS} filled in, each checked (E_RANGE naming it). */
export function resolveSchedule(o: Partial<Schedule>): Schedule {
  if (typeof o !== 'object' || o === null) fail('E_RANGE', 'options', 'an object', o);
  const d = DEFAULT_FIT_OPTIONS;
  const r: Schedule = {
    bptt: o.bptt ?? d.bptt,
    batch: o.batch ?? d.batch,
    crop: o.crop ?? d.crop,
    epochs: o.epochs ?? d.epochs,
    stepsPerEpoch: o.stepsPerEpoch,
    lr: o.lr ?? d.lr,
    lrDecay: o.lrDecay ?? d.lrDecay,
    lrPlateau: o.lrPlateau ?? d.lrPlateau,
    clip: o.clip ?? d.clip,
    patience: o.patience ?? d.patience,
  };
  assertInt(r.bptt, 'bptt', 1, 1000);
  assertInt(r.batch, 'batch', 1, 4096);
  assertInt(r.crop, 'crop', 1, 4096);
  assertInt(r.epochs, 'epochs', 0);
  if (r.stepsPerEpoch !== undefined) assertInt(r.stepsPerEpoch, 'stepsPerEpoch', 1);
  assertNumber(r.lr, 'lr', 1e-12, 10);
  assertNumber(r.lrDecay, 'lrDecay', 1e-6, 1);
  assertNumber(r.lrPlateau, 'lrPlateau', 1e-6, 1);
  assertNumber(r.clip, 'clip', 1e-12);
  assertInt(r.patience, 'patience', 1);
  return r;
}

function resolveFit(o: FitOptions): Resolved {
  const r: Resolved = {
    ...resolveSchedule(o),
    warmup: o.warmup ?? DEFAULT_FIT_OPTIONS.warmup,
    validation: o.validation === undefined ? [] : Array.isArray(o.validation) ? o.validation : [o.validation],
    checkpointDir: o.checkpointDir,
    resume: o.resume ?? false,
    onProgress: o.onProgress,
    signal: o.signal,
    timeLimit: o.timeLimit,
    workers: o.workers,
    rollout: o.rollout,
    rolloutProb: o.rolloutProb ?? DEFAULT_FIT_OPTIONS.rolloutProb,
    calibrate: o.calibrate ?? true,
  };
  if (typeof r.calibrate !== 'boolean') fail('E_RANGE', 'calibrate', 'a boolean', r.calibrate);
  assertInt(r.warmup, 'warmup', 0, 1000);
  if (r.rollout !== undefined) assertInt(r.rollout, 'rollout', 0, 1000);
  assertNumber(r.rolloutProb, 'rolloutProb', 0, 1);
  r.validation.forEach((v, i) => assertCodeVolume(v, `validation[${i}]`));
  if (r.checkpointDir !== undefined && (typeof r.checkpointDir !== 'string' || r.checkpointDir === '')) {
    fail('E_RANGE', 'checkpointDir', 'a directory path', r.checkpointDir);
  }
  if (r.timeLimit !== undefined) assertNumber(r.timeLimit, 'timeLimit', 0);
  if (r.workers !== undefined) assertInt(r.workers, 'workers', 1, 1024);
  if (r.resume && r.checkpointDir === undefined) fail('E_RANGE', 'resume', 'checkpointDir to resume from', r.resume);
  if (r.onProgress !== undefined && typeof r.onProgress !== 'function') fail('E_RANGE', 'onProgress', 'a function', r.onProgress);
  return r;
}

function codeCounts(volumes: CodeVolume[], k: number): Float64Array {
  const counts = new Float64Array(k);
  for (const v of volumes) for (let i = 0; i < v.codes.length; i++) counts[v.codes[i]]++;
  return counts;
}

/**
 * A pool of `workers` training threads for this model as it is now (output layer built and initialised), its
 * shared parameter vector loaded with the model's weights, taking Adam steps on `adam` (shared moments).
 */
async function startPool(model: ModelParts, g: BatchGeometry, workers: number, adam: FusedAdam): Promise<TrainPool> {
  const vars = model.variables();
  const pool = await TrainPool.start({
    workers,
    backend: tf.getBackend(),
    config: model.config,
    output: model.output.toJSON(),
    weights: model.exportWeights(),
    geometry: g,
    sizes: vars.map((v) => v.size),
    adam,
  });
  pool.loadParams(vars.map((v) => v.dataSync() as Float32Array));
  return pool;
}

/** Mean validation nll over all volumes, weighted by predicted cells. */
function validate(model: ModelParts, volumes: CodeVolume[]): number {
  return evaluateLogProb(model, volumes).nll;
}

/**
 * Writes the checkpoint: the model's weights (its variables must be up to date), `best`, and Adam's state
 * `adam` (from the tf optimizer or the fused step: the same arrays and header either way).
 */
async function writeCheckpoint(
  dir: string,
  model: ModelParts,
  adam: AdamSnapshot,
  state: TrainState,
  best: Record<string, StoredArray> | null,
): Promise<void> {
  const arrays: Record<string, StoredArray> = { ...model.exportWeights() };
  if (best) for (const [name, a] of Object.entries(best)) arrays[`best:${name}`] = a;
  adam.moments.forEach((m, i) => (arrays[`adam:${i}`] = m));
  const header = {
    config: model.config,
    output: model.output.toJSON(),
    state,
    adam: {
      iterations: adam.iterations,
      moments: adam.moments.length,
      accBeta1: adam.accBeta1,
      accBeta2: adam.accBeta2,
    },
  };
  await writeStore(dir, 'checkpoint', header, arrays);
}

async function readCheckpoint(
  dir: string,
  model: ModelParts,
  opt: tf.AdamOptimizer,
): Promise<{ state: TrainState; best: Record<string, StoredArray> | null }> {
  const { header, arrays } = await readStore(dir, 'checkpoint');
  if (JSON.stringify(header.config) !== JSON.stringify(model.config)) {
    throw new VqvidError('E_STATE', `checkpointDir: the checkpoint in ${dir} belongs to a model with other options`, { path: dir });
  }
  model.buildOutput(undefined, header.output as Record<string, unknown>);
  model.importWeights(arrays, dir);
  const adam = header.adam as { iterations: number; moments: number; accBeta1: number; accBeta2: number };
  const vars = model.variables();
  if (adam.moments > 0) {
    const named: { name: string; tensor: tf.Tensor }[] = [{ name: 'iter', tensor: tf.scalar(adam.iterations) }];
    for (let i = 0; i < adam.moments; i++) {
      const v = vars[i % vars.length];
      named.push({ name: `${v.name}/${i < vars.length ? 'm' : 'v'}`, tensor: tf.tensor(takeF32(arrays, `adam:${i}`, v.size, dir), v.shape) });
    }
    await opt.setWeights(named);
    named.forEach((n) => n.tensor.dispose());
    // setWeights recomputes beta^t with pow(); the straight run multiplied step by step: restore the exact value
    const internals = opt as unknown as AdamInternals;
    internals.accBeta1.assign(tf.scalar(adam.accBeta1));
    internals.accBeta2.assign(tf.scalar(adam.accBeta2));
  }
  let best: Record<string, StoredArray> | null = null;
  for (const [name, a] of Object.entries(arrays)) {
    if (!name.startsWith('best:')) continue;
    best ??= {};
    best[name.slice(5)] = a;
  }
  return { state: header.state as TrainState, best };
}

/**
 * The run's scheduled sampling: the options', or on resume the checkpoint's (options that say otherwise are an
 * E_STATE naming `rollout`, as a resumed run must continue the interrupted one).
 */
function resolveRollout(r: Resolved, state: TrainState, resuming: boolean): { frames: number; prob: number } {
  const asked = { frames: r.rollout ?? 0, prob: r.rolloutProb };
  if (!resuming) return asked;
  const saved = state.rollout ?? { frames: 0, prob: asked.prob };
  if (r.rollout !== undefined && (asked.frames !== saved.frames || (asked.frames > 0 && asked.prob !== saved.prob))) {
    fail('E_STATE', 'rollout', `the checkpoint's rollout ${saved.frames} (rolloutProb ${saved.prob}) to resume it`, `${asked.frames} (rolloutProb ${asked.prob})`);
  }
  return saved;
}

function freshState(): TrainState {
  return { epoch: 0, step: 0, globalStep: 0, lossSum: 0, lossCount: 0, history: [], bestNll: null, bestEpoch: -1, badEpochs: 0 };
}

/** Largest number of (present, next) pairs the gate initialisation reads. */
const GATE_INIT_PAIRS = 200_000;

/**
 * A copy-aware output at the start of a fit: counts its prior on the codes of this fit (so a model
 * fine-tuned on more frames also counts them) and, on the first fit, starts its gate at the mixture weights
 * that best explain the training pairs with the network uniform (EM, prior held out).
 */
function initMixture(out: OutputLayer, volumes: CodeVolume[], validation: CodeVolume[]): void {
  if (!(out instanceof MixtureOutput)) return;
  if (out.priorKind === 'bigram') out.setPrior(SparseBigram.fit(volumes, out.k));
  if (out.priorKind === 'spatial') {
    // strengths: chosen on the validation codes when given; a later fit without them (a refit on more frames)
    // keeps the strengths the prior has, as the benches' tuned n-grams recount with the strengths chosen before
    const had = out.prior instanceof SpatialPrior ? out.prior.strength : null;
    const keep = validation.length === 0 && had ? ([had[0], had[1]] as const) : undefined;
    out.setPrior(SpatialPrior.fit(volumes, out.k, keep, validation));
  }
  if (!out.gatesAreFresh()) return;
  const total = transitionCells(volumes);
  const every = Math.max(1, Math.ceil(total / GATE_INIT_PAIRS));
  const pairs: number[] = [];
  const held: number[] = []; // the prior's held-out probability of each pair
  let i = 0;
  for (const v of volumes) {
    const n = v.rows * v.cols;
    for (let t = 1; t < v.frames; t++) {
      const ctx = out.width > 1 ? spatialContext(v.codes.subarray((t - 1) * n, t * n), v.rows, v.cols, out.k) : v.codes.subarray((t - 1) * n, t * n);
      for (let c = 0; c < n; c++, i++) {
        if (i % every !== 0) continue;
        const b = v.codes[t * n + c];
        pairs.push(ctx[c * out.width], b);
        held.push(out.priorProbAt(ctx, c * out.width, b, true));
      }
    }
  }
  out.initGates(emGateWeights(out.components, Int32Array.from(pairs), out.k, (_a, _b, j) => held[j]));
}

/** The training loop behind {@link RCNN.fit}. */
export async function fitModel(model: ModelParts, volumes: CodeVolume[], o: FitOptions): Promise<FitResult> {
  const r = resolveFit(o);
  r.validation.forEach((v, i) => model.checkCodes(v, `validation[${i}]`, 2));
  const cfg = model.config;
  const g = batchGeometry(volumes, r.bptt, r.batch, r.crop, receptiveRadius(cfg), r.warmup, coarseSide(cfg));
  const cellsPerStep = g.steps * g.batch * g.cropRows * g.cropCols;
  const totalCells = transitionCells(volumes);
  const stepsPerEpoch = r.stepsPerEpoch ?? Math.max(1, Math.round(totalCells / cellsPerStep));

  const resuming = r.resume && (await hasCheckpoint(r.checkpointDir!));
  if (!resuming && !model.outputBuilt) model.buildOutput(codeCounts(volumes, cfg.k));
  // direct connections start from the training codes' same-cell bigram (once: a trained table is kept)
  if (!resuming && cfg.direct && model.output.directIsZero()) model.output.initDirect(bigramLogTable(volumes, cfg.k));
  if (!resuming) initMixture(model.output, volumes, r.validation);
  const opt = tf.train.adam(r.lr);
  let state = freshState();
  let best: Record<string, StoredArray> | null = null;
  if (resuming) ({ state, best } = await readCheckpoint(r.checkpointDir!, model, opt));
  const rollout = resolveRollout(r, state, resuming);
  if (rollout.frames > 0) state.rollout = rollout;
  let stopped: FitResult['stopped'] = 'completed';
  const deadline = r.timeLimit === undefined ? Infinity : performance.now() + r.timeLimit * 1000;
  let pool: TrainPool | null = null;
  // the pooled path: Adam's state and the weights live in the fused step and the pool's shared parameters; the
  // model's variables are brought up to date (sync) only before something reads them
  let fused: FusedAdam | null = null;
  let stale = false;
  // the one-thread path: the same fused step in this thread, on the weights laid end to end (and their gradient)
  let flat: { params: Float32Array; grads: Float32Array } | null = null;
  const sync = () => {
    if (pool && stale) assignFlat(model.variables(), pool.sharedParams);
    stale = false;
  };
  const adamState = (): Promise<AdamSnapshot> | AdamSnapshot => (fused ? fused.snapshot(model.variables().map((v) => v.size)) : optimizerSnapshot(opt));
  try {
    const workers = Math.min(r.workers ?? (await defaultWorkers(r.batch)), g.batch);
    const sizes = model.variables().map((v) => v.size);
    if (workers > 1 && state.epoch < r.epochs) {
      fused = await FusedAdam.fromOptimizer(opt, sizes, { shared: true });
      pool = await startPool(model, g, workers, fused);
    } else if (state.epoch < r.epochs) {
      fused = await FusedAdam.fromOptimizer(opt, sizes);
      const params = new Float32Array(fused.size);
      packValues(model.variables(), params);
      flat = { params, grads: new Float32Array(fused.size) };
    }
    epochs: while (state.epoch < r.epochs) {
      const lr = r.lr * Math.pow(r.lrDecay, state.epoch) * (state.lrScale ?? 1);
      const plan = epochPlan(volumes, g, stepsPerEpoch, new Rng(epochSeed(cfg.seed, state.epoch)));
      for (; state.step < stepsPerEpoch; state.step++) {
        // let timers and events run, so an AbortSignal fired by a timer or a UI is seen between batches. A pooled
        // step already does (this thread awaits the workers), and a timer costs a step of the workers' time (Node
        // waits at least 1 ms, a browser 4 ms once nested)
        if (!pool) await new Promise((resolve) => setTimeout(resolve, 0));
        if (r.signal?.aborted) {
          stopped = 'aborted';
          sync();
          if (r.checkpointDir) await writeCheckpoint(r.checkpointDir, model, await adamState(), state, best);
          break epochs;
        }
        let batch = assembleBatch(volumes, g, plan, state.step, cfg.prior === 'spatial' ? cfg.k : null);
        if (rollout.frames > 0) {
          sync(); // the rollout predicts with the model's current weights
          batch = rolloutBatch(model, g, batch, rolloutPlan(g, rollout.frames, rollout.prob, cfg.seed, state.globalStep));
        }
        let loss: number;
        if (pool && fused) {
          stale = true;
          // fusedTrainStep's Adam step, taken by the workers in shards on the pool's shared weights (the model's
          // variables are left behind until sync)
          loss = await pool.step(batch, state.globalStep, lr, r.clip);
        } else {
          loss = fusedTrainStep(model, g, batch, fused!, flat!.params, flat!.grads, lr, r.clip, state.globalStep);
        }
        if (!Number.isFinite(loss)) throw new VqvidError('E_STATE', `training diverged (loss ${loss}) at epoch ${state.epoch}; lower lr`);
        state.lossSum += loss;
        state.lossCount++;
        state.globalStep++;
        r.onProgress?.({
          stage: 'train',
          done: state.epoch * stepsPerEpoch + state.step + 1,
          total: r.epochs * stepsPerEpoch,
          fraction: (state.epoch * stepsPerEpoch + state.step + 1) / (r.epochs * stepsPerEpoch),
          metrics: { loss, epoch: state.epoch },
        });
        if (performance.now() >= deadline) {
          stopped = 'time';
          break;
        }
      }
      sync(); // validation, best weights, the checkpoint and 'epoch' progress read the model
      const rec: EpochRecord = { epoch: state.epoch, loss: state.lossSum / Math.max(1, state.lossCount), lr };
      if (r.validation.length) {
        rec.valNll = validate(model, r.validation);
        rec.valBits = rec.valNll / Math.LN2;
        if (state.bestNll === null || rec.valNll < state.bestNll) {
          state.bestNll = rec.valNll;
          state.bestEpoch = state.epoch;
          state.badEpochs = 0;
          best = model.exportWeights();
        } else {
          state.badEpochs++;
          state.lrScale = (state.lrScale ?? 1) * r.lrPlateau;
        }
      }
      state.history.push(rec);
      state.epoch++;
      Object.assign(state, { step: 0, lossSum: 0, lossCount: 0 });
      if (r.checkpointDir) await writeCheckpoint(r.checkpointDir, model, await adamState(), state, best);
      r.onProgress?.({ stage: 'epoch', done: state.epoch, total: r.epochs, metrics: { ...rec } as Record<string, number> });
      if (stopped === 'time') break;
      if (r.validation.length && state.badEpochs >= r.patience) {
        stopped = 'early';
        break;
      }
    }
  } finally {
    // the end of fit, early stop and errors: the model holds the last weights
    sync();
    opt.dispose();
    await pool?.close();
  }
  if (stopped !== 'aborted' && best) model.importWeights(best, 'best weights');
  const result: FitResult = {
    epochs: state.history,
    bestEpoch: best ? state.bestEpoch : state.history.length - 1,
    stopped,
    steps: state.globalStep,
  };
  if (state.bestNll !== null) result.bestValNll = state.bestNll;
  if (stopped !== 'aborted' && r.calibrate && r.validation.length > 0 && state.history.length > 0) {
    const calibration = calibrateGates(model, r.validation);
    if (calibration) result.calibration = calibration;
  }
  return result;
}

/**
 * Refits a copy-aware output's gate biases on held-out codes ({@link fitGateOffsets} over every predicted cell of
 * `volumes`) and adds the offsets to them; null for a plain output.
 */
export function calibrateGates(model: ModelParts, volumes: CodeVolume[]): GateCalibration | null {
  const out = model.output;
  if (!(out instanceof MixtureOutput)) return null;
  const terms = volumes.map((v) => model.gateTerms(v)!);
  const size = terms.reduce((s, t) => s + t.logits.length, 0);
  const logits = new Float32Array(size);
  const comps = new Float32Array(size);
  let at = 0;
  for (const t of terms) {
    logits.set(t.logits, at);
    comps.set(t.comps, at);
    at += t.logits.length;
  }
  const fitted = fitGateOffsets(logits, comps, out.components.length);
  out.shiftGates(fitted.offsets);
  return { offsets: Array.from(fitted.offsets), components: [...out.components], valBitsBefore: fitted.nllBefore / Math.LN2, valBitsAfter: fitted.nllAfter / Math.LN2 };
}

/**
 * Runs `fn()` with the copy-aware output's counted prior recounted on `codes` only (same kind, same strengths),
 * then restores it; a model without a counted prior runs `fn` as it is (the public form is
 * {@link RCNN.withPriorCountedOn}). For choosing anything on frames the prior has counted (a decoder, its alpha): a
 * prior that has counted a frame's exact contexts predicts that frame far better than any new one (the spatial
 * prior memorises each place's flicker), so choices made on such predictions do not transfer. Recount on the
 * frames before those frames, so they are as unseen as test frames.
 * @example
 * ```ts
 * const d = withPriorCountedOn(partsOf(m), [before], () => m.predictDistribution(context));
 * ```
 */
export function withPriorCountedOn<T>(model: ModelParts, codes: CodeVolume[], fn: () => T): T {
  const out = model.output;
  const full = out instanceof MixtureOutput ? out.prior : null;
  if (!(out instanceof MixtureOutput) || !full) return fn();
  out.setPrior(full instanceof SpatialPrior ? SpatialPrior.fit(codes, full.k, [full.strength[0], full.strength[1]]) : SparseBigram.fit(codes, full.k));
  try {
    return fn();
  } finally {
    out.setPrior(full);
  }
}
