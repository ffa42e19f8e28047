import { assertCodeVolume, assertInt, checkSchema, crc32, fail, packContainer, unpackContainer, VqvidError } from '@vqvid/core';
import type { CodeGeometry, CodeVolume, Schema, SteppableModel, StepperIdentity } from '@vqvid/core';
import { ADAPTIVE_MODELS, AdaptiveCoder, adaptiveIdentity, DecodeIO, EncodeIO, StepperCoder } from './models';
import type { AdaptiveModelName, FrameCoder } from './models';
import { checkTotalBits, DEFAULT_TOTAL_BITS } from './quantize';
import { RangeDecoder, RangeEncoder } from './rangecoder';

/**
 * Version of the compressed-codes format (the header and the chunk stream); files of another version are
 * refused with E_VERSION.
 * @example
 * ```ts
 * readCompressedHeader(bytes).formatVersion === COMPRESS_FORMAT_VERSION;
 * ```
 */
export const COMPRESS_FORMAT_VERSION = 1;
const MAGIC = [0x56, 0x51, 0x56, 0x5a]; // "VQVZ"
const CONTAINER_KIND = 'compressed-codes';
/**
 * Default size after which the encoder closes a chunk (at the end of a frame): 64 KiB. Each chunk costs 19
 * bytes (a 7-byte coder flush, u32 length, u32 frame count and CRC-32), under 0.03% at this size.
 * @example
 * ```ts
 * new CodesEncoder('bigram', grid, { chunkBytes: DEFAULT_CHUNK_BYTES });
 * ```
 */
export const DEFAULT_CHUNK_BYTES = 1 << 16;

/**
 * What drives the coder: one of the adaptive models built into the format ({@link ADAPTIVE_MODELS}: nothing to
 * store or share), or a {@link @vqvid/core!SteppableModel | SteppableModel} (an RCNN, a fitted n-gram or
 * copy-previous model), which the decoder must be given again.
 * @example
 * ```ts
 * const model: CompressionModel = useNetwork ? rcnn : 'bigram';
 * ```
 */
export type CompressionModel = AdaptiveModelName | SteppableModel;

/**
 * The header of a compressed-codes file (the JSON of its checksummed container).
 * @example
 * ```ts
 * const h: CompressedHeader = readCompressedHeader(bytes);
 * console.log(h.model.kind, h.rows, h.cols, h.k);
 * ```
 */
export interface CompressedHeader {
  /** {@link COMPRESS_FORMAT_VERSION} of the writer. */
  formatVersion: number;
  /** Grid rows. */
  rows: number;
  /** Grid columns. */
  cols: number;
  /** Number of codes K. */
  k: number;
  /** Array type of the codes, given back by decompression. */
  dtype: 'uint16' | 'int32';
  /** The codes' geometry (with the codebook's checksum), when they carried one. */
  geometry?: CodeGeometry;
  /** What computed the distributions: decoding refuses another model (E_FORMAT) or backend (E_STATE). */
  model: StepperIdentity;
  /** Frequencies are quantized to a total of 2^totalBits. */
  totalBits: number;
  /** Free-form JSON provenance (fps, source). */
  meta: Record<string, unknown>;
}

/**
 * Options of {@link compressCodes} and {@link CodesEncoder}.
 * @example
 * ```ts
 * const opts: CompressOptions = { meta: { fps: 25 }, chunkBytes: 1 << 20 };
 * ```
 */
export interface CompressOptions {
  /** JSON provenance stored in the header; default {}. */
  meta?: Record<string, unknown>;
  /** Frequency total 2^totalBits (8..28, at least 2·k); default {@link DEFAULT_TOTAL_BITS}. */
  totalBits?: number;
  /** Close a chunk at the end of the first frame that brings it to this many bytes; default {@link DEFAULT_CHUNK_BYTES}; 0 = a chunk per frame. */
  chunkBytes?: number;
}

/**
 * The grid of the codes a {@link CodesEncoder} will be pushed: like a CodeVolume without frames.
 * @example
 * ```ts
 * const grid: CodeGrid = { rows: codes.rows, cols: codes.cols, k: codes.k, geometry: codes.geometry };
 * ```
 */
