import { VqvidError, assertInt, fail, readCodes, stackFrames } from '@vqvid/core';
import type { CodeVolume, OnProgress, Video } from '@vqvid/core';
import { PatchReservoir } from '@vqvid/patches';
import { PatchCodec } from '@vqvid/quantize';
import type { PatchCodecOptions } from '@vqvid/quantize';
import { probeVideo, readVideo, streamVideo } from '@vqvid/video';
import type { ReadVideoOptions, VideoFrame } from '@vqvid/video';
import { isContainer } from './files';
import { checkMemory, checkUpscale, encodeBytes, framesBytes, resizedSize } from './memory';
import type { FrameSize } from './memory';

/** How a video is read: a frame range, an optional resize, and the memory guards. */
export interface ReadOptions {
  maxFrames?: number;
  width?: number;
  height?: number;
  onProgress?: OnProgress;
  /** Bytes the command may plan to hold (`--max-memory`); nothing is checked when absent. */
  maxMemory?: number;
  /** false: refuse a resize beyond `UPSCALE_LIMIT` (the command has `--allow-upscale`); absent: not checked. */
  allowUpscale?: boolean;
  /** Fail on a truncated or damaged video (`--strict`) instead of warning through `onWarning`. */
  strict?: boolean;
  /** Where a truncated or damaged video is reported when not `strict`. */
  onWarning?: (message: string) => void;
}

function readVideoOptions(opts: ReadOptions): ReadVideoOptions {
  const read: ReadVideoOptions = {};
  if (opts.maxFrames !== undefined) read.maxFrames = opts.maxFrames;
  if (opts.width !== undefined) read.width = opts.width;
  if (opts.height !== undefined) read.height = opts.height;
  if (opts.onProgress) read.onProgress = opts.onProgress;
  if (opts.strict) read.strict = true;
  if (opts.onWarning) read.onWarning = opts.onWarning;
  return read;
}

/** A video file opened for reading in passes: the size its frames come out at, checked before any is decoded. */
export interface VideoSource {
  path: string;
  /** Frame width after --width/--height. */
  width: number;
  /** Frame height after --width/--height. */
  height: number;
  fps?: number;
  /** Frames expected: exact for Y4M, duration x fps for other containers, at most --max-frames; undefined when unknown. */
  frames?: number;
  /** A new pass over the frames (decoding the file again), its progress reported as stage `stage`. */
  pass(stage: string): AsyncIterable<VideoFrame>;
}

/**
 * Opens a video file for streamed passes: refuses a vqvid container (E_FORMAT) and, with `allowUpscale: false`,
 * a resize beyond `UPSCALE_LIMIT`, before decoding any frame.
 */
export async function openVideo(path: string, opts: ReadOptions = {}): Promise<VideoSource> {
  if (await isContainer(path, 'video')) {
    throw new VqvidError('E_FORMAT', `${path}: is a vqvid container (codebook, codes or model), expected a video`, { path });
  }
  const read = readVideoOptions(opts);
  streamVideo(path, read); // checks the options now; a stream decodes nothing until it is pulled
  const info = await probeVideo(path);
  const size = resizedSize(info, opts);
  if (opts.allowUpscale === false) checkUpscale(info, size, false);
  const stated = info.frames ?? (info.fps && info.duration ? Math.round(info.fps * info.duration) : undefined);
  const frames = stated === undefined ? undefined : Math.min(stated, opts.maxFrames ?? Infinity);
  const { onProgress } = opts;
  return {
    path,
    ...size,
    ...(info.fps !== undefined && info.fps > 0 ? { fps: info.fps } : {}),
    frames,
    pass: (stage) => streamVideo(path, { ...read, ...(onProgress ? { onProgress: (e) => onProgress({ ...e, stage }) } : {}) }),
  };
}

/** "795 frames of 768x576" (or "the frames of 768x576" when the count is unknown), for memory errors. */
function framesOf(size: FrameSize, frames: number | undefined): string {
  return `${frames ?? 'the'} frames of ${size.width}x${size.height}`;
}

/**
 * Reads a whole video file (gray, 0..255), turning "wrong format" into a readable E_FORMAT; with `maxMemory`,
 * refuses (E_RANGE naming --max-memory) a video whose frames would not fit, before reading any.
 */
