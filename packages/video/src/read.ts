import { open, stat } from 'node:fs/promises';
import { VqvidError, assertInt, fail } from '@vqvid/core';
import type { OnProgress, Video } from '@vqvid/core';
import { aviStatedLength } from './avi';
import { ffmpegCountFrames, ffmpegGrayFrames, ffmpegProbe } from './ffmpeg';
import type { GrayFramesInfo } from './ffmpeg';
import { makeFrameResizer } from './resize';
import { Y4M_MAX_LINE, hasY4mMagic, lumaToFloat, parseFrameLine, parseY4mHeader } from './y4m';
import type { Y4mHeader } from './y4m';

/** How to decode: 'y4m' natively, 'ffmpeg' for anything else, 'auto' by magic bytes then extension. */
export type VideoFormat = 'auto' | 'y4m' | 'ffmpeg';

/** Options of {@link readVideo} and {@link streamVideo}. */
export interface ReadVideoOptions {
  /** First frame to return (0-based). Default 0. */
  start?: number;
  /** Most frames to return. Default all. */
  maxFrames?: number;
  /** Resize target width in pixels (area averaging). Giving only one of width/height keeps the aspect ratio. */
  width?: number;
  /** Resize target height in pixels (area averaging). */
  height?: number;
  /** Decoder choice; default 'auto'. */
  format?: VideoFormat;
  /** Called after each frame with stage 'read'. */
  onProgress?: OnProgress;
  /**
   * Fail (E_FORMAT, naming the file and the frame counts) on a video that ffmpeg reports as damaged or that
   * ends before the duration its container states, instead of warning and keeping the frames that decoded.
   * Default false.
   */
  strict?: boolean;
  /** Where the warning about a truncated or damaged video goes (one line, naming the file); default `console.warn`. */
  onWarning?: (message: string) => void;
}

/** One decoded gray frame; `index` is its position in the source video. */
export interface VideoFrame {
  /** 0-based frame number in the source (so the first frame read with `start: 10` has index 10). */
  index: number;
  /** Frame width in pixels (after resizing). */
  width: number;
  /** Frame height in pixels (after resizing). */
  height: number;
  /** height*width values 0..255, row-major. */
  data: Float32Array;
}

/** What {@link probeVideo} finds out without decoding the frames. */
export interface VideoInfo {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Frames per second, when the container states it. */
  fps?: number;
  /** Exact frame count: always for Y4M, for ffmpeg sources only with `countFrames`. */
  frames?: number;
  /** Seconds, as the container states (ffmpeg sources). */
  duration?: number;
  /** Which decoder reads it. */
  format: 'y4m' | 'ffmpeg';
  /** Codec name as ffmpeg reports it, or 'y4m C<colourspace>'. */
  codec?: string;
}