export interface CodeGrid {
  /** Grid rows. */
  rows: number;
  /** Grid columns. */
  cols: number;
  /** Number of codes K. */
  k: number;
  /** Geometry the codes were encoded with, stored in the header. */
  geometry?: CodeGeometry;
  /** Array type decompression gives back; default 'uint16' when k ≤ 65536, else 'int32'. */
  dtype?: 'uint16' | 'int32';
}

/** The coder of a model for a grid; E_SHAPE when a steppable model's k is not the grid's. */
function coderFor(model: CompressionModel, rows: number, cols: number, k: number, totalBits: number): FrameCoder {
  if (typeof model === 'string') {
    if (!Object.prototype.hasOwnProperty.call(ADAPTIVE_MODELS, model)) fail('E_RANGE', 'model', `one of ${Object.keys(ADAPTIVE_MODELS).join(', ')} or a model with stepper()`, model);
    return new AdaptiveCoder(model, k, rows, cols);
  }
  if (model === null || typeof model !== 'object' || typeof model.stepper !== 'function') fail('E_RANGE', 'model', 'an adaptive model name or a model with stepper()', model);
  if (model.k !== k) fail('E_SHAPE', 'model.k', `${k} (the codes' k)`, model.k);
  return new StepperCoder(model.stepper(rows, cols), 2 ** totalBits);
}

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** One chunk: u32 payload bytes | u32 frames | payload | u32 CRC-32 of the preceding 8 + payload bytes. */
function chunk(payload: Uint8Array, frames: number): Uint8Array {
  const out = concat([u32(payload.length), u32(frames), payload, u32(0)]);
  new DataView(out.buffer).setUint32(8 + payload.length, crc32(out.subarray(0, 8 + payload.length)), true);
  return out;
}

/**
 * Streaming compressor: push the frames of a code volume one at a time; each call returns the bytes that are
 * ready (the header first, then closed chunks), so memory stays bounded by one chunk and one frame.
 * Layout: "VQVZ" | u32 n | a vqvid container of n bytes (kind 'compressed-codes', the {@link CompressedHeader}) |
 * chunks (u32 payload bytes | u32 frames | range-coded payload | u32 CRC-32) | an end mark (u32 0 | u32 total
 * frames | u32 CRC-32). Each chunk's range coder is flushed, so a decoder can decode it as soon as it arrives.
 * @example
 * ```ts
 * const enc = new CodesEncoder('bigram', { rows, cols, k });
 * for (const frame of frames) out.write(enc.push(frame));
 * out.write(enc.finish());
 * ```
 */
export class CodesEncoder {
  /** The header written at the start of the stream. */
  readonly header: CompressedHeader;
  /** Ideal size in bits of the symbols coded so far under the quantized frequencies used. */
  get idealBits(): number {
    return this.io.idealBits;
  }
  private readonly coder: FrameCoder;
  private readonly io: EncodeIO;
  private pendingHeader: Uint8Array | null;
  private chunkFrames = 0;
  private frames = 0;
  private done = false;
  private readonly chunkBytes: number;

  /**
   * Starts a stream; E_RANGE/E_SHAPE on a bad grid, option or a model of another k.
   * @param model the adaptive model's name or a steppable model (see {@link CompressionModel}).
   * @param grid rows, cols, k (and geometry) of the frames to come.
   */
  constructor(model: CompressionModel, grid: CodeGrid, opts: CompressOptions = {}) {
    assertInt(grid.rows, 'grid.rows', 1);
    assertInt(grid.cols, 'grid.cols', 1);
    assertInt(grid.k, 'grid.k', 1, 2 ** 31 - 1);
    const totalBits = checkTotalBits(opts.totalBits ?? DEFAULT_TOTAL_BITS, grid.k, 'opts.totalBits');
    this.chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    assertInt(this.chunkBytes, 'opts.chunkBytes', 0);
    const dtype = grid.dtype ?? (grid.k <= 65536 ? 'uint16' : 'int32');
    if (dtype !== 'uint16' && dtype !== 'int32') fail('E_RANGE', 'grid.dtype', "'uint16' or 'int32'", dtype);
    this.coder = coderFor(model, grid.rows, grid.cols, grid.k, totalBits);
    this.io = new EncodeIO(new RangeEncoder());
    const { rows, cols, k } = grid;
    this.header = { formatVersion: COMPRESS_FORMAT_VERSION, rows, cols, k, dtype, model: this.coder.identity, totalBits, meta: opts.meta ?? {} };
    if (grid.geometry) this.header.geometry = grid.geometry;
    const container = packContainer(CONTAINER_KIND, this.header as unknown as Record<string, unknown>, {});
    this.pendingHeader = concat([new Uint8Array(MAGIC), u32(container.length), container]);
  }

