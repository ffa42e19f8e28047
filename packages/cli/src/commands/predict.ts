import { extname } from 'node:path';
import { assertInt, sliceCodes, sliceVideo, writeCodes } from '@vqvid/core';
import type { CodeVolume, Video } from '@vqvid/core';
import { frameStrip, writePng, writeVideo } from '@vqvid/video';
import type { StripRow } from '@vqvid/video';
import type { Command, CommandContext } from '../command';
import { MEMORY_OPTIONS, checkRenderMemory, memoryOptions } from '../memory';
import { loadCodesOrVideo } from '../pipeline';
import { checkOutputs, framesOutput } from '../files';
import type { Provenance } from '../pipeline';
import { loadCodec, loadTrainedModel } from './load';
import { DEFAULT_DECODER } from '@vqvid/quantize';
import type { RCNN, RenderOptions } from '@vqvid/model';
import { UsageError } from '../args';
import { fitDecoderOnContext } from '../evaluation';
import { CODEBOOK_OPTION, MODEL_OPTION, autoDecoderOptions, OUTPUT_OPTION, READ_OPTIONS, ensureParent, readOptions, resolveDecoder, secondsSince, table } from './shared';

/** What an output file can hold: a strip for .png, frames for a video file, codes (with geometry) for .vqc. */
export interface FramesOut {
  strip: StripRow[];
  video: Video;
  codes: CodeVolume;
  /** Provenance of the input, saved beside codes; its `fps` sets a video's frame rate (default 25). */
  meta: Provenance;
}

/** Writes to `path` by its extension: codes (.vqc), a PNG strip (.png) or a video file. */
export async function writeFrames(path: string, { strip, video, codes, meta }: FramesOut): Promise<string> {
  await ensureParent(path);
  const ext = extname(path).toLowerCase();
  if (ext === '.vqc') {
    await writeCodes(path, codes, meta);
    return 'codes';
  }
  if (ext === '.png') {
    await writePng(path, frameStrip(strip, { maxFrames: 8, scale: 2 }));
    return 'png strip';
  }
  await writeVideo(path, video, { fps: typeof meta.fps === 'number' ? meta.fps : 25 });
  return 'video';
}

/**
 * `--onnx`: the frames of `predictFrames` by `predictFramesAsync`, with the output layer's search and (where the model
 * allows) the recurrent step in onnxruntime-node (`@vqvid/model/onnx`; the same frames up to float rounding).
 */
async function predictWithOnnx(model: RCNN, context: CodeVolume, steps: number, render: RenderOptions): Promise<Video> {
  const { OnnxOutput, OnnxStep } = await import('@vqvid/model/onnx');
  const source = await OnnxOutput.create(model);
  const stepper = OnnxStep.supports(model) ? await OnnxStep.create(model) : undefined;
  try {
    return await model.predictFramesAsync(context, steps, { ...render, source, ...(stepper ? { stepper } : {}) });
  } finally {
    await source.release();
    await stepper?.release();
  }
}

/** Context frames `--decoder auto` fits the decoder on (their one-step predictions against their pixels). */
export const AUTO_DECODER_FRAMES = 3;

