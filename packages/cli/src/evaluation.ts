import { sliceCodes, sliceVideo, stackFrames } from '@vqvid/core';
import type { CodeGeometry, CodeVolume, Video } from '@vqvid/core';
import { copyLast, flowExtrapolate, flowInterpolate, linearExtrapolate, linearInterpolate } from '@vqvid/baselines';
import { codeAccuracy, evaluateFrames } from '@vqvid/metrics';
import type { RCNN } from '@vqvid/model';
import { fitDecoder } from '@vqvid/quantize';
import type { DecoderName, PatchCodec } from '@vqvid/quantize';

/** Pixel metrics of one method's frames against the truth (means over the frames compared). */
export interface FrameScore {
  name: string;
  psnr: number;
  ssim: number;
  mse: number;
  sharpness: number;
  /** Share of cells whose code matches the true code (code models only). */
  codeAccuracy?: number;
}

/** A named model to score. */
export interface NamedModel {
  name: string;
  model: RCNN;
}

function clamp255(v: Video): Video {
  const data = v.data.map((x) => Math.min(255, Math.max(0, x)));
  return { ...v, data };
}

function score(name: string, pred: Video, truth: Video, acc?: number): FrameScore {
  const m = evaluateFrames(clamp255(pred), truth, { peak: 255 });
  const s: FrameScore = { name, psnr: m.psnr, ssim: m.ssim, mse: m.mse, sharpness: m.sharpness };
  if (acc !== undefined) s.codeAccuracy = acc;
  return s;
}


/** Everything needed to turn codes back into frames and compare them with the real video. */
export interface PixelSetup {
  /** The real frames: all of them, or (with `videoStart`) the last ones, from frame `videoStart` of the codes on. */
  video: Video;
  /** Index in `codes` of the video's first frame; default 0. */
  videoStart?: number;
  /** The video's codes, with their geometry (predictions decode with it). */
  codes: CodeVolume;
  codec: PatchCodec;
}

/** Real frame `t` (an index in the codes) of the setup. */
function frameAt(s: PixelSetup, t: number): Video {
  return sliceVideo(s.video, t - (s.videoStart ?? 0));
}

/** Predicted frames per method for a set of target times, plus the truth; what strips and tables read. */
export interface FrameResults {
  times: number[];
  truth: Video;
  /** Per method its frames, and for code models the codes they chose. */
  predictions: Array<{ name: string; video: Video; codes?: CodeVolume }>;
  scores: FrameScore[];
}

/** Codes of the setup's frames (or a model's guesses at them, which have the same grid) in pixels. */
function decodeFrame(s: PixelSetup, codes: CodeVolume): Video {
  return s.codec.decode(onGrid(s, codes));
}

/** `codes` with the geometry of the setup's codes: a model's guesses come without one. */
function onGrid(s: PixelSetup, codes: CodeVolume): CodeVolume {
  return { ...codes, geometry: s.codes.geometry };
}

/** A decoder and its stand-in alpha (see `decodeCells` of @vqvid/quantize), as {@link chooseDecoder} picks them. */
export interface RenderChoice {
  decoder: DecoderName;
  alpha: number;
  /** Motion search radius in pixels (0 or absent: off; see `RenderOptions.search` of @vqvid/model). */
  search?: number;
}

/** One `fitDecoder` sample: the frame `truth` rendered from `probs` with `reference` standing for `present`. */
type DecoderSample = Parameters<typeof fitDecoder>[0][number];

/**
 * A {@link DecoderSample} of one predicted frame: the codebook's arrays, the reference and true frames cut into
 * patches, and with `search` > 0 the patches of `sources` moved by up to `search` pixels.
 */
function decoderSample(codec: PatchCodec, geometry: CodeGeometry, f: { probs: Float32Array; present: ArrayLike<number>; reference: Video; truth: Video; sources?: Video; search?: number }): DecoderSample {
  const { k, dim, centroids } = codec.codebook;
  const motion = f.search ? codec.motionPatches(f.sources ?? f.reference, geometry, f.search) : null;
  return {
    probs: f.probs,
    k,
    present: f.present,
    reference: codec.referencePatches(f.reference, geometry),
    centroids,
    dim,
    truth: codec.referencePatches(f.truth, geometry),
    ...(motion ? { motion: motion.patches, motionCount: motion.count } : {}),
  };
}

/**
 * The decoder and alpha that render `model`'s one-step predictions of the frames `times` (each from all
 * frames before it) closest to the real frames: `fitDecoder` of @vqvid/quantize on those frames.
 */
export function chooseDecoder(s: PixelSetup, model: RCNN, times: number[], decoders?: DecoderName[]): RenderChoice & { scores: Record<string, { alpha: number; mse: number }> } {
  const n = s.codes.rows * s.codes.cols;
  const samples = times.map((t) =>
    decoderSample(s.codec, s.codes.geometry!, {
      probs: model.predictDistribution(sliceCodes(s.codes, 0, t)).probs!,
      present: s.codes.codes.subarray((t - 1) * n, t * n),
      reference: frameAt(s, t - 1),
      truth: frameAt(s, t),
    }),
  );
  const fit = fitDecoder(samples, decoders ? { decoders } : {});
  return { decoder: fit.decoder, alpha: fit.alpha, scores: fit.scores };
}

