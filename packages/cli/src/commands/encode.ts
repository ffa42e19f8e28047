import type { Command } from '../command';
import { saveCodes } from '../files';
import { encodeVideo, loadVideo } from '../pipeline';
import { loadQuantizer } from './load';
import { CODEBOOK_OPTION, OUTPUT_OPTION, READ_OPTIONS, ensureParent, readOptions, secondsSince, table } from './shared';

/** `vqvid encode`: map every patch of a video to its code. */
export const encodeCommand: Command = {
  name: 'encode',
  summary: 'turn a video into a code volume with a codebook',
  usage: 'vqvid encode <video> --codebook codebook.vqcb -o codes.vqc',
  description:
    'Cuts the std-normalised video into patches on the codebook\'s grid and replaces each by the index of its\n' +
    'nearest centroid. The codes file (a checksummed vqvid container) records the frame size, patch grid and std.',
  positionals: { min: 1, max: 1 },
  options: {
    ...CODEBOOK_OPTION,
    stride: { kind: 'int', value: 'px', help: "step between patches (default: the codebook's)" },
    ...READ_OPTIONS,
    ...OUTPUT_OPTION('codes file to write (default codes.vqc)'),
  },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const path = args.positionals[0];
    const output = args.str('output') ?? 'codes.vqc';
    const q = await loadQuantizer(args.required('codebook'), ctx);
    const video = await loadVideo(path, readOptions(args, ctx));
    const { codes, meta } = await encodeVideo(q, video, { stride: args.num('stride'), source: path });
    await ensureParent(output);
    await saveCodes(output, codes, { ...meta });
    const data = { codes: output, k: codes.k, frames: codes.frames, rows: codes.rows, cols: codes.cols, ...meta, seconds: secondsSince(t0) };
    const text = table([
      ['codes', output],
      ['grid', `${codes.frames} frames x ${codes.rows} x ${codes.cols} cells, K = ${codes.k}`],
      ['patch / stride', `${meta.size} / ${meta.stride}`],
      ['seconds', data.seconds],
    ]);
    return { data, text };
  },
};