  /** Codes one frame (rows·cols codes in [0, k)); returns the bytes ready now (possibly none). */
  push(frame: ArrayLike<number>): Uint8Array {
    if (this.done) fail('E_STATE', 'encoder', 'an open stream (finish() was called)', 'finished');
    const { rows, cols, k } = this.header;
    if (frame.length !== rows * cols) fail('E_SHAPE', 'frame.length', `${rows * cols} (rows·cols)`, frame.length);
    for (let i = 0; i < frame.length; i++) {
      const c = frame[i];
      if (!(Number.isInteger(c) && c >= 0 && c < k)) fail('E_RANGE', `frame[${i}]`, `an integer code in [0, ${k})`, c);
    }
    this.io.frame = frame;
    this.coder.codeFrame(this.io, this.frames);
    this.frames++;
    this.chunkFrames++;
    const out: Uint8Array[] = this.takeHeader();
    if (this.io.enc.length >= this.chunkBytes) out.push(this.closeChunk());
    return concat(out);
  }

  /** Closes the stream: the last chunk and the end mark. The encoder (and the model's stepper) is released. */
  finish(): Uint8Array {
    if (this.done) fail('E_STATE', 'encoder', 'an open stream (finish() was called)', 'finished');
    const out = this.takeHeader();
    if (this.chunkFrames > 0) out.push(this.closeChunk());
    out.push(chunk(new Uint8Array(0), this.frames));
    this.done = true;
    this.coder.dispose();
    return concat(out);
  }

  private takeHeader(): Uint8Array[] {
    const h = this.pendingHeader;
    this.pendingHeader = null;
    return h ? [h] : [];
  }

  private closeChunk(): Uint8Array {
    const bytes = chunk(this.io.enc.finish(), this.chunkFrames);
    this.io.enc = new RangeEncoder();
    this.chunkFrames = 0;
    return bytes;
  }
}

/**
 * Compresses a code volume with a model (see {@link CodesEncoder} for the layout). Frame 0 is coded with the
 * adaptive unigram (no model has a past to predict it from); every later frame with the model's distribution
 * given the frames before it.
 * @param model an adaptive model's name ('static', 'copy', 'bigram') or a steppable model (RCNN, fitted n-gram).
 * @example
 * ```ts
 * const bytes = compressCodes(codes, 'bigram', { meta: { fps: 25 } });
 * const { codes: back } = decompressCodes(bytes); // the same codes
 * ```
 */
export function compressCodes(codes: CodeVolume, model: CompressionModel, opts: CompressOptions = {}): Uint8Array {
  assertCodeVolume(codes, 'codes');
  const { rows, cols, k, geometry } = codes;
  const dtype = codes.codes instanceof Int32Array ? 'int32' : 'uint16';
  const enc = new CodesEncoder(model, { rows, cols, k, geometry, dtype }, opts);
  const n = rows * cols;
  const parts: Uint8Array[] = [];
  for (let t = 0; t < codes.frames; t++) parts.push(enc.push(codes.codes.subarray(t * n, (t + 1) * n)));
  parts.push(enc.finish());
  return concat(parts);
}

/** What the header's JSON must hold. */
const HEADER_SCHEMA: Schema = {
  type: 'object',
  fields: {
    formatVersion: { type: 'integer', min: 0 },
    rows: { type: 'integer', min: 1, max: 1 << 20 },
    cols: { type: 'integer', min: 1, max: 1 << 20 },
    k: { type: 'integer', min: 1, max: 2 ** 31 - 1 },
    dtype: { type: 'string', oneOf: ['uint16', 'int32'] },
    model: { type: 'object', fields: { kind: { type: 'string' }, checksum: { type: 'string' }, backend: { type: 'string' } } },
    totalBits: { type: 'integer', min: 8, max: 28 },
    meta: { type: 'object' },
  },
};

/**
 * Options of {@link CodesDecoder} and {@link decompressCodes}.
 * @example
 * ```ts
 * const opts: DecompressOptions = { source: 'clip.vqz' };
 * ```
 */
export interface DecompressOptions {
  /** What to call the input in errors; default 'input'. */
  source?: string;
}

