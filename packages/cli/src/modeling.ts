import { VqvidError, assertInt } from '@vqvid/core';
import type { CodeVolume, OnProgress } from '@vqvid/core';
import { RCNN, RNN, initBackend } from '@vqvid/model';
import type { FitResult, ModelOptions } from '@vqvid/model';
import { checkCodebookK } from './pipeline';

/** Which network: the recurrent convolutional net or its 1x1 (no spatial context) RNN baseline. */
export type ModelKind = 'rcnn' | 'rnn';

let backend: Promise<string> | null = null;

/** Activates the tfjs backend once per process (wasm, else cpu) and names it. */
export function ensureBackend(): Promise<string> {
  backend ??= initBackend().then((c) => c.backend);
  return backend;
}

/** Architecture and training knobs of {@link trainModel}. */
export interface TrainSettings {
  kind: ModelKind;
  model: Omit<ModelOptions, 'k'>;
  epochs: number;
  stepsPerEpoch?: number;
  bptt?: number;
  batch?: number;
  crop?: number;
  lr?: number;
  /** Scheduled sampling (FitOptions.rollout and rolloutProb). */
  rollout?: number;
  rolloutProb?: number;
  validation?: CodeVolume;
  /** Refit the copy-aware gate on the validation codes at the end (FitOptions.calibrate; default the library's, on). */
  calibrate?: boolean;
  checkpointDir?: string;
  resume?: boolean;
  /** Wall-clock cap: training stops after this many seconds (keeping the best validation weights, when validating). */
  maxSeconds?: number;
  /** Worker threads sharing each batch (FitOptions.workers); default: the library's (the cores, at most the batch). */
  workers?: number;
  onProgress?: OnProgress;
  /** The user's Ctrl-C; unlike the time cap it makes training end in E_ABORTED. */
  signal: AbortSignal;
}

/** What {@link trainModel} returns: the model, its history, and whether the time cap cut it short. */
export interface Trained {
  model: RCNN;
  result: FitResult;
  timeCapped: boolean;
  seconds: number;
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Builds and trains an RCNN or RNN on `codes`. Ctrl-C stops at the next batch (after the checkpoint is
 * written) and throws E_ABORTED; the optional time cap ends training early (FitOptions.timeLimit).
 */
export async function trainModel(codes: CodeVolume, s: TrainSettings): Promise<Trained> {
  await ensureBackend();
  const Ctor = s.kind === 'rnn' ? RNN : RCNN;
  const model = new Ctor({ ...s.model, k: codes.k });
  const t0 = Date.now();
  const result = await model.fit(codes, defined({
    epochs: s.epochs,
    stepsPerEpoch: s.stepsPerEpoch,
    bptt: s.bptt,
    batch: s.batch,
    crop: s.crop,
    lr: s.lr,
    rollout: s.rollout,
    rolloutProb: s.rolloutProb,
    validation: s.validation,
    calibrate: s.calibrate,
    checkpointDir: s.checkpointDir,
    resume: s.resume,
    onProgress: s.onProgress,
    signal: s.signal,
    timeLimit: s.maxSeconds,
    workers: s.workers,
  }));
  if (result.stopped === 'aborted' && s.signal.aborted) {
    model.dispose();
    const where = s.checkpointDir ? `; checkpoint saved in ${s.checkpointDir}, continue with --resume` : '';
    throw new VqvidError('E_ABORTED', `training stopped after ${result.steps} steps${where}`);
  }
  return { model, result, timeCapped: result.stopped === 'time', seconds: (Date.now() - t0) / 1000 };
}

/** Loads a model folder written by `vqvid train`, checking it speaks the K of `book` (a PatchCodec or Quantizer) when given. */
export async function loadModel(dir: string, book?: { codebook: { k: number }; checksum?: string }): Promise<RCNN> {
  await ensureBackend();
  const model = await RCNN.load(dir);
  if (book) {
    checkCodebookK(book, model.config.k, 'model');
    if (model.codebook !== null && book.checksum !== undefined && model.codebook !== book.checksum) {
      model.dispose();
      throw new VqvidError('E_SHAPE', `model: ${dir} was trained with codebook ${model.codebook}, but --codebook is ${book.checksum}; use the codebook the model was trained with`);
    }
  }
  return model;
}

/** Frames t..t+missing−1 can be missing: a frame before them and one after them exist. */
export function checkMissingFrames(t: number, missing: number, frames: number, arg = '--frame'): void {
  assertInt(missing, '--missing', 1, Math.max(1, frames - 2));
  assertInt(t, arg, 1, frames - 1 - missing);
}