export async function loadVideo(path: string, opts: ReadOptions = {}): Promise<Video> {
  if (opts.maxMemory !== undefined || opts.allowUpscale === false) {
    const source = await openVideo(path, opts);
    if (source.frames !== undefined) checkMemory(framesBytes(source, source.frames), opts.maxMemory, `holding all ${framesOf(source, source.frames)}`);
  } else if (await isContainer(path, 'video')) {
    throw new VqvidError('E_FORMAT', `${path}: is a vqvid container (codebook, codes or model), expected a video`, { path });
  }
  return readVideo(path, readVideoOptions(opts));
}

/**
 * A video's pixel standard deviation computed exactly as `normalize` of @vqvid/video computes it in memory
 * (the mean over all pixels first, then the mean squared deviation from it, both summed in frame order), from
 * frames that arrive one at a time: so a video divided by it, piece by piece, gives the same codes.
 */
export class PixelStd {
  private sum = 0;
  private n = 0;
  private mean = NaN;
  private ss = 0;
  private n2 = 0;

  /** First pass: every frame's pixels, in order. */
  addToMean(data: Float32Array): void {
    for (let i = 0; i < data.length; i++) this.sum += data[i];
    this.n += data.length;
  }

  /** Second pass: every frame's pixels again, in the same order. */
  addToDeviation(data: Float32Array): void {
    if (this.n2 === 0) this.mean = this.sum / this.n;
    const m = this.mean;
    for (let i = 0; i < data.length; i++) this.ss += (data[i] - m) ** 2;
    this.n2 += data.length;
  }

  /** The standard deviation; E_IO when the passes saw different pixels, E_RANGE (as normalize) when it is 0. */
  std(source = 'video'): number {
    if (this.n2 !== this.n) throw new VqvidError('E_IO', `${source}: read ${this.n} then ${this.n2} pixels: the file changed while it was read`, { path: source });
    const std = Math.sqrt(this.ss / this.n);
    if (!(std > 0)) fail('E_RANGE', 'video', 'pixels that are not all equal (standard deviation > 0)', std);
    return std;
  }
}

/**
 * The video's pixel std ({@link PixelStd}) and frame count, in two passes over the file; `visit` sees every
 * frame of the first.
 */
export async function streamedStd(source: VideoSource, visit?: (frame: VideoFrame) => void): Promise<{ std: number; frames: number }> {
  const s = new PixelStd();
  let frames = 0;
  for await (const f of source.pass('read')) {
    s.addToMean(f.data);
    visit?.(f);
    frames++;
  }
  for await (const f of source.pass('std')) s.addToDeviation(f.data);
  return { std: s.std(source.path), frames };
}

/** Pixels per encode call: enough to keep a backend busy, few enough to stay small (64 MB of float32 frames). */
const CHUNK_PIXELS = 2 ** 24;

/** Frames encoded per call for frames of `size` (at least one). */
function chunkFrames(size: FrameSize): number {
  return Math.max(1, Math.floor(CHUNK_PIXELS / (size.width * size.height)));
}

/** Code volumes of one grid appended along time into one array, grown by doubling from the expected count. */
class CodesCollector {
  private codes: Uint16Array | Int32Array | null = null;
  private first: CodeVolume | null = null;
  private frames = 0;

  constructor(private readonly expected = 16) {}

  add(part: CodeVolume): void {
    const cells = part.rows * part.cols;
    if (!this.first || !this.codes) {
      this.first = part;
      const Ctor = part.codes instanceof Int32Array ? Int32Array : Uint16Array;
      // a container's stated duration may be wrong: trust it for at most 2^26 codes up front
      this.codes = new Ctor(Math.max(Math.min(this.expected, Math.ceil(2 ** 26 / cells)), part.frames) * cells);
    }
    const need = (this.frames + part.frames) * cells;
    if (need > this.codes.length) {
      const grown = new (this.codes.constructor as Uint16ArrayConstructor | Int32ArrayConstructor)(Math.max(need, 2 * this.codes.length));
      grown.set(this.codes);
      this.codes = grown;
    }
    this.codes.set(part.codes, this.frames * cells);
    this.frames += part.frames;
  }

  result(): CodeVolume {
    const { rows, cols, k, geometry } = this.first!;
    const codes = this.codes!.slice(0, this.frames * rows * cols);
    return { rows, cols, frames: this.frames, k, codes, ...(geometry ? { geometry } : {}) };
  }
}

/** The divisor of a whole video for `codec.encode` of its pieces: its pixel std under 'per-video-std', else the codebook's. */
async function encodeOptions(codec: PatchCodec, std: () => number | Promise<number>): Promise<{ std?: number }> {
  return codec.meta.normalization === 'per-video-std' ? { std: await std() } : {};
}

