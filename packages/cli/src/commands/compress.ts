import { readCodes, readFileChecked, VqvidError, writeCodes, writeFileAtomic } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { ADAPTIVE_MODELS, CodesEncoder, decompressCodes, DEFAULT_CHUNK_BYTES } from '@vqvid/compress';
import type { AdaptiveModelName, CompressionModel } from '@vqvid/compress';
import type { PatchCodec } from '@vqvid/quantize';
import { writeVideo } from '@vqvid/video';
import type { Command, CommandContext } from '../command';
import { checkOutputs, isContainer } from '../files';
import { MEMORY_OPTIONS, memoryOptions } from '../memory';
import { loadModel } from '../modeling';
import { encodeSource, openVideo, provenanceOf } from '../pipeline';
import { loadCodec } from './load';
import { CODEBOOK_OPTION, OUTPUT_OPTION, READ_OPTIONS, ensureParent, readOptions, secondsSince, table } from './shared';

const ADAPTIVE_NAMES = Object.keys(ADAPTIVE_MODELS) as AdaptiveModelName[];
/** The model `compress` uses without -m: the adaptive bigram (no network, nothing to share). */
const DEFAULT_COMPRESS_MODEL: AdaptiveModelName = 'bigram';

const COMPRESS_MODEL_OPTION = {
  model: {
    kind: 'string' as const,
    short: 'm',
    value: 'dir|name',
    help: `model folder written by vqvid train, or an adaptive model needing no file: ${ADAPTIVE_NAMES.map((n) => `${n} (${ADAPTIVE_MODELS[n]})`).join('; ')} (default ${DEFAULT_COMPRESS_MODEL})`,
  },
};

/** The model of `-m`: an adaptive model's name, or a model folder (loaded on the tfjs backend, released at the end). */
async function compressionModel(value: string, ctx: CommandContext, book?: PatchCodec): Promise<CompressionModel> {
  if ((ADAPTIVE_NAMES as string[]).includes(value)) return value as AdaptiveModelName;
  const model = await loadModel(value, book);
  ctx.cleanup(() => model.dispose());
  return model;
}

/** The trained model's codebook must be the codes' one (when both are known). */
function checkModelCodebook(model: CompressionModel, codes: { geometry?: { codebook?: string } }): void {
  if (typeof model === 'string' || !('codebook' in model)) return;
  const book = (model as { codebook: string | null }).codebook;
  const theirs = codes.geometry?.codebook;
  if (book !== null && theirs !== undefined && book !== theirs) {
    throw new VqvidError('E_SHAPE', `--model: the model was trained with codebook ${book}, the codes were made with codebook ${theirs}`);
  }
}

/** `vqvid compress`: entropy-code a code volume with a model's distributions. */
export const compressCommand: Command = {
  name: 'compress',
  summary: 'compress codes (or a video through a codebook) with a code model as the entropy coder',
  usage: 'vqvid compress <codes.vqc | video> [-m model-dir | static | copy | bigram] [-c codebook.vqcb] -o out.vqz',
  description:
    "Range-codes every code with the model's distribution given the frames before it (frame 0 with an adaptive\n" +
    'unigram). A model folder (vqvid train) must be given again to decompress, on the same tfjs backend; the\n' +
    'adaptive models (static, copy, bigram) learn as they go and need nothing. A video input is encoded with\n' +
    '--codebook first. The .vqz file holds the geometry, the codebook checksum and the model\'s checksum.',
  positionals: { min: 1, max: 1 },
  options: {
    ...COMPRESS_MODEL_OPTION,
    codebook: { ...CODEBOOK_OPTION.codebook, help: 'codebook written by vqvid quantize (required for a video input)' },
    'chunk-bytes': { kind: 'int', value: 'n', default: DEFAULT_CHUNK_BYTES, help: 'close a chunk (decodable on its own as it arrives) once it holds this many bytes; 0 = a chunk per frame' },
    ...READ_OPTIONS,
    ...MEMORY_OPTIONS,
    ...OUTPUT_OPTION('compressed file to write (default codes.vqz)'),
  },
  libraryArguments: { chunkBytes: '--chunk-bytes' },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const path = args.positionals[0];
    const output = args.str('output') ?? 'codes.vqz';
    await checkOutputs(args, [{ flag: '--output', path: output, kind: 'compressed' }]);
    const bookPath = args.str('codebook');
    const codec = bookPath === undefined ? undefined : await loadCodec(bookPath, ctx);
    let codes: CodeVolume;
    let meta: Record<string, unknown>;
    if (await isContainer(path, 'input')) {
      ({ codes, meta } = await readCodes(path, 'input'));
      const book = codes.geometry?.codebook;
      if (codec && book !== undefined && book !== codec.checksum) {
        throw new VqvidError('E_SHAPE', `--codebook: the codes were made with codebook ${book}, --codebook is ${codec.checksum}`);
      }
    } else {
      if (!codec) throw new VqvidError('E_STATE', `--codebook: needed to encode the video ${path} into codes first`);
      const read = { ...readOptions(args, ctx), ...memoryOptions(args) };
      const video = await openVideo(path, read);
      codes = await encodeSource(video, codec, { maxMemory: read.maxMemory });
      meta = { ...provenanceOf(video, path) };
    }
    const model = await compressionModel(args.str('model') ?? DEFAULT_COMPRESS_MODEL, ctx, codec);
    checkModelCodebook(model, codes);
    const { rows, cols, k, geometry } = codes;
    const enc = new CodesEncoder(model, { rows, cols, k, geometry, dtype: codes.codes instanceof Int32Array ? 'int32' : 'uint16' }, { meta, chunkBytes: args.num('chunk-bytes') });
    const n = rows * cols;
    const parts: Uint8Array[] = [];
    for (let t = 0; t < codes.frames; t++) {
      parts.push(enc.push(codes.codes.subarray(t * n, (t + 1) * n)));
      ctx.onProgress({ stage: 'compress', done: t + 1, total: codes.frames, fraction: (t + 1) / codes.frames });
    }
    const idealBits = enc.idealBits;
    parts.push(enc.finish());
    const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
    await ensureParent(output);
    await writeFileAtomic(output, bytes);
    const bitsPerCode = (bytes.length * 8) / codes.codes.length;
    const data = {
      output, model: enc.header.model, frames: codes.frames, rows, cols, k, bytes: bytes.length,
      bytesPerFrame: bytes.length / codes.frames, bitsPerCode, idealBitsPerCode: idealBits / codes.codes.length, seconds: secondsSince(t0),
    };
    const text = table([
      ['compressed', output],
      ['model', `${enc.header.model.kind} (${enc.header.model.checksum}, ${enc.header.model.backend})`],
      ['grid', `${codes.frames} frames x ${rows} x ${cols} cells, K = ${k}`],
      ['bytes', `${bytes.length} (${data.bytesPerFrame.toFixed(1)} per frame)`],
      ['bits/code', `${bitsPerCode.toFixed(4)} (ideal under the model ${data.idealBitsPerCode.toFixed(4)}, raw ${Math.log2(k).toFixed(2)})`],
      ['seconds', data.seconds],
    ]);
    return { data, text };
  },
};

