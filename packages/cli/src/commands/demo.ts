import { resolve } from 'node:path';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { encodePng, frameStrip, syntheticVideo } from '@vqvid/video';
import type { StripRow } from '@vqvid/video';
import { codebookAtlas } from '../atlas';
import type { Command, CommandContext } from '../command';
import { absDiff, codeScores, fillResults, nextFrameResults, stackFrames } from '../evaluation';
import type { FrameResults, NamedModel } from '../evaluation';
import { ensureBackend, trainModel } from '../modeling';
import type { Trained } from '../modeling';
import { decodeCodes, encodeVideo, fitCodebook } from '../pipeline';
import { lineChartSvg } from '../plot';
import { writeReport } from '../report';
import type { Section } from '../report';
import { codeTable, frameTable, renderText } from '../tables';
import { secondsSince } from './shared';

/** Sizes of one demo run; `--tiny` shrinks everything so tests finish in seconds. */
interface DemoSize {
  width: number;
  height: number;
  frames: number;
  testFrames: number;
  k: number;
  patch: number;
  hidden: number;
  embed: number;
  epochs: number;
  stepsPerEpoch: number;
  batch: number;
  strip: number;
}

const FULL: DemoSize = { width: 96, height: 96, frames: 40, testFrames: 10, k: 64, patch: 8, hidden: 48, embed: 24, epochs: 12, stepsPerEpoch: 8, batch: 4, strip: 6 };
const TINY: DemoSize = { width: 32, height: 32, frames: 12, testFrames: 6, k: 16, patch: 8, hidden: 8, embed: 8, epochs: 2, stepsPerEpoch: 2, batch: 2, strip: 3 };

function strip(rows: StripRow[]): Uint8Array {
  return encodePng(frameStrip(rows, { scale: 2, gap: 2 }));
}

function errorRow(label: string, pred: Video, truth: Video): StripRow {
  return { label, video: absDiff(pred, truth), range: [0, 128], colormap: 'heat' };
}

/** Strip of a multi-step continuation: context, truth, each model, copy-last, and the first model's error. */
function continuationStrip(video: Video, split: number, n: number, gens: Array<{ name: string; video: Video }>): Uint8Array {
  const truth = sliceVideo(video, split, split + n);
  const last = sliceVideo(video, split - 1);
  const copy = stackFrames(Array.from({ length: n }, () => last));
  return strip([
    { label: 'input', video: sliceVideo(video, Math.max(0, split - n), split) },
    { label: 'truth', video: truth },
    ...gens.map((g) => ({ label: g.name, video: g.video })),
    { label: 'copy', video: copy },
    errorRow('error', gens[0].video, truth),
  ]);
}

/** Strip of the fill: frames t-1, t, t+1; then every method's frame t; then their errors. */
function fillStrip(video: Video, r: FrameResults): Uint8Array {
  const t = r.times[0];
  const fills = stackFrames(r.predictions.map((p) => p.video));
  return strip([
    { label: 'truth', video: sliceVideo(video, t - 1, t + 2) },
    { label: 'fills', video: fills },
    errorRow('error', fills, stackFrames(r.predictions.map(() => r.truth))),
  ]);
}

async function train(ctx: CommandContext, name: 'rcnn' | 'rnn', codes: Parameters<typeof trainModel>[0], size: DemoSize, maxSeconds: number): Promise<Trained> {
  ctx.log(`demo: training the ${name.toUpperCase()} (${size.epochs} epochs x ${size.stepsPerEpoch} steps, at most ${maxSeconds.toFixed(0)} s)`);
  return trainModel(codes, {
    kind: name,
    model: { hidden: size.hidden, embedDim: size.embed, seed: ctx.seed },
    epochs: size.epochs,
    stepsPerEpoch: size.stepsPerEpoch,
    batch: size.batch,
    maxSeconds,
    onProgress: ctx.onProgress,
    signal: ctx.signal,
  });
}