/** A model's name with its decoder, as rows of the tables show it. */
export function renderedName(name: string, r: RenderChoice): string {
  return `${name} ${r.decoder}${r.decoder === 'centroid' ? '' : ` (alpha ${r.alpha}${r.search ? `, search ${r.search}` : ''})`}`;
}

/**
 * One-step-ahead prediction of each frame t in `times` (t >= 2) from everything before it: each model's
 * argmax codes decoded (and, with `render`, its distribution rendered by that decoder, the last real frame
 * standing for "same code"), the codebook's own reconstruction of frame t (the ceiling of any code model),
 * and the copy-last, linear and optical-flow extrapolations of the real frames.
 */
export function nextFrameResults(s: PixelSetup, models: NamedModel[], times: number[], render?: RenderChoice): FrameResults {
  const truth = stackFrames(times.map((t) => frameAt(s, t)));
  const predictions: FrameResults['predictions'] = [];
  const accs: number[] = [];
  for (const { name, model } of models) {
    const guesses = times.map((t) => model.predictNext(sliceCodes(s.codes, 0, t)));
    const acc = codeAccuracy(concatCodes(guesses).codes, concatCodes(times.map((t) => sliceCodes(s.codes, t))).codes);
    const codes = onGrid(s, concatCodes(guesses));
    predictions.push({ name, video: decodeFrame(s, codes), codes });
    accs.push(acc);
    if (render) {
      const frames = times.map((t) => model.predictFrames(sliceCodes(s.codes, 0, t), 1, { codec: s.codec, reference: frameAt(s, t - 1), ...render }));
      predictions.push({ name: renderedName(name, render), video: stackFrames(frames) });
      accs.push(acc);
    }
  }
  const before = (t: number, back: number) => frameAt(s, t - back);
  predictions.push({ name: 'codebook ceiling', video: stackFrames(times.map((t) => decodeFrame(s, sliceCodes(s.codes, t)))) });
  predictions.push({ name: 'copy-last', video: stackFrames(times.map((t) => copyLast(before(t, 1)))) });
  predictions.push({ name: 'linear extrapolation', video: stackFrames(times.map((t) => linearExtrapolate(before(t, 2), before(t, 1)))) });
  predictions.push({ name: 'flow extrapolation', video: stackFrames(times.map((t) => flowExtrapolate(before(t, 2), before(t, 1)))) });
  const scores = predictions.map((p, i) => score(p.name, p.video, truth, accs[i]));
  return { times, truth, predictions, scores };
}

/**
 * Frames t..t+missing−1 filled from the frames around them (frames before t and frame t+missing): each model's
 * fill (`missing` frames searched together) decoded, the codebook ceiling, and linear and optical-flow
 * interpolation of frames t−1 and t+missing at each missing frame's position. Scores cover all missing frames.
 */
export function fillResults(s: PixelSetup, models: NamedModel[], t: number, render?: RenderChoice, missing = 1): FrameResults {
  const times = Array.from({ length: missing }, (_, j) => t + j);
  const truth = stackFrames(times.map((u) => frameAt(s, u)));
  const predictions: FrameResults['predictions'] = [];
  const accs: number[] = [];
  const trueCodes = sliceCodes(s.codes, t, t + missing);
  const before = sliceCodes(s.codes, 0, t);
  const after = sliceCodes(s.codes, t + missing, t + missing + 1);
  for (const { name, model } of models) {
    const filled = onGrid(s, model.fill(before, after, { missing }));
    accs.push(codeAccuracy(asInt32(filled.codes), asInt32(trueCodes.codes)));
    predictions.push({ name, video: decodeFrame(s, filled), codes: filled });
    if (render) {
      const next = frameAt(s, t + missing);
      const video = model.fillFrame(before, after, { codec: s.codec, reference: frameAt(s, t - 1), next, missing, ...render });
      predictions.push({ name: renderedName(name, render), video });
      accs.push(accs[accs.length - 1]);
    }
  }
  const a = frameAt(s, t - 1);
  const b = frameAt(s, t + missing);
  const at = (j: number) => (j + 1) / (missing + 1);
  predictions.push({ name: 'codebook ceiling', video: decodeFrame(s, trueCodes) });
  predictions.push({ name: 'linear interpolation', video: stackFrames(times.map((_, j) => linearInterpolate(a, b, at(j)))) });
  predictions.push({ name: 'flow interpolation', video: stackFrames(times.map((_, j) => flowInterpolate(a, b, { t: at(j) }))) });
  const scores = predictions.map((p, i) => score(p.name, p.video, truth, accs[i]));
  return { times, truth, predictions, scores };
}

