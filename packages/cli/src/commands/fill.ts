import { sliceVideo, stackFrames } from '@vqvid/core';
import type { StripRow } from '@vqvid/video';
import type { Command } from '../command';
import { absDiff, fillResults } from '../evaluation';
import { checkMiddleFrame } from '../modeling';
import { loadCodesOrVideo } from '../pipeline';
import { frameTable, renderText } from '../tables';
import { loadCodec, loadTrainedModel } from './load';
import { writeFrames } from './predict';
import { CODEBOOK_OPTION, DECODER_OPTIONS, MODEL_OPTION, OUTPUT_OPTION, READ_OPTIONS, readOptions, renderChoice, secondsSince } from './shared';

/** `vqvid fill`: reconstruct a missing frame from the frames around it. */
export const fillCommand: Command = {
  name: 'fill',
  summary: 'fill a missing frame and compare with interpolation',
  usage: 'vqvid fill <video|codes.vqc> --model model-dir --codebook codebook.vqcb --frame t [-o out.png|out.y4m|out.vqc]',
  description:
    'Treats frame t as missing and fills it from the frames before it and frame t+1 (the model maximises the\n' +
    'likelihood of frames t and t+1; each cell\'s candidates are then weighed by --decoder, the linear\n' +
    'interpolation of frames t-1 and t+1 standing for "same code"). For a video input the result is compared with the real frame, the\n' +
    "codebook's own reconstruction of it and linear and optical-flow interpolation of frames t-1 and t+1.",
  positionals: { min: 1, max: 1 },
  options: {
    ...MODEL_OPTION,
    ...CODEBOOK_OPTION,
    frame: { kind: 'int', value: 't', help: 'index of the missing frame (default: the middle one)' },
    ...DECODER_OPTIONS,
    ...READ_OPTIONS,
    ...OUTPUT_OPTION('output: .png strip (truth, fills, errors), a video of the filled frame, or .vqc codes'),
  },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const codec = await loadCodec(args.required('codebook'), ctx);
    const model = await loadTrainedModel(args.required('model'), codec, ctx);
    const input = await loadCodesOrVideo(args.positionals[0], codec, readOptions(args, ctx));
    const { codes, meta } = input;
    const t = args.num('frame') ?? Math.floor(codes.frames / 2);
    checkMiddleFrame(t, codes.frames);
    // Without the real frames, the codebook's reconstruction of the input stands in for them.
    const video = input.video ?? codec.decode(codes);
    const r = fillResults({ video, codes, codec }, [{ name: model.config.kernel > 1 ? 'rcnn' : 'rnn', model }], t, renderChoice(args));
    // the rendered fill (the posterior through the decoder) is the output; the argmax codes go to .vqc
    const filled = r.predictions[1].video;
    const output = args.str('output');
    if (output) {
      const around = sliceVideo(video, t - 1, t + 2);
      const fills = stackFrames(r.predictions.map((p) => p.video));
      const rows: StripRow[] = [
        { label: 'truth', video: around },
        { label: 'fills', video: fills },
        { label: 'error', video: absDiff(fills, stackFrames(r.predictions.map(() => r.truth))), range: [0, 128], colormap: 'heat' },
      ];
      await writeFrames(output, { strip: rows, video: filled, codes: r.predictions[0].codes!, meta });
    }
    const note = input.video ? '' : '\n(codes input: compared with the codebook reconstruction, not real frames)';
    const data = { frame: t, output: output ?? null, methods: r.scores, realFrames: Boolean(input.video), seconds: secondsSince(t0) };
    return { data, text: `fill of frame ${t}${output ? ` -> ${output}` : ''}\n${renderText(frameTable(r.scores))}${note}` };
  },
};