/**
 * Streaming decompressor: push bytes as they arrive; each call returns the frames that became decodable (a
 * whole chunk's frames once its last byte and CRC are in). `finish()` checks that the stream ended with its end
 * mark. Errors: E_FORMAT for a corrupt or truncated stream or a different model (naming what differs), E_STATE
 * for a different backend, E_VERSION for another format version.
 * @example
 * ```ts
 * const dec = new CodesDecoder(model);
 * for await (const bytes of stream) for (const frame of dec.push(bytes)) show(frame);
 * dec.finish();
 * ```
 */
export class CodesDecoder {
  /** The file's header, once its bytes have arrived (null before). */
  header: CompressedHeader | null = null;
  /** Frames decoded so far. */
  frames = 0;
  private buf = new Uint8Array(0);
  private coder: FrameCoder | null = null;
  private ended = false;
  private readonly source: string;

  /**
   * Starts a decoder; nothing is checked until the header's bytes arrive.
   * @param model the model the file was compressed with; may be omitted for the adaptive models (the header names them).
   * @param opts what to call the input in errors.
   */
  constructor(private readonly model?: CompressionModel, opts: DecompressOptions = {}) {
    this.source = opts.source ?? 'input';
  }

  private bad(why: string): never {
    throw new VqvidError('E_FORMAT', `${this.source}: not a valid vqvid compressed-codes stream (${why})`, { source: this.source });
  }

  /** Takes the next bytes; returns the frames (rows·cols codes each) that are now decoded. */
  push(bytes: Uint8Array): Int32Array[] {
    if (this.ended) {
      if (bytes.length > 0) this.bad('bytes after the end mark');
      return [];
    }
    const next = new Uint8Array(this.buf.length + bytes.length);
    next.set(this.buf);
    next.set(bytes, this.buf.length);
    this.buf = next;
    const out: Int32Array[] = [];
    let off = 0;
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    if (!this.header) {
      if (this.buf.length < 8) return out;
      for (let i = 0; i < 4; i++) if (this.buf[i] !== MAGIC[i]) this.bad('wrong magic, expected "VQVZ"');
      const n = dv.getUint32(4, true);
      if (this.buf.length < 8 + n) return out;
      this.start(this.buf.subarray(8, 8 + n));
      off = 8 + n;
    }
    while (!this.ended && this.buf.length - off >= 12) {
      const len = dv.getUint32(off, true);
      const frames = dv.getUint32(off + 4, true);
      if (this.buf.length - off < 12 + len) break;
      if (crc32(this.buf.subarray(off, off + 8 + len)) !== dv.getUint32(off + 8 + len, true)) this.bad('chunk checksum mismatch: truncated or corrupt');
      if (len === 0) {
        if (frames !== this.frames) this.bad(`end mark says ${frames} frames, the chunks held ${this.frames}`);
        this.ended = true;
      } else {
        if (frames === 0) this.bad('a chunk with no frame');
        out.push(...this.decodeChunk(this.buf.subarray(off + 8, off + 8 + len), frames));
      }
      off += 12 + len;
    }
    this.buf = this.buf.slice(off);
    if (this.ended && this.buf.length > 0) this.bad('bytes after the end mark');
    return out;
  }

  /** Checks that the whole stream arrived (E_FORMAT when it was cut before its end mark) and releases the model. */
  finish(): void {
    this.coder?.dispose();
    this.coder = null;
    if (!this.ended) this.bad(this.header ? `truncated after ${this.frames} frames (no end mark)` : 'truncated before the end of the header');
  }

  private start(containerBytes: Uint8Array): void {
    const { header } = unpackContainer(containerBytes, CONTAINER_KIND, this.source);
    if (header.formatVersion !== COMPRESS_FORMAT_VERSION && Number.isInteger(header.formatVersion)) {
      throw new VqvidError('E_VERSION', `${this.source}: compressed-codes format version ${header.formatVersion}, this build reads version ${COMPRESS_FORMAT_VERSION}`, { source: this.source });
    }
    checkSchema(header, HEADER_SCHEMA, 'header', this.source);
    const h = header as unknown as CompressedHeader;
    const model = this.model ?? adaptiveName(h.model.kind);
    if (model === undefined) {
      fail('E_STATE', 'model', `the ${h.model.kind} model the file was compressed with (checksum ${h.model.checksum})`, 'none given');
    }
    const coder = coderFor(model, h.rows, h.cols, h.k, checkTotalBits(h.totalBits, h.k, 'header.totalBits'));
    try {
      checkIdentity(h.model, coder.identity, this.source);
    } catch (e) {
      coder.dispose();
      throw e;
    }
    this.header = h;
    this.coder = coder;
  }

