import { VqvidError, assertVideo, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { fpsToRatio, frameToBytes } from './pixels';

/** 8-bit Y4M colour spaces this package reads; the luma plane is always first and `width*height` bytes. */
const CHROMA_BYTES: Record<string, (w: number, h: number) => number> = {
  mono: () => 0,
  '420jpeg': chroma420,
  '420paldv': chroma420,
  '420mpeg2': chroma420,
  '420': chroma420,
  '422': (w, h) => 2 * Math.ceil(w / 2) * h,
  '444': (w, h) => 2 * w * h,
  '444alpha': (w, h) => 3 * w * h,
};

function chroma420(w: number, h: number): number {
  return 2 * Math.ceil(w / 2) * Math.ceil(h / 2);
}

/** Colour spaces {@link encodeY4m} can write (chroma planes are written as neutral 128). */
export type Y4mColorspace = 'mono' | '420jpeg' | '420paldv' | '420mpeg2' | '420' | '444';
const WRITABLE: readonly string[] = ['mono', '420jpeg', '420paldv', '420mpeg2', '420', '444'];

/** Interlacing flag of a Y4M stream: progressive, top/bottom field first, mixed, unknown. */
export type Y4mInterlace = 'p' | 't' | 'b' | 'm' | '?';

/** Everything in a Y4M stream header, plus derived byte sizes. */
export interface Y4mHeader {
  /** W parameter: width in pixels. */
  width: number;
  /** H parameter: height in pixels. */
  height: number;
  /** Frame rate as a ratio [numerator, denominator], when given and non-zero. */
  fpsRatio?: [number, number];
  /** fpsRatio as a number of frames per second. */
  fps?: number;
  /** Pixel aspect ratio [numerator, denominator]; [0, 0] means unknown. */
  aspect?: [number, number];
  /** I parameter; 'p' when absent. */
  interlace: Y4mInterlace;
  /** The C parameter ('420jpeg' when absent, as the format specifies). */
  colorspace: string;
  /** X parameters without the leading 'X'. */
  comments: string[];
  /** Bytes of the header line including its newline. */
  headerBytes: number;
  /** Bytes of one frame's planes (without the FRAME line). */
  frameBytes: number;
}

/** A parsed Y4M byte string: its header and where each frame is. */
export interface Y4mIndex {
  /** The stream header. */
  header: Y4mHeader;
  /** One entry per frame, in order. */
  frames: Y4mFrameIndex[];
}

/** One frame of a parsed Y4M byte string: where its luma plane starts and its FRAME parameters. */
export interface Y4mFrameIndex {
  /** Byte offset of the first luma byte. */
  offset: number;
  /** FRAME parameters as written (e.g. 'Ip', 'Xfoo=1'). */
  params: string[];
}

const MAGIC = 'YUV4MPEG2';
const FRAME = 'FRAME';
/** Longest header or FRAME line accepted: real ones are < 100 bytes; the bound keeps corrupt input cheap. */
export const Y4M_MAX_LINE = 4096;
/** Sizes above this are treated as corrupt rather than attempted. */
const MAX_SIDE = 1 << 15;

function bad(source: string, problem: string): never {
  throw new VqvidError('E_FORMAT', `${source}: not a readable Y4M stream (${problem})`, { source, problem });
}

/** Index of the first '\n' in bytes[from, from+limit), or -1. */
export function findNewline(bytes: Uint8Array, from: number, limit = Y4M_MAX_LINE): number {
  const end = Math.min(bytes.length, from + limit);
  for (let i = from; i < end; i++) if (bytes[i] === 10) return i;
  return -1;
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** True when `bytes` starts with the Y4M magic "YUV4MPEG2 ". */
export function hasY4mMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 10 && ascii(bytes, 0, 10) === MAGIC + ' ';
}

function parseRatio(text: string, what: string, source: string): [number, number] {
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(text);
  if (!m) bad(source, `${what} '${text}' is not N:D`);
  return [Number(m[1]), Number(m[2])];
}

function parseSide(text: string, what: string, source: string): number {
  if (!/^\d{1,6}$/.test(text)) bad(source, `${what} '${text}' is not an integer`);
  const v = Number(text);
  if (v < 1 || v > MAX_SIDE) bad(source, `${what} ${v} is out of range 1..${MAX_SIDE}`);
  return v;
}

/**
 * Parses the stream header line of a Y4M (YUV4MPEG2) byte string.
 * @param bytes the file's first bytes (at least the whole header line).
 * @param source a name for error messages (file path or 'bytes').
 * @example
 * ```ts
 * const h = parseY4mHeader(bytes); // { width: 64, height: 48, fps: 25, interlace: 'p', colorspace: 'mono', ... }
 * ```
 */
export function parseY4mHeader(bytes: Uint8Array, source = 'bytes'): Y4mHeader {
  if (!(bytes instanceof Uint8Array)) bad(source, 'input is not a Uint8Array');
  if (!hasY4mMagic(bytes)) bad(source, `missing "${MAGIC} " magic`);
  const nl = findNewline(bytes, 0);
  if (nl < 0) bad(source, `header line not terminated within ${Y4M_MAX_LINE} bytes`);
  let width = 0;
  let height = 0;
  const h: Omit<Y4mHeader, 'width' | 'height' | 'frameBytes'> = {
    interlace: 'p',
    colorspace: '420jpeg',
    comments: [],
    headerBytes: nl + 1,
  };
  for (const tok of ascii(bytes, MAGIC.length + 1, nl).split(' ')) {
    if (tok === '') continue;
    const key = tok[0];
    const val = tok.slice(1);
    if (key === 'W') width = parseSide(val, 'width', source);
    else if (key === 'H') height = parseSide(val, 'height', source);
    else if (key === 'F') {
      const r = parseRatio(val, 'frame rate', source);
      if (r[0] > 0 && r[1] > 0) {
        h.fpsRatio = r;
        h.fps = r[0] / r[1];
      }
    } else if (key === 'A') h.aspect = parseRatio(val, 'aspect', source);
    else if (key === 'I') {
      if (!/^[ptbm?]$/.test(val)) bad(source, `interlace flag '${val}' is not one of p t b m ?`);
      h.interlace = val as Y4mInterlace;
    } else if (key === 'C') h.colorspace = val;
    else if (key === 'X') h.comments.push(val);
    else bad(source, `unknown header parameter '${tok.slice(0, 20)}'`);
  }
  if (!width || !height) bad(source, 'header lacks W or H');
  const chroma = CHROMA_BYTES[h.colorspace];
  if (!chroma) bad(source, `unsupported colour space C${h.colorspace} (8-bit mono, 420*, 422, 444, 444alpha are read)`);
  return { width, height, ...h, frameBytes: width * height + chroma(width, height) };
}

/**
 * Parses one FRAME line at `pos`; returns its parameters and the offset of the frame data, or null when
 * the line is not complete within `bytes` (so a streaming reader can fetch more and retry).
 */
export function parseFrameLine(bytes: Uint8Array, pos: number, source: string): { params: string[]; dataStart: number } | null {
  const nl = findNewline(bytes, pos);
  if (nl < 0) {
    if (bytes.length - pos >= Y4M_MAX_LINE) bad(source, `FRAME line at byte ${pos} not terminated`);
    if (ascii(bytes, pos, Math.min(bytes.length, pos + 5)) !== FRAME.slice(0, bytes.length - pos)) {
      bad(source, `expected FRAME at byte ${pos}`);
    }
    return null;
  }
  const line = ascii(bytes, pos, nl);
  if (line !== FRAME && !line.startsWith(FRAME + ' ')) bad(source, `expected FRAME at byte ${pos}`);
  return { params: line.slice(FRAME.length).split(' ').filter((p) => p !== ''), dataStart: nl + 1 };
}

/**
 * Indexes a whole Y4M byte string: header plus, per frame, its luma offset and FRAME parameters.
 * Throws E_FORMAT on truncation, trailing garbage or zero frames.
 * @example
 * ```ts
 * const { header, frames } = parseY4m(bytes);
 * console.log(header.interlace, frames[0].params);
 * ```
 */
export function parseY4m(bytes: Uint8Array, source = 'bytes'): Y4mIndex {
  const header = parseY4mHeader(bytes, source);
  const frames: Y4mFrameIndex[] = [];
  let pos = header.headerBytes;
  while (pos < bytes.length) {
    const line = parseFrameLine(bytes, pos, source);
    if (!line) bad(source, `truncated FRAME line at byte ${pos}`);
    if (line.dataStart + header.frameBytes > bytes.length) {
      bad(source, `frame ${frames.length} truncated: needs ${header.frameBytes} bytes, ${bytes.length - line.dataStart} left`);
    }
    frames.push({ offset: line.dataStart, params: line.params });
    pos = line.dataStart + header.frameBytes;
  }
  if (frames.length === 0) bad(source, 'zero frames');
  return { header, frames };
}

/** Copies `n` bytes of luma starting at `offset` into `out` at `at`, as floats; returns `out`. */
export function lumaToFloat(bytes: Uint8Array, offset: number, n: number, out: Float32Array, at = 0): Float32Array {
  for (let i = 0; i < n; i++) out[at + i] = bytes[offset + i];
  return out;
}

/**
 * Decodes a Y4M byte string into a gray Video (the Y plane of every frame, values 0..255).
 * @param bytes the whole file.
 * @example
 * ```ts
 * const video = decodeY4m(fs.readFileSync('clip.y4m'));
 * ```
 */
export function decodeY4m(bytes: Uint8Array, source = 'bytes'): Video {
  const { header, frames } = parseY4m(bytes, source);
  const n = header.width * header.height;
  const data = new Float32Array(n * frames.length);
  frames.forEach((f, t) => lumaToFloat(bytes, f.offset, n, data, t * n));
  const video: Video = { width: header.width, height: header.height, frames: frames.length, data };
  if (header.fps !== undefined) video.fps = header.fps;
  return video;
}

/** Options of {@link encodeY4m}. */
export interface EncodeY4mOptions {
  /** Colour space to write; chroma planes are neutral (128). Default 'mono'. */
  colorspace?: Y4mColorspace;
  /** Frame rate; default video.fps, else 25. */
  fps?: number;
  /** Interlacing flag to write; default 'p'. */
  interlace?: Y4mInterlace;
  /** Extra X header comments (without the 'X'). */
  comments?: string[];
}

/**
 * Encodes a gray Video as Y4M bytes; values are rounded and clamped to 0..255.
 * @example
 * ```ts
 * const bytes = encodeY4m(video, { colorspace: 'mono', fps: 25 });
 * ```
 */
export function encodeY4m(video: Video, opts: EncodeY4mOptions = {}): Uint8Array {
  assertVideo(video, 'video');
  const cs = opts.colorspace ?? 'mono';
  if (!WRITABLE.includes(cs)) {
    fail('E_RANGE', 'colorspace', 'one of mono, 420jpeg, 420paldv, 420mpeg2, 420, 444', cs);
  }
  for (const c of opts.comments ?? []) {
    if (!/^[\x21-\x7e]*$/.test(c)) fail('E_RANGE', 'comments', 'printable ASCII without spaces', c);
  }
  if (opts.interlace !== undefined && !/^[ptbm?]$/.test(opts.interlace)) fail('E_RANGE', 'interlace', 'one of p t b m ?', opts.interlace);
  const { width: w, height: h, frames } = video;
  const [num, den] = fpsToRatio(opts.fps ?? video.fps ?? 25);
  const extra = (opts.comments ?? []).map((c) => ` X${c}`).join('');
  const head = new TextEncoder().encode(`${MAGIC} W${w} H${h} F${num}:${den} I${opts.interlace ?? 'p'} A1:1 C${cs}${extra}\n`);
  const chroma = CHROMA_BYTES[cs](w, h);
  const frameLen = 6 + w * h + chroma;
  const out = new Uint8Array(head.length + frames * frameLen);
  out.set(head);
  const frameLine = new TextEncoder().encode('FRAME\n');
  for (let t = 0; t < frames; t++) {
    const at = head.length + t * frameLen;
    out.set(frameLine, at);
    frameToBytes(video.data, t * w * h, w * h, out.subarray(at + 6, at + 6 + w * h));
    out.fill(128, at + 6 + w * h, at + frameLen);
  }
  return out;
}