/**
 * Encodes a video held in memory a chunk of frames at a time (no scaled copy or patch grid of all of it), with
 * the codes `codec.encode(video)` gives; `perCall` frames per encode call (default: 16M pixels' worth).
 */
export async function encodeVideo(video: Video, codec: PatchCodec, onProgress?: OnProgress, perCall = chunkFrames(video)): Promise<CodeVolume> {
  const opts = await encodeOptions(codec, () => {
    const s = new PixelStd();
    s.addToMean(video.data);
    s.addToDeviation(video.data);
    return s.std();
  });
  const out = new CodesCollector(video.frames);
  const n = video.width * video.height;
  for (let t = 0; t < video.frames; t += perCall) {
    const frames = Math.min(perCall, video.frames - t);
    out.add(await codec.encode({ width: video.width, height: video.height, frames, data: video.data.subarray(t * n, (t + frames) * n) }, opts));
    onProgress?.({ stage: 'encode', done: t + frames, total: video.frames, fraction: (t + frames) / video.frames });
  }
  return out.result();
}

/** What {@link encodeSource} does beside encoding. */
export interface EncodeSourceOptions {
  /** Sees every frame as it is encoded. */
  visit?: (frame: VideoFrame) => void;
  /** Frames the caller keeps from `visit`, counted in the estimate. */
  held?: number;
  /** Bytes the command may plan to hold: the estimate is checked before reading (E_RANGE naming --max-memory). */
  maxMemory?: number;
  /** Frames per encode call; default 16M pixels' worth. */
  perCall?: number;
}

/**
 * Encodes a video file streamed, a chunk of frames at a time, with the codes the whole video read into memory
 * would get (two more passes compute its std first under 'per-video-std').
 */
export async function encodeSource(source: VideoSource, codec: PatchCodec, { visit, held = 0, maxMemory, perCall }: EncodeSourceOptions = {}): Promise<CodeVolume> {
  checkMemory(streamedEncodeBytes(source, codec) + framesBytes(source, held), maxMemory, `encoding ${framesOf(source, source.frames)}`);
  const opts = await encodeOptions(codec, async () => (await streamedStd(source)).std);
  const out = new CodesCollector(source.frames);
  const per = perCall ?? chunkFrames(source);
  let chunk: Video | null = null;
  const flush = async () => {
    if (chunk && chunk.frames > 0) out.add(await codec.encode({ ...chunk, data: chunk.data.subarray(0, chunk.frames * chunk.width * chunk.height) }, opts));
    if (chunk) chunk.frames = 0;
  };
  for await (const f of source.pass('encode')) {
    visit?.(f);
    const n = f.width * f.height;
    chunk ??= { width: f.width, height: f.height, frames: 0, data: new Float32Array(per * n) };
    chunk.data.set(f.data, chunk.frames * n);
    if (++chunk.frames === per) await flush();
  }
  await flush();
  return out.result();
}

/** Bytes of a streamed encode of `source` with `codec`: the codes of every frame and one chunk's work. */
function streamedEncodeBytes(source: VideoSource, codec: PatchCodec): number {
  const { size, stride } = codec.meta.patch;
  const cells = Math.ceil(source.width / stride) * Math.ceil(source.height / stride);
  const codeBytes = codec.k > 65536 ? 4 : 2;
  const chunk = Math.min(chunkFrames(source), source.frames ?? Infinity);
  return (source.frames ?? 0) * cells * codeBytes + encodeBytes(source, chunk, size, stride);
}

/** Bytes k-means holds for `sample` patches of `patch`² values: the sample, its scaled copy, the points and their distances. */
function fitBytes(sample: number, patch: number): number {
  return 4 * sample * patch * patch * 4;
}

/**
 * Fits a codec on a video file streamed twice, returning it and the frames read: the first pass draws the
 * k-means sample (a `PatchReservoir` seeded with `options.seed`, so at most `options.sample` patches are ever
 * held) and sums the pixels, the second finishes the std. When the video holds no more patches than the sample,
 * all are drawn and the codec is the one `PatchCodec.fit` makes of the whole video; otherwise the sample is
 * another uniform draw, the same for the same seed. With `maxMemory`, refuses a sample that would not fit.
 */