  private decodeChunk(payload: Uint8Array, frames: number): Int32Array[] {
    const io = new DecodeIO(new RangeDecoder(payload, this.source));
    const out: Int32Array[] = [];
    for (let f = 0; f < frames; f++) out.push(this.coder!.codeFrame(io, this.frames++));
    return out;
  }
}

/** The adaptive model a header's kind names, if it is one. */
function adaptiveName(kind: string): AdaptiveModelName | undefined {
  return (Object.keys(ADAPTIVE_MODELS) as AdaptiveModelName[]).find((n) => adaptiveIdentity(n).kind === kind);
}

/** E_FORMAT when the model differs from the file's, E_STATE when only the backend does. */
function checkIdentity(file: StepperIdentity, mine: StepperIdentity, source: string): void {
  if (file.kind !== mine.kind) {
    throw new VqvidError('E_FORMAT', `${source}: compressed with a ${file.kind} model, decoding with a ${mine.kind} model`, { source });
  }
  if (file.checksum !== mine.checksum) {
    throw new VqvidError('E_FORMAT', `${source}: compressed with a ${file.kind} model of checksum ${file.checksum}, the model given has checksum ${mine.checksum} (a different model)`, { source });
  }
  if (file.backend !== mine.backend) {
    throw new VqvidError('E_STATE', `${source}: compressed on the ${file.backend} backend, decoding on ${mine.backend}: their distributions are not known to agree bit for bit (switch to ${file.backend})`, { source });
  }
}

/**
 * A decompressed code volume with the provenance stored next to it.
 * @example
 * ```ts
 * const { codes, meta, header }: DecompressedCodes = decompressCodes(bytes, model);
 * ```
 */
export interface DecompressedCodes {
  /** Exactly the codes that were compressed (with their geometry, when they had one). */
  codes: CodeVolume;
  /** The JSON provenance given at compression. */
  meta: Record<string, unknown>;
  /** The file's header. */
  header: CompressedHeader;
}

/**
 * Decompresses bytes written by {@link compressCodes} or a {@link CodesEncoder}; see {@link CodesDecoder} for errors.
 * @param model the model the file was compressed with (omit for the adaptive models).
 * @example
 * ```ts
 * const { codes } = decompressCodes(await readFile('clip.vqz'), rcnn, { source: 'clip.vqz' });
 * ```
 */
export function decompressCodes(bytes: Uint8Array, model?: CompressionModel, opts: DecompressOptions = {}): DecompressedCodes {
  const dec = new CodesDecoder(model, opts);
  const frames = dec.push(bytes);
  dec.finish();
  const h = dec.header!;
  const n = h.rows * h.cols;
  const codes = h.dtype === 'int32' ? new Int32Array(frames.length * n) : new Uint16Array(frames.length * n);
  frames.forEach((f, t) => codes.set(f, t * n));
  const volume: CodeVolume = { rows: h.rows, cols: h.cols, frames: frames.length, k: h.k, codes };
  if (h.geometry) volume.geometry = h.geometry;
  return { codes: volume, meta: h.meta, header: h };
}

/**
 * Reads only the header of compressed bytes (E_FORMAT when they do not start with one).
 * @example
 * ```ts
 * const { model, rows, cols, k } = readCompressedHeader(bytes);
 * ```
 */
export function readCompressedHeader(bytes: Uint8Array, source = 'input'): CompressedHeader {
  const bad = (why: string): never => {
    throw new VqvidError('E_FORMAT', `${source}: not a valid vqvid compressed-codes stream (${why})`, { source });
  };
  if (bytes.length < 8) bad('truncated before the end of the header');
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) bad('wrong magic, expected "VQVZ"');
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (bytes.length < 8 + n) bad('truncated before the end of the header');
  const { header } = unpackContainer(bytes.subarray(8, 8 + n), CONTAINER_KIND, source);
  checkSchema(header, HEADER_SCHEMA, 'header', source);
  return header as unknown as CompressedHeader;
}
