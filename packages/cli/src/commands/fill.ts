import { sliceCodes, sliceVideo, stackFrames } from '@vqvid/core';
import type { StripRow } from '@vqvid/video';
import type { Command } from '../command';
import { DEFAULT_DECODER } from '@vqvid/quantize';
import { absDiff, fillResults, fitFillDecoderOnContext } from '../evaluation';
import { checkOutputs, framesOutput } from '../files';
import { MEMORY_OPTIONS, checkRenderMemory, memoryOptions } from '../memory';
import { checkMissingFrames } from '../modeling';
import { loadCodesOrVideo } from '../pipeline';
import { frameTable, renderText } from '../tables';
import { loadCodec, loadTrainedModel } from './load';
import { writeFrames } from './predict';
import { CODEBOOK_OPTION, MODEL_OPTION, autoDecoderOptions, OUTPUT_OPTION, READ_OPTIONS, readOptions, resolveDecoder, secondsSince } from './shared';

/** Frames before the gap that `--decoder auto` fits the decoder on (their one-frame fills against their pixels). */
export const AUTO_FILL_FRAMES = 2;

/** `vqvid fill`: reconstruct missing frames from the frames around them. */
export const fillCommand: Command = {
  name: 'fill',
  summary: 'fill missing frames and compare with interpolation',
  usage: 'vqvid fill <video|codes.vqc> --model model-dir --codebook codebook.vqcb --frame t [--missing n] [-o out.png|out.y4m|out.vqc]',
  description:
    'Treats frames t..t+n-1 (n = --missing, default 1) as missing and fills them from the frames before them and\n' +
    'frame t+n (the model maximises the likelihood of the missing frames and the next one, frame by frame; each\n' +
    'cell\'s candidates are then weighed by --decoder, the linear interpolation of frames t-1 and t+n at its\n' +
    'position standing for "same code"). For a video input the result is compared with the real frames, the\n' +
    "codebook's own reconstruction of them and linear and optical-flow interpolation of frames t-1 and t+n.\n" +
    'The paper\'s protocol is --missing 3: frames 2, 3 and 4 from frames 1 and 5.\n' +
    'A video input is held in memory whole (checked against --max-memory first); of a codes input only frames\n' +
    't-1..t+n are decoded.',
  positionals: { min: 1, max: 1 },
  options: {
    ...MODEL_OPTION,
    ...CODEBOOK_OPTION,
    frame: { kind: 'int', value: 't', help: 'index of the (first) missing frame (default: the middle one)' },
    missing: { kind: 'int', value: 'n', default: 1, min: 1, help: 'how many consecutive frames are missing' },
    ...autoDecoderOptions(`one-frame fills of the last ${AUTO_FILL_FRAMES} frames before the gap (each from the frames around it)`),
    ...READ_OPTIONS,
    ...MEMORY_OPTIONS,
    ...OUTPUT_OPTION('output: .png strip (truth, fills, errors), a video of the filled frames, or .vqc codes'),
  },
  libraryArguments: { dir: '--model' },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const output = args.str('output');
    await checkOutputs(args, [framesOutput(output)]);
    const codec = await loadCodec(args.required('codebook'), ctx);
    const model = await loadTrainedModel(args.required('model'), codec, ctx);
    const read = { ...readOptions(args, ctx), ...memoryOptions(args) };
    const input = await loadCodesOrVideo(args.positionals[0], codec, read);
    const { codes, meta } = input;
    const n = args.num('missing')!;
    const t = args.num('frame') ?? Math.floor((codes.frames - n + 1) / 2);
    checkMissingFrames(t, n, codes.frames);
    // Without the real frames, the codebook's reconstruction of frames t-1..t+n stands in for them.
    if (!input.video) checkRenderMemory(codes, 2 + 4 * n, model.config, read.maxMemory, 'use a smaller video'); // n + 2 frames, 3n fills
    const videoStart = input.video ? 0 : t - 1;
    const video = input.video ?? codec.decode(sliceCodes(codes, t - 1, t + n + 1));
    const { render, decoderFit } = resolveDecoder(
      args,
      (search) => (input.video ? fitFillDecoderOnContext(model, codec, codes, video, videoStart, t, { targets: AUTO_FILL_FRAMES, search }) : null),
      (fitted) =>
        fitted
          ? `least squared error on one-frame fills of frames ${fitted.frames.join(', ')}`
          : input.video
            ? `no frame before the gap to fit on: the default ${DEFAULT_DECODER}`
            : `no real frames (codes input): the default ${DEFAULT_DECODER}`,
    );
    const r = fillResults({ video, videoStart, codes, codec }, [{ name: model.config.kernel > 1 ? 'rcnn' : 'rnn', model }], t, render, n);
    // the rendered fill (the posterior through the decoder) is the output; the argmax codes go to .vqc
    const filled = r.predictions[1].video;
    if (output) {
      const around = sliceVideo(video, t - 1 - videoStart, t + n + 1 - videoStart);
      const fills = stackFrames(r.predictions.map((p) => p.video));
      const rows: StripRow[] = [
        { label: 'truth', video: around },
        { label: 'fills', video: fills },
        { label: 'error', video: absDiff(fills, stackFrames(r.predictions.map(() => r.truth))), range: [0, 128], colormap: 'heat' },
      ];
      await writeFrames(output, { strip: rows, video: filled, codes: r.predictions[0].codes!, meta });
    }
    const note = input.video ? '' : '\n(codes input: compared with the codebook reconstruction, not real frames)';
    // decoderFit (--decoder auto): how the decoder was chosen, and each decoder's best alpha and error there
    const data = { frame: t, missing: n, output: output ?? null, decoder: render, ...(decoderFit ? { decoderFit } : {}), methods: r.scores, realFrames: Boolean(input.video), seconds: secondsSince(t0) };
    return { data, text: `fill of frame${n > 1 ? `s ${t}..${t + n - 1}` : ` ${t}`}${output ? ` -> ${output}` : ''}\n${renderText(frameTable(r.scores))}${note}${decoderFit ? `\n(decoder ${render.decoder}, alpha ${render.alpha}; auto: ${decoderFit.chosenOn})` : ''}` };
  },
};