/** Shared body of predict and generate: the model's continuation of the input, decoded and written. */
function continuationCommand(name: 'predict' | 'generate', defaults: { steps: number; mode: 'argmax' | 'sample' }, summary: string, description: string): Command {
  return {
    name,
    summary,
    usage: `vqvid ${name} <video|codes.vqc> --model model-dir --codebook codebook.vqcb [--steps ${defaults.steps}] -o out.y4m|out.png|out.vqc`,
    description,
    positionals: { min: 1, max: 1 },
    libraryArguments: { dir: '--model' },
    options: {
      ...MODEL_OPTION,
      ...CODEBOOK_OPTION,
      steps: { kind: 'int', default: defaults.steps, min: 1, value: 'n', help: 'frames to predict' },
      context: { kind: 'int', value: 'n', help: 'use only the first n frames as context (default all)' },
      mode: { kind: 'choice', choices: ['argmax', 'sample'], default: defaults.mode, help: 'most likely code per cell, or a seeded sample' },
      temperature: { kind: 'number', default: 1, value: 't', help: 'sampling temperature' },
      'top-k': { kind: 'int', value: 'n', help: 'sample only among the n most likely codes' },
      ...autoDecoderOptions(`the context's last ${AUTO_DECODER_FRAMES} frames, each predicted from the frames before it`),
      ...(defaults.mode === 'argmax'
        ? { onnx: { kind: 'flag' as const, help: 'run the output search and the recurrent step in onnxruntime-node (an optional install; argmax mode)' } }
        : {}),
      ...READ_OPTIONS,
      ...MEMORY_OPTIONS,
      ...OUTPUT_OPTION('output: .y4m/.mp4/... video, .png strip, or .vqc codes'),
    },
    async run(ctx: CommandContext) {
      const { args } = ctx;
      const t0 = Date.now();
      await checkOutputs(args, [framesOutput(args.str('output'))]);
      const codec = await loadCodec(args.required('codebook'), ctx);
      const model = await loadTrainedModel(args.required('model'), codec, ctx);
      const read = { ...readOptions(args, ctx), ...memoryOptions(args) };
      // a video is streamed: only the context's last frames (shown, and the reference of the first step) are kept
      const input = await loadCodesOrVideo(args.positionals[0], codec, read, { last: Math.max(4, AUTO_DECODER_FRAMES + 1), end: args.num('context') });
      const frames = args.num('context') ?? input.codes.frames;
      assertInt(frames, '--context', 1, input.codes.frames);
      const context = sliceCodes(input.codes, 0, frames);
      const steps = args.num('steps')!;
      const shown = Math.min(frames, 4);
      assertInt(steps, '--steps', 1);
      checkRenderMemory(context, steps + (input.video ? 0 : shown), model.config, read.maxMemory, 'render fewer frames (--steps)');
      const opts = { mode: args.str('mode') as 'argmax' | 'sample', temperature: args.num('temperature'), topK: args.num('top-k'), seed: ctx.seed };
      const generated = model.generate(context, steps, Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)));
      const future: CodeVolume = { ...generated, geometry: context.geometry }; // the frames continue the context's
      const start = input.videoStart ?? 0; // the kept frames' first index
      const before: Video = input.video ? sliceVideo(input.video, frames - shown - start, frames - start) : codec.decode(sliceCodes(context, frames - shown, frames));
      // argmax: the distributions go through the decoder, the last context frame standing for "same code";
      // sampled codes are drawn, so they are rendered as their centroids
      const { render, decoderFit: fitReport } = resolveDecoder(
        args,
        (search) => (input.video && opts.mode === 'argmax' ? fitDecoderOnContext(model, codec, context, input.video, start, { targets: AUTO_DECODER_FRAMES, search }) : null),
        (fitted) =>
          fitted
            ? `least squared error on context frames ${fitted.frames[0]}..${fitted.frames[fitted.frames.length - 1]}`
            : input.video
              ? `no context frame with the frame before it: the default ${DEFAULT_DECODER}`
              : `no context pixels (codes input): the default ${DEFAULT_DECODER}`,
      );
      const onnx = name === 'predict' && args.flag('onnx');
      if (onnx && opts.mode !== 'argmax') throw new UsageError('--onnx: the ONNX path renders the most likely frames (--mode argmax)');
      const renderOptions = { codec, reference: sliceVideo(before, before.frames - 1), ...render };
      const predicted = opts.mode !== 'argmax' ? codec.decode(future) : onnx ? await predictWithOnnx(model, context, steps, renderOptions) : model.predictFrames(context, steps, renderOptions);
      const rows: StripRow[] = [{ label: 'context', video: before }, { label: name, video: predicted }];
      const output = args.str('output');
      const kind = output ? await writeFrames(output, { strip: rows, video: predicted, codes: future, meta: input.meta }) : null;
      const decoder = opts.mode === 'argmax' ? render : null;
      // --decoder auto: how the decoder was chosen, and each decoder's best alpha and error on those frames
      const decoderFit = decoder ? fitReport : undefined;
      const data = { output: output ?? null, kind, contextFrames: frames, steps, mode: opts.mode, decoder, ...(decoderFit ? { decoderFit } : {}), ...(onnx ? { onnx: true } : {}), rows: future.rows, cols: future.cols, seconds: secondsSince(t0) };
      const text = table([
        ['output', output ? `${output} (${kind})` : '(none; pass -o to write frames)'],
        ['context', `${frames} frames`],
        [name, `${steps} frames (${opts.mode}${decoder ? `, decoder ${decoder.decoder}, alpha ${decoder.alpha}${decoder.search ? `, search ${decoder.search}` : ''}${decoderFit ? `; auto: ${decoderFit.chosenOn}` : ''}` : ''}${onnx ? '; ONNX path' : ''})`],
        ['seconds', data.seconds],
      ]);
      return { data, text };
    },
  };
}

/** `vqvid predict`: the most likely next frames. */
export const predictCommand = continuationCommand(
  'predict',
  { steps: 4, mode: 'argmax' },
  'predict the next frames of a video',
  'Encodes the input (or reads codes), runs the model over it and predicts the next --steps frames, each from\n' +
    'the context and the frames predicted before it, then decodes them with the codebook.',
);

/** `vqvid generate`: sampled continuations. */
export const generateCommand = continuationCommand(
  'generate',
  { steps: 16, mode: 'sample' },
  'sample a continuation of a video',
  'Like predict, but samples each code from the model (seeded by --seed, shaped by --temperature and\n' +
    '--top-k) to generate a longer continuation.',
);