function asInt32(c: Uint16Array | Int32Array): Int32Array {
  return c instanceof Int32Array ? c : Int32Array.from(c);
}

/** Volumes of one grid and k stacked along time. */
export function concatCodes(list: CodeVolume[]): CodeVolume {
  const n = list[0].rows * list[0].cols;
  const codes = new Int32Array(list.reduce((s, v) => s + v.frames, 0) * n);
  let at = 0;
  for (const v of list) {
    codes.set(v.codes, at);
    at += v.codes.length;
  }
  return { rows: list[0].rows, cols: list[0].cols, frames: codes.length / n, k: list[0].k, codes };
}

/** |a - b| per pixel, for error rows of strips. */
export function absDiff(a: Video, b: Video): Video {
  const data = new Float32Array(a.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.abs(a.data[i] - b.data[i]);
  return { width: a.width, height: a.height, frames: a.frames, data };
}

/** What {@link fitDecoderOnContext} chose, and on which frames. */
export interface ContextDecoderFit extends RenderChoice {
  /** The context frames whose one-step predictions it was fitted on. */
  frames: number[];
  /** Each decoder's best alpha and its mean squared error per patch value there (see `fitDecoder`). */
  scores: Record<string, { alpha: number; mse: number }>;
}

/**
 * `--decoder auto`: the decoder and alpha (`fitDecoder` of @vqvid/quantize: least squared error) that render
 * the model's one-step predictions of the context's last `targets` frames closest to their real pixels, each
 * frame predicted from every frame before it (one pass of the model's stepper, which equals
 * `predictDistribution` frame by frame), with the given motion `search`. `kept` holds the context's frames
 * `keptStart`..; a target needs its own frame and the one before it there. Null when no frame qualifies.
 */
export function fitDecoderOnContext(
  model: RCNN,
  codec: PatchCodec,
  context: CodeVolume,
  kept: Video,
  keptStart: number,
  opts: { targets: number; search?: number },
): ContextDecoderFit | null {
  const last = Math.min(context.frames, keptStart + kept.frames) - 1;
  const first = Math.max(1, keptStart + 1, last - opts.targets + 1);
  if (last < first) return null;
  const frames = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const n = context.rows * context.cols;
  const pixels = (t: number) => sliceVideo(kept, t - keptStart);
  const stepper = model.stepper(context.rows, context.cols);
  const samples: DecoderSample[] = [];
  try {
    for (let t = 0; t < last; t++) {
      const present = context.codes.subarray(t * n, (t + 1) * n);
      const probs = stepper.next(present);
      if (t + 1 >= first) samples.push(decoderSample(codec, context.geometry!, { probs, present, reference: pixels(t), truth: pixels(t + 1), search: opts.search }));
    }
  } finally {
    stepper.dispose();
  }
  return contextFit(samples, frames, opts.search);
}

/** {@link ContextDecoderFit} of `fitDecoder` on `samples` (made on `frames`, with the motion `search`). */
function contextFit(samples: DecoderSample[], frames: number[], search = 0): ContextDecoderFit {
  const fit = fitDecoder(samples);
  return { decoder: fit.decoder, alpha: fit.alpha, ...(search > 0 ? { search } : {}), frames, scores: fit.scores };
}

/**
 * `vqvid fill --decoder auto`: the decoder and alpha (`fitDecoder` of @vqvid/quantize: least squared error) that
 * render the model's one-frame fills of the last `targets` frames u before the gap (u − 1 and u + 1 known, u + 1
 * at most `t` − 1: the missing frames are never looked at) closest to their real pixels, each filled from all
 * frames before it and the frame after it, the linear interpolation standing for "same code" as in
 * `RCNN.fillFrame`, with the given motion `search` in both known frames. `video` holds the real frames from
 * `videoStart` on. Null when no such frame has its pixels.
 */
export function fitFillDecoderOnContext(
  model: RCNN,
  codec: PatchCodec,
  codes: CodeVolume,
  video: Video,
  videoStart: number,
  t: number,
  opts: { targets: number; search?: number },
): ContextDecoderFit | null {
  const last = t - 2;
  const first = Math.max(1, videoStart + 1, last - opts.targets + 1);
  if (last < first) return null;
  const frames = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const n = codes.rows * codes.cols;
  const pixels = (u: number) => sliceVideo(video, u - videoStart);
  const samples = frames.map((u) => {
    const dist = model.fillDistribution(sliceCodes(codes, 0, u), sliceCodes(codes, u + 1, u + 2));
    const [a, b] = [pixels(u - 1), pixels(u + 1)];
    // the reference RCNN.fillFrame uses: their midpoint, (1 − ½)·a + ½·b
    const reference = linearInterpolate(a, b, 0.5);
    return decoderSample(codec, codes.geometry!, { probs: dist.probs!, present: codes.codes.subarray((u - 1) * n, u * n), reference, truth: pixels(u), sources: stackFrames([a, b]), search: opts.search });
  });
  return contextFit(samples, frames, opts.search);
}