/** `vqvid decompress`: the exact codes back, optionally rendered to a video through the codebook. */
export const decompressCommand: Command = {
  name: 'decompress',
  summary: 'give back the exact codes of a .vqz file (and optionally their video)',
  usage: 'vqvid decompress in.vqz [-m model-dir] -o codes.vqc [--video out.y4m -c codebook.vqcb]',
  description:
    'Decodes the codes exactly as they were compressed. A file made with a model folder needs the same model\n' +
    '(-m) on the same tfjs backend; another model or backend is refused, never decoded into wrong codes. With\n' +
    '--video the codes are also rendered through the codebook (each cell its centroid, overlaps averaged):\n' +
    'the codes are lossless, the pixels are the codebook\'s.',
  positionals: { min: 1, max: 1 },
  options: {
    model: { kind: 'string', short: 'm', value: 'dir', help: 'the model folder the file was compressed with (not needed for static, copy, bigram)' },
    codebook: { ...CODEBOOK_OPTION.codebook, help: 'codebook of the codes (required with --video)' },
    video: { kind: 'string', value: 'path', help: 'also write the decoded frames as a video (.y4m, or any container ffmpeg writes)' },
    ...OUTPUT_OPTION('codes file to write (default codes.vqc)'),
  },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const path = args.positionals[0];
    const output = args.str('output') ?? 'codes.vqc';
    const videoOut = args.str('video');
    await checkOutputs(args, [{ flag: '--output', path: output, kind: 'codes' }, videoOut !== undefined && { flag: '--video', path: videoOut, kind: 'video' }]);
    const bytes = await readFileChecked(path, 'input');
    const codec = args.str('codebook') === undefined ? undefined : await loadCodec(args.str('codebook')!, ctx);
    if (videoOut !== undefined && !codec) throw new VqvidError('E_STATE', '--codebook: needed to render --video from the codes');
    const modelDir = args.str('model');
    const model = modelDir === undefined ? undefined : await compressionModel(modelDir, ctx, codec);
    const { codes, header } = decompressCodes(bytes, model, { source: path });
    await ensureParent(output);
    await writeCodes(output, codes, header.meta);
    if (videoOut !== undefined) {
      const video = codec!.decode(codes);
      for (let i = 0; i < video.data.length; i++) video.data[i] = Math.min(255, Math.max(0, video.data[i]));
      await ensureParent(videoOut);
      await writeVideo(videoOut, video, { fps: typeof header.meta.fps === 'number' ? header.meta.fps : 25 });
    }
    const data = { codes: output, video: videoOut ?? null, model: header.model, frames: codes.frames, rows: codes.rows, cols: codes.cols, k: codes.k, seconds: secondsSince(t0) };
    const text = table([
      ['codes', output],
      ...(videoOut !== undefined ? [['video', videoOut] as [string, string]] : []),
      ['model', `${header.model.kind} (${header.model.checksum}, ${header.model.backend})`],
      ['grid', `${codes.frames} frames x ${codes.rows} x ${codes.cols} cells, K = ${codes.k}`],
      ['seconds', data.seconds],
    ]);
    return { data, text };
  },
};
