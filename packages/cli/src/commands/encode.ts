import { writeCodes } from '@vqvid/core';
import type { Command } from '../command';
import { MEMORY_OPTIONS, memoryOptions } from '../memory';
import { encodeSource, openVideo, provenanceOf } from '../pipeline';
import { checkOutputs } from '../files';
import { loadCodec } from './load';
import { CODEBOOK_OPTION, OUTPUT_OPTION, READ_OPTIONS, ensureParent, readOptions, secondsSince, table } from './shared';

/** `vqvid encode`: map every patch of a video to its code. */
export const encodeCommand: Command = {
  name: 'encode',
  summary: 'turn a video into a code volume with a codebook',
  usage: 'vqvid encode <video> --codebook codebook.vqcb -o codes.vqc',
  description:
    "Scales the video as the codebook says (by its own std, or the codebook's), cuts it into patches on the\n" +
    "codebook's grid and replaces each by the index of its nearest centroid. The codes file (a checksummed\n" +
    'vqvid container) records the frame size, patch grid and the std the video was divided by. The video is\n' +
    'streamed, never held in memory: read once with codebook-std, three times with per-video-std (its std first).',
  positionals: { min: 1, max: 1 },
  options: {
    ...CODEBOOK_OPTION,
    ...READ_OPTIONS,
    ...MEMORY_OPTIONS,
    ...OUTPUT_OPTION('codes file to write (default codes.vqc)'),
  },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const path = args.positionals[0];
    const output = args.str('output') ?? 'codes.vqc';
    await checkOutputs(args, [{ flag: '--output', path: output, kind: 'codes' }]);
    const codec = await loadCodec(args.required('codebook'), ctx);
    const read = { ...readOptions(args, ctx), ...memoryOptions(args) };
    const video = await openVideo(path, read);
    const codes = await encodeSource(video, codec, { maxMemory: read.maxMemory });
    const meta = provenanceOf(video, path);
    await ensureParent(output);
    await writeCodes(output, codes, meta);
    const { patch, stride, width, height, std } = codes.geometry!;
    const data = { codes: output, k: codes.k, frames: codes.frames, rows: codes.rows, cols: codes.cols, patch, stride, width, height, std, ...meta, seconds: secondsSince(t0) };
    const text = table([
      ['codes', output],
      ['grid', `${codes.frames} frames x ${codes.rows} x ${codes.cols} cells, K = ${codes.k}`],
      ['patch / stride', `${patch} / ${stride}`],
      ['seconds', data.seconds],
    ]);
    return { data, text };
  },
};