/** `vqvid demo`: the whole pipeline on a built-in synthetic clip, written up as an HTML report. */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole pipeline on a built-in clip and write an HTML report',
  usage: 'vqvid demo [-o vqvid-demo]',
  description:
    'Makes a synthetic clip (bouncing textured shapes), fits a k-means codebook of 8x8 patches on its first\n' +
    'frames, trains a small RCNN and the RNN baseline on their codes for a bounded time, then on the held-out\n' +
    'frames predicts the next frames, fills a missing one, and compares with copy-last, linear and optical-flow\n' +
    'baselines and n-gram code models. Writes index.html (strips, codebook atlas, training curves, tables) and\n' +
    'report.json into the output folder. Nothing to download.',
  positionals: { min: 0, max: 0 },
  options: {
    output: { kind: 'string', short: 'o', value: 'dir', default: 'vqvid-demo', help: 'report folder' },
    clip: { kind: 'choice', choices: ['bouncing', 'pan', 'translate'], default: 'bouncing', help: 'synthetic clip' },
    'max-seconds': { kind: 'number', default: 90, value: 's', help: 'wall-clock cap on training both models (the RCNN gets 2/3)' },
    tiny: { kind: 'flag' },
  },
  async run(ctx) {
    const t0 = Date.now();
    const size = ctx.args.flag('tiny') ? TINY : FULL;
    const dir = ctx.args.str('output')!;
    const maxSeconds = ctx.args.num('max-seconds')!;
    const clip = ctx.args.str('clip') as 'bouncing' | 'pan' | 'translate';
    const video = syntheticVideo({ kind: clip, width: size.width, height: size.height, frames: size.frames, seed: ctx.seed });
    const split = size.frames - size.testFrames;
    ctx.log(`demo: ${clip} clip, ${size.frames} frames of ${size.width}x${size.height}; frames 0..${split - 1} train, ${split}..${size.frames - 1} test`);

    const q = await fitCodebook(sliceVideo(video, 0, split), { k: size.k, size: size.patch, stride: size.patch, seed: ctx.seed, samples: 1 << 20, onProgress: ctx.onProgress });
    ctx.cleanup(() => q.dispose());
    const { codes, meta } = await encodeVideo(q, video);
    const backend = await ensureBackend();
    const trainCodes = sliceCodes(codes, 0, split);
    // The RCNN costs about 4x the RNN per step; the cap keeps a slow or busy machine inside the time budget.
    const rcnn = await train(ctx, 'rcnn', trainCodes, size, (maxSeconds * 2) / 3);
    ctx.cleanup(() => rcnn.model.dispose());
    const rnn = await train(ctx, 'rnn', trainCodes, size, Math.max(maxSeconds / 6, maxSeconds - rcnn.seconds));
    ctx.cleanup(() => rnn.model.dispose());
    const models: NamedModel[] = [{ name: 'rcnn', model: rcnn.model }, { name: 'rnn', model: rnn.model }];

    ctx.log('demo: evaluating');
    const setup = { video, codes, meta, quantizer: q };
    const bits = codeScores(models, trainCodes, sliceCodes(codes, split, size.frames));
    const next = nextFrameResults(setup, models, Array.from({ length: size.testFrames }, (_, i) => split + i));
    const fillAt = split + Math.floor(size.testFrames / 2);
    const fill = fillResults(setup, models, fillAt);
    const n = Math.min(size.strip, size.testFrames);
    const gens = models.map(({ name, model }) => ({ name, video: decodeCodes(q, model.generate(trainCodes, n), meta) }));

    const history = (t: Trained) => t.result.epochs.map((e) => e.loss / Math.LN2);
    const trainingInfo = (t: Trained) => ({ steps: t.result.steps, epochs: t.result.epochs.length, stopped: t.timeCapped ? 'time limit' : t.result.stopped, seconds: t.seconds, bitsPerEpoch: history(t), config: t.model.config });
    const json = {
      clip: { kind: clip, width: size.width, height: size.height, frames: size.frames, seed: ctx.seed, trainFrames: split, testFrames: size.testFrames },
      codebook: { k: q.codebook.k, patch: size.patch, stride: size.patch, inertia: q.inertia, iterations: q.iterations, backend: q.backend },
      tfBackend: backend,
      training: { rcnn: trainingInfo(rcnn), rnn: trainingInfo(rnn) },
      bitsPerCode: bits,
      nextFrame: next.scores,
      fill: { frame: fillAt, scores: fill.scores },
      seconds: 0,
    };
    const sections: Section[] = [
      {
        title: 'Next-frame prediction',
        text: `Each test frame predicted from all frames before it (one step ahead, argmax codes decoded with the codebook), against the real frame. The strip shows a ${n}-frame continuation generated from the training frames alone.`,
        tables: [{ caption: `One-step prediction of frames ${split}..${size.frames - 1}`, table: frameTable(next.scores) }],
        figures: [{ title: 'Continuation', caption: 'rows: last input frames, truth, RCNN, RNN, copy-last, |RCNN - truth| (heat, 0..128).', png: continuationStrip(video, split, n, gens), file: 'next.png' }],
      },
      {
        title: 'Filling a missing frame',
        text: `Frame ${fillAt} removed and filled from the frames before it and frame ${fillAt + 1}.`,
        tables: [{ caption: `Fill of frame ${fillAt}`, table: frameTable(fill.scores) }],
        figures: [{ title: 'Fill', caption: `top: frames ${fillAt - 1}, ${fillAt}, ${fillAt + 1}; middle: ${fill.predictions.map((p) => p.name).join(', ')}; bottom: their errors (heat, 0..128).`, png: fillStrip(video, fill), file: 'fill.png' }],
      },
      {
        title: 'Code models',
        text: 'Bits per code on the test frames (each frame given the test frames before it); n-grams fitted on the training codes.',
        tables: [{ caption: 'Bits per code (lower is better)', table: codeTable(bits) }],
        figures: [{
          title: 'Training curves',
          caption: `mean training loss per epoch in bits/code (RCNN: ${rcnn.result.steps} steps in ${rcnn.seconds.toFixed(1)} s, RNN: ${rnn.result.steps} steps in ${rnn.seconds.toFixed(1)} s).`,
          svg: lineChartSvg([{ name: 'RCNN', values: history(rcnn) }, { name: 'RNN', values: history(rnn) }], { title: 'Training loss', xLabel: 'epoch', yLabel: 'bits/code' }),
        }],
      },
      {
        title: 'Codebook',
        text: `${q.codebook.k} centroids of ${size.patch}x${size.patch} patches (k-means++ and Lloyd, ${q.iterations} iterations, backend ${q.backend}).`,
        figures: [{ title: 'Codebook atlas', caption: 'every centroid as a tile, one gray scale for all.', png: encodePng(frameStrip([codebookAtlas(q.codebook)], { scale: 4, gap: 0 })), file: 'codebook.png', pixelated: true }],
      },
    ];
    json.seconds = secondsSince(t0);
    const intro = `vqvid demo: a ${clip} clip of ${size.frames} frames (${size.width}x${size.height}), ${size.patch}x${size.patch} patches quantised to K = ${size.k} codes, models trained on frames 0..${split - 1} and tested on ${split}..${size.frames - 1}. Seed ${ctx.seed}, ${json.seconds} s.`;
    const index = await writeReport(dir, 'vqvid demo report', intro, sections, json);
    const text = [
      renderText(codeTable(bits)),
      '',
      renderText(frameTable(next.scores)),
      '',
      `report: ${resolve(index)}`,
    ].join('\n');
    return { data: { report: resolve(index), ...json }, text };
  },
};