/** Random access to a file or an in-memory byte string. */
interface ByteSource {
  size: number;
  read(pos: number, len: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

function sourceName(src: string | Uint8Array): string {
  return typeof src === 'string' ? src : 'bytes';
}

async function openSource(src: string | Uint8Array): Promise<ByteSource> {
  if (typeof src !== 'string') {
    return { size: src.length, read: async (pos, len) => src.subarray(pos, pos + len), close: async () => undefined };
  }
  const handle = await open(src, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new VqvidError('E_NOT_FOUND', `${src}: file does not exist`, { path: src });
    throw new VqvidError('E_IO', `${src}: could not open (${e.message})`, { path: src });
  });
  const { size } = await handle.stat();
  return {
    size,
    read: async (pos, len) => {
      const buf = new Uint8Array(Math.max(0, Math.min(len, size - pos)));
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      return buf.subarray(0, bytesRead);
    },
    close: () => handle.close(),
  };
}

async function checkSource(src: unknown): Promise<void> {
  if (src instanceof Uint8Array) return;
  if (typeof src !== 'string' || src === '') fail('E_SHAPE', 'src', 'a file path or a Uint8Array', src);
  const s = await stat(src).catch(() => null);
  if (!s) throw new VqvidError('E_NOT_FOUND', `${src}: file does not exist`, { path: src });
  if (!s.isFile()) throw new VqvidError('E_FORMAT', `${src}: not a regular file`, { path: src });
}

/** Resolves 'auto' by the Y4M magic, then by a '.y4m' extension (so a broken .y4m is reported as Y4M). */
async function detectFormat(src: string | Uint8Array, format: VideoFormat = 'auto'): Promise<'y4m' | 'ffmpeg'> {
  if (format !== 'auto' && format !== 'y4m' && format !== 'ffmpeg') fail('E_RANGE', 'format', "'auto', 'y4m' or 'ffmpeg'", format);
  if (format !== 'auto') return format;
  const bytes = typeof src === 'string' ? await readHead(src, 10) : src;
  if (hasY4mMagic(bytes)) return 'y4m';
  return typeof src === 'string' && /\.y4m$/i.test(src) ? 'y4m' : 'ffmpeg';
}

async function readHead(path: string, n: number): Promise<Uint8Array> {
  const s = await openSource(path);
  try {
    return await s.read(0, n);
  } finally {
    await s.close();
  }
}

/**
 * Y4M frames as (index, luma bytes); luma is read only from frame `from` on, but every frame line is
 * parsed and every frame's length checked, so truncation is caught wherever it is.
 */
async function* y4mFrames(s: ByteSource, source: string, header: Y4mHeader, from = 0): AsyncGenerator<{ index: number; luma: Uint8Array | null }> {
  const luma = header.width * header.height;
  let pos = header.headerBytes;
  for (let index = 0; pos < s.size; index++) {
    const line = parseFrameLine(await s.read(pos, 64), 0, source) ?? parseFrameLine(await s.read(pos, Y4M_MAX_LINE), 0, source);
    if (!line) throw new VqvidError('E_FORMAT', `${source}: not a readable Y4M stream (truncated FRAME line at byte ${pos})`, { source });
    const dataStart = pos + line.dataStart;
    if (dataStart + header.frameBytes > s.size) {
      throw new VqvidError('E_FORMAT', `${source}: not a readable Y4M stream (frame ${index} truncated: needs ${header.frameBytes} bytes, ${s.size - dataStart} left)`, { source });
    }
    yield { index, luma: index >= from ? await s.read(dataStart, luma) : null };
    pos = dataStart + header.frameBytes;
  }
}

async function readY4mHeader(s: ByteSource, source: string): Promise<Y4mHeader> {
  return parseY4mHeader(await s.read(0, Y4M_MAX_LINE), source);
}

/** Internal stream: byte frames from either decoder plus the size/fps they have, known by the first frame. */
interface RawStream {
  /** `expected`: frame count guessed from the container (duration x fps, or Y4M size / frame size). */
  meta: { width?: number; height?: number; fps?: number; expected?: number };
  frames: AsyncGenerator<{ index: number; luma: Uint8Array | null }>;
}

/** How a decoded ffmpeg stream is judged at its end: what the caller asked for and what the file states. */
interface DecodeCheck {
  source: string;
  strict: boolean;
  warn: (message: string) => void;
  /** The whole stream was asked for, so a short one is short (not cut by maxFrames). */
  toTheEnd: boolean;
  /** The length the AVI header states, when the source is an AVI (ffmpeg's duration is a guess for a cut one). */
  avi?: { frames: number; seconds: number };
}

/** Two frames or a quarter second: what rounding and an audio track a little longer than the video may explain. */
function shortfallTolerance(fps: number | undefined): number {
  return Math.max(fps ? 2 / fps : 0, 0.25);
}

/** What the container states, in words, or undefined when it states nothing to compare with. */
function statedLength(check: DecodeCheck, info: GrayFramesInfo): { seconds: number; words: string } | undefined {
  if (check.avi) return { seconds: check.avi.seconds, words: `the AVI header states ${check.avi.frames} frames (${check.avi.seconds.toFixed(2)} s)` };
  const { duration, fps } = info.stream ?? {};
  if (!duration) return undefined;
  const about = fps ? ` (about ${Math.round(duration * fps)} frames at ${fps} fps)` : '';
  return { seconds: duration, words: `the container states ${duration.toFixed(2)} s${about}` };
}

/**
 * The complaint about a finished ffmpeg decode, or null: ffmpeg's error lines (dropped corrupt packets, read
 * errors), and decoded frames covering less than the stated length by more than {@link shortfallTolerance}.
 */
function decodeComplaint(check: DecodeCheck, info: GrayFramesInfo, decoded: number, finished = true): string | null {
  const problems = info.problems ?? [];
  const stated = check.toTheEnd && finished ? statedLength(check, info) : undefined;
  const covered = info.seconds ?? (info.stream?.fps ? decoded / info.stream.fps : undefined);
  const short = stated !== undefined && covered !== undefined && stated.seconds - covered > shortfallTolerance(info.stream?.fps);
  if (!short && problems.length === 0) return null;
  const what = short ? 'truncated or damaged' : 'damaged';
  const counts = short
    ? `decoded ${decoded} frames (${covered!.toFixed(2)} s), but ${stated!.words}`
    : `ffmpeg reported errors ${finished ? `while decoding its ${decoded} frames` : `after ${decoded} frames`}`;
  const said = problems.length ? `; ffmpeg: ${problems.slice(0, 3).join(' | ')}${problems.length > 3 ? ` (+${problems.length - 3} more)` : ''}` : '';
  return `${check.source}: video is ${what}: ${counts}${said}`;
}

/** Frames from ffmpeg, judged at the end (and, when strict, failed at the first error ffmpeg reports). */
async function* ffmpegRaw(src: string | Uint8Array, limit: number | undefined, check: DecodeCheck, meta: RawStream['meta']) {
  const info: GrayFramesInfo = {};
  let index = 0;
  for await (const luma of ffmpegGrayFrames(src, check.source, limit, info)) {
    if (check.strict && info.problems?.length) throw new VqvidError('E_FORMAT', decodeComplaint(check, info, index, false)!, { source: check.source, frames: index });
    const { width, height, fps, duration } = info.stream!;
    const expected = fps && duration ? Math.round(fps * duration) : undefined;
    Object.assign(meta, { width, height, fps, expected });
    yield { index: index++, luma };
  }
  const complaint = decodeComplaint(check, info, index);
  if (complaint === null) return;
  if (check.strict || index === 0) throw new VqvidError('E_FORMAT', complaint, { source: check.source, frames: index });
  check.warn(`${complaint} (kept the ${index} frames that decoded)`);
}

async function openRaw(src: string | Uint8Array, opts: ReadVideoOptions, start: number, limit: number | undefined): Promise<RawStream> {
  await checkSource(src);
  const source = sourceName(src);
  if ((await detectFormat(src, opts.format)) === 'ffmpeg') {
    const head = typeof src === 'string' ? await readHead(src, 1 << 16) : src.subarray(0, 1 << 16);
    const check: DecodeCheck = {
      source,
      strict: opts.strict === true,
      warn: opts.onWarning ?? ((m) => console.warn(m)),
      toTheEnd: limit === undefined,
    };
    const avi = aviStatedLength(head);
    if (avi) check.avi = avi;
    const meta: RawStream['meta'] = {};
    return { meta, frames: ffmpegRaw(src, limit, check, meta) };
  }
  const s = await openSource(src);
  try {
    const header = await readY4mHeader(s, source);
    async function* closing() {
      try {
        yield* y4mFrames(s, source, header, start);
      } finally {
        await s.close();
      }
    }
    const expected = Math.floor((s.size - header.headerBytes) / (header.frameBytes + 6));
    return { meta: { width: header.width, height: header.height, fps: header.fps, expected }, frames: closing() };
  } catch (e) {
    await s.close();
    throw e;
  }
}

function targetSize(opts: ReadVideoOptions, w: number, h: number): [number, number] {
  if (opts.width === undefined && opts.height === undefined) return [w, h];
  const tw = opts.width ?? Math.max(1, Math.round((w * opts.height!) / h));
  const th = opts.height ?? Math.max(1, Math.round((h * opts.width!) / w));
  return [tw, th];
}

function checkOptions(opts: ReadVideoOptions): void {
  if (typeof opts !== 'object' || opts === null) fail('E_SHAPE', 'opts', 'an options object', opts);
  if (opts.start !== undefined) assertInt(opts.start, 'start', 0);
  if (opts.maxFrames !== undefined) assertInt(opts.maxFrames, 'maxFrames', 1);
  if (opts.width !== undefined) assertInt(opts.width, 'width', 1, 1 << 15);
  if (opts.height !== undefined) assertInt(opts.height, 'height', 1, 1 << 15);
  if (opts.strict !== undefined && typeof opts.strict !== 'boolean') fail('E_SHAPE', 'strict', 'a boolean', opts.strict);
  if (opts.onWarning !== undefined && typeof opts.onWarning !== 'function') fail('E_SHAPE', 'onWarning', 'a function', opts.onWarning);
}

/** A container's stated duration may be wrong; trust it for at most this many floats (512 MB) up front. */
const MAX_FIRST_ALLOCATION = 2 ** 27;

/**
 * Concatenates equal-sized frames into one array, preallocated from an expected count and doubled when
 * that was low, so a whole read holds its frames once, not as a list plus its concatenation.
 */
export class FrameCollector {
  private data: Float32Array;
  private frames = 0;