export async function fitSource(source: VideoSource, options: PatchCodecOptions & { k: number; patch: number; sample: number }, maxMemory?: number): Promise<{ codec: PatchCodec; frames: number }> {
  const { patch, stride = patch, sample, seed = 1 } = options;
  // checked as PatchCodec.fit checks them, before minutes of reading
  assertInt(patch, 'patch', 1, 256);
  assertInt(stride, 'stride', 1, patch);
  assertInt(sample, 'sample', 1);
  const bytes = fitBytes(sample, patch) + framesBytes(source, 2); // and a frame read (with its source when resized)
  checkMemory(bytes, maxMemory, `k-means on ${sample} patches of ${patch}x${patch} from frames of ${source.width}x${source.height}`, 'draw fewer patches (--samples)');
  const reservoir = new PatchReservoir({ count: sample, seed, size: patch, stride });
  const { std, frames } = await streamedStd(source, (f) => reservoir.add({ width: f.width, height: f.height, frames: 1, data: f.data }));
  return { codec: await PatchCodec.fitSample(reservoir.result(), std, options), frames };
}

/** Where codes came from, saved beside them in codes files: `fps` (of the video) and `source` (its path). */
export type Provenance = Record<string, unknown>;

/** The provenance of codes made from a video (or a {@link VideoSource}) read from `source`. */
export function provenanceOf(video: { fps?: number }, source?: string): Provenance {
  const out: Provenance = {};
  if (video.fps !== undefined) out.fps = video.fps;
  if (source !== undefined) out.source = source;
  return out;
}

/** An input given as a video or a codes file: its codes (with geometry), and for a video the frames kept. */
export interface CodesInput {
  codes: CodeVolume;
  /** For a video input, the frames asked for ({@link FrameWindow}); absent for codes, or when none were. */
  video?: Video;
  /** Index in `codes` of `video`'s first frame when only the last frames were kept; 0 when absent. */
  videoStart?: number;
  meta: Provenance;
}

/**
 * Which frames of a video input are kept beside its codes: 'all' reads the whole video into memory (the
 * codes are then made from it); `{ last, end }` streams the video and keeps only the `last` frames before
 * frame `end` (default: the end of the video); `{ last: 0 }` keeps none.
 */
export type FrameWindow = 'all' | { last: number; end?: number };

/** The last `last` frames seen before frame `end`, kept as they stream past. */
class FrameRing {
  private readonly ring: VideoFrame[] = [];

  constructor(private readonly last: number, private readonly end = Infinity) {}

  add(f: VideoFrame): void {
    if (this.last === 0 || f.index >= this.end) return;
    this.ring.push(f); // streams make a new array per frame
    if (this.ring.length > this.last) this.ring.shift();
  }

  result(fps?: number): { video?: Video; start: number } {
    if (this.ring.length === 0) return { start: 0 };
    const video = stackFrames(this.ring.map((f) => ({ width: f.width, height: f.height, frames: 1, data: f.data })));
    if (fps !== undefined) video.fps = fps;
    return { video, start: this.ring[0].index };
  }
}

/**
 * A video (encoded with the codec) or a codes file (checked against the codec's K), told apart by content.
 * `keep` says which frames of a video are needed beside the codes: only 'all' holds the whole video; with
 * `maxMemory` what would be held is estimated first (E_RANGE naming --max-memory).
 */
export async function loadCodesOrVideo(path: string, codec: PatchCodec, opts: ReadOptions = {}, keep: FrameWindow = 'all'): Promise<CodesInput> {
  if (await isContainer(path, 'input')) {
    const { codes, meta } = await readCodes(path, 'input');
    checkCodebookK(codec, codes.k);
    return { codes, meta, videoStart: 0 };
  }
  if (keep === 'all') {
    const video = await loadVideo(path, opts);
    return { codes: await encodeVideo(video, codec, opts.onProgress), video, videoStart: 0, meta: provenanceOf(video, path) };
  }
  const source = await openVideo(path, opts);
  const ring = new FrameRing(keep.last, keep.end);
  const held = Math.min(keep.last, keep.end ?? Infinity, source.frames ?? Infinity);
  const codes = await encodeSource(source, codec, { visit: (f) => ring.add(f), held, maxMemory: opts.maxMemory });
  const { video, start } = ring.result(source.fps);
  return { codes, ...(video ? { video } : {}), videoStart: start, meta: provenanceOf(source, path) };
}

/** E_SHAPE naming both sizes when codes (or a model) were made for another codebook. */
export function checkCodebookK(book: { codebook: { k: number } }, k: number, what = 'codes'): void {
  if (k !== book.codebook.k) fail('E_SHAPE', `${what} k`, `the codebook's K = ${book.codebook.k}`, k);
}
