import { VqvidError, sliceCodes } from '@vqvid/core';
import type { Command } from '../command';
import { nextFrameResults } from '../evaluation';
import { MEMORY_OPTIONS, memoryOptions } from '../memory';
import { loadCodesOrVideo } from '../pipeline';
import { codeTable, frameTable, renderText } from '../tables';
import { loadCodec, loadTrainedModel } from './load';
import { CODEBOOK_OPTION, MODEL_OPTION, READ_OPTIONS, readOptions, secondsSince } from './shared';
import { countedModels, scoreCodeModels } from '@vqvid/baselines';

/** `vqvid eval`: bits/code against n-grams, and next-frame quality against pixel baselines. */
export const evalCommand: Command = {
  name: 'eval',
  summary: 'score a model: bits/code vs n-grams, next frames vs baselines',
  usage: 'vqvid eval <video|codes.vqc> --model model-dir --codebook codebook.vqcb [--test-frames 8]',
  description:
    'Splits the codes in time: the n-gram baselines (unigram, same-cell bigram, spatial n-gram) are fitted on\n' +
    'the first part, and every model is scored in bits per code on the last --test-frames frames. For a video\n' +
    'input each test frame is also predicted one step ahead and compared (PSNR, SSIM, sharpness) with the\n' +
    "codebook's reconstruction and the copy-last, linear and optical-flow extrapolations. A video is streamed:\n" +
    'only its codes and its last --test-frames + 2 frames are held.',
  positionals: { min: 1, max: 1 },
  libraryArguments: { dir: '--model' },
  options: {
    ...MODEL_OPTION,
    ...CODEBOOK_OPTION,
    'test-frames': { kind: 'int', default: 8, value: 'n', help: 'frames at the end scored as the test part' },
    ...READ_OPTIONS,
    ...MEMORY_OPTIONS,
  },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const codec = await loadCodec(args.required('codebook'), ctx);
    const model = await loadTrainedModel(args.required('model'), codec, ctx);
    const n = args.num('test-frames')!;
    // frames split-2 .. the end: each test frame and the two before it (the extrapolations' inputs)
    const keep = { last: n < 2 ? 0 : n + 2 };
    const { codes, video, videoStart } = await loadCodesOrVideo(args.positionals[0], codec, { ...readOptions(args, ctx), ...memoryOptions(args) }, keep);
    const split = codes.frames - n;
    // The n-grams need at least 2 training frames and the test part at least 2 frames to score one.
    if (n < 2 || split < 2) throw new VqvidError('E_RANGE', `--test-frames: expected 2..${codes.frames - 2} for ${codes.frames} frames, got ${n}`);
    const models = [{ name: model.config.kernel > 1 ? 'rcnn' : 'rnn', model }];
    const codeRows = scoreCodeModels([...models, ...countedModels(sliceCodes(codes, 0, split))], sliceCodes(codes, split, codes.frames));
    const times = Array.from({ length: n }, (_, i) => split + i).filter((t) => t >= 2);
    const frames = video ? nextFrameResults({ video, videoStart, codes, codec }, models, times).scores : null;
    const data = { testFrames: n, split, bitsPerCode: codeRows, nextFrame: frames, seconds: secondsSince(t0) };
    const parts = [`bits per code on frames ${split}..${codes.frames - 1}:`, renderText(codeTable(codeRows))];
    if (frames) parts.push('', `next-frame prediction of frames ${split}..${codes.frames - 1}:`, renderText(frameTable(frames)));
    return { data, text: parts.join('\n') };
  },
};