  constructor(private readonly frameSize: number, expected = 16) {
    this.data = new Float32Array(Math.max(1, Math.min(expected, Math.ceil(MAX_FIRST_ALLOCATION / frameSize))) * frameSize);
  }

  push(frame: Float32Array): void {
    const n = this.frameSize;
    if ((this.frames + 1) * n > this.data.length) {
      const grown = new Float32Array(2 * this.frames * n);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.set(frame, this.frames * n);
    this.frames++;
  }

  /** The frames pushed so far, trimmed to their exact length. */
  finish(): Float32Array {
    const used = this.frames * this.frameSize;
    return used === this.data.length ? this.data : this.data.slice(0, used);
  }
}

/** What readVideo learns from the stream: frame rate and the expected frame count (for preallocation). */
interface StreamMeta {
  fps?: number;
  expected?: number;
}

/** Frames with the meta of their source; the shared engine of streamVideo and readVideo. */
async function* frameStream(src: string | Uint8Array, opts: ReadVideoOptions, meta: StreamMeta): AsyncGenerator<VideoFrame> {
  const start = opts.start ?? 0;
  const limit = opts.maxFrames === undefined ? undefined : start + opts.maxFrames;
  const raw = await openRaw(src, opts, start, limit);
  // Set from the first frame: ffmpeg sources only know their size once decoding has started.
  let resize: ((f: Uint8Array) => Float32Array) | null | undefined;
  let tw = 0;
  let th = 0;
  let emitted = 0;
  let seen = 0;
  try {
    for await (const { index, luma } of raw.frames) {
      seen = index + 1;
      if (index < start || !luma) continue;
      const w = raw.meta.width!;
      const h = raw.meta.height!;
      if (resize === undefined) {
        [tw, th] = targetSize(opts, w, h);
        meta.fps = raw.meta.fps;
        if (raw.meta.expected !== undefined) meta.expected = Math.max(1, Math.min(raw.meta.expected - start, opts.maxFrames ?? Infinity));
        resize = tw === w && th === h ? null : makeFrameResizer(w, h, tw, th);
      }
      yield { index, width: tw, height: th, data: resize ? resize(luma) : lumaToFloat(luma, 0, w * h, new Float32Array(w * h)) };
      emitted++;
      opts.onProgress?.({ stage: 'read', done: emitted, total: meta.expected });
      if (limit !== undefined && index + 1 >= limit) break;
    }
  } finally {
    await raw.frames.return(undefined);
  }
  if (emitted === 0 && seen === 0) throw new VqvidError('E_FORMAT', `${sourceName(src)}: zero frames`, { source: sourceName(src) });
  if (emitted === 0) fail('E_RANGE', 'start', `a frame index below the frame count ${seen}`, start);
}

/**
 * Streams gray frames (values 0..255) one at a time, so a long video never sits in memory. Y4M is read
 * natively; anything else is decoded by ffmpeg through a pipe that is only read as fast as the consumer
 * pulls, and ffmpeg is killed when the consumer stops early.
 * @param src a file path or the file's bytes.
 * @example
 * ```ts
 * for await (const frame of streamVideo('clip.avi', { maxFrames: 100, width: 160, height: 120 })) {
 *   console.log(frame.index, frame.data.length);
 * }
 * ```
 */
export function streamVideo(src: string | Uint8Array, opts: ReadVideoOptions = {}): AsyncIterable<VideoFrame> {
  checkOptions(opts); // when called, not at the first pull
  return frameStream(src, opts, {});
}

/**
 * Reads a video (or a frame range of it) into one gray {@link @vqvid/core!Video | Video}, values 0..255.
 * @param src a file path or the file's bytes; Y4M natively, anything else through ffmpeg.
 * @example
 * ```ts
 * const video = await readVideo('../shared/data/vtest.avi', { width: 320, height: 240, maxFrames: 50 });
 * ```
 */
export async function readVideo(src: string | Uint8Array, opts: ReadVideoOptions = {}): Promise<Video> {
  checkOptions(opts);
  const meta: StreamMeta = {};
  let collector: FrameCollector | null = null;
  let width = 0;
  let height = 0;
  for await (const f of frameStream(src, opts, meta)) {
    ({ width, height } = f);
    collector ??= new FrameCollector(width * height, meta.expected);
    collector.push(f.data);
  }
  const data = collector!.finish();
  const frames = data.length / (width * height);
  const video: Video = { width, height, frames, data };
  if (meta.fps !== undefined && meta.fps > 0) video.fps = meta.fps;
  return video;
}

/** Options of {@link probeVideo}. */
export interface ProbeVideoOptions {
  /** Decoder choice; default 'auto'. */
  format?: VideoFormat;
  /** For ffmpeg sources, decode once to count frames exactly (Y4M frames are always counted). */
  countFrames?: boolean;
}

/**
 * Size, frame rate and (for Y4M, or with `countFrames`) the exact frame count of a video, without keeping
 * any frame. ffmpeg sources are probed by parsing the stderr of `ffmpeg -i`.
 * @example
 * ```ts
 * const { width, height, fps, frames } = await probeVideo('clip.y4m');
 * ```
 */
export async function probeVideo(src: string | Uint8Array, opts: ProbeVideoOptions = {}): Promise<VideoInfo> {
  await checkSource(src);
  const source = sourceName(src);
  if ((await detectFormat(src, opts.format)) === 'ffmpeg') {
    const s = await ffmpegProbe(src, source);
    const info: VideoInfo = { width: s.width, height: s.height, format: 'ffmpeg' };
    if (s.fps !== undefined) info.fps = s.fps;
    if (s.duration !== undefined) info.duration = s.duration;
    if (s.codec !== undefined) info.codec = s.codec;
    if (opts.countFrames) info.frames = await ffmpegCountFrames(src, source);
    return info;
  }
  const s = await openSource(src);
  try {
    const header = await readY4mHeader(s, source);
    let frames = 0;
    for await (const f of y4mFrames(s, source, header, Infinity)) frames = f.index + 1;
    if (frames === 0) throw new VqvidError('E_FORMAT', `${source}: zero frames`, { source });
    const info: VideoInfo = { width: header.width, height: header.height, frames, format: 'y4m', codec: `y4m C${header.colorspace}` };
    if (header.fps !== undefined) info.fps = header.fps;
    return info;
  } finally {
    await s.close();
  }
}
