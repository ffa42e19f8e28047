import { resolve } from 'node:path';
import { sliceCodes, sliceVideo, stackFrames } from '@vqvid/core';
import type { CodeVolume, Video } from '@vqvid/core';
import { PatchCodec, codebookAtlas } from '@vqvid/quantize';
import { encodePng, frameStrip, syntheticVideo } from '@vqvid/video';
import type { StripRow } from '@vqvid/video';
import type { Command, CommandContext } from '../command';
import { absDiff, chooseDecoder, fillResults, nextFrameResults, renderedName } from '../evaluation';
import type { FrameResults, FrameScore, NamedModel } from '../evaluation';
import { ensureBackend, trainModel } from '../modeling';
import type { Trained } from '../modeling';
import { lineChartSvg } from '../plot';
import { writeReport } from '../report';
import type { Section } from '../report';
import { codeTable, frameTable, renderText } from '../tables';
import { checkOutputs } from '../files';
import { FORCE_OPTION, secondsSince } from './shared';
import { countedModels, scoreCodeModels } from '@vqvid/baselines';

/** One sentence per method: its PSNR and SSIM against a baseline's, in plain words. */
function compareToCopy(scores: FrameScore[], baseline: string): string {
  const base = scores.find((x) => x.name === baseline)!;
  const words = scores
    .filter((x) => x !== base && x.name !== 'codebook ceiling')
    .map((x) => {
      const d = x.psnr - base.psnr;
      const how = Math.abs(d) < 0.05 ? 'ties with' : d > 0 ? `beats ${baseline} by ${d.toFixed(1)} dB` : `is ${(-d).toFixed(1)} dB worse than ${baseline}`;
      return `${x.name} ${how === 'ties with' ? `ties with ${baseline}` : how} (SSIM ${x.ssim.toFixed(3)} vs ${base.ssim.toFixed(3)})`;
    });
  return `Against ${baseline} (PSNR ${base.psnr.toFixed(1)} dB): ${words.join('; ')}.`;
}

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
  /** Last training frames on which the decoder and its alpha are chosen. */
  validationFrames: number;
  lr: number;
  dropout: number;
}

const FULL: DemoSize = { width: 96, height: 96, frames: 80, testFrames: 10, k: 64, patch: 8, hidden: 48, embed: 24, epochs: 12, stepsPerEpoch: 8, batch: 4, strip: 6, validationFrames: 4, lr: 1e-2, dropout: 0.25 };
const TINY: DemoSize = { width: 32, height: 32, frames: 12, testFrames: 6, k: 16, patch: 8, hidden: 8, embed: 8, epochs: 2, stepsPerEpoch: 2, batch: 2, strip: 3, validationFrames: 2, lr: 1e-2, dropout: 0 };

function strip(rows: StripRow[]): Uint8Array {
  return encodePng(frameStrip(rows, { scale: 2, gap: 2, labelScale: 3 }));
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
  // one row per method: its fill, then its error beside it in the next row; all rows start at column 0
  return strip([
    { label: `frames ${t - 1} ${t} ${t + 1}`, video: sliceVideo(video, t - 1, t + 2) },
    ...r.predictions.flatMap((p) => [{ label: p.name, video: p.video }, errorRow(`error`, p.video, r.truth)]),
  ]);
}

/**
 * Trains one network as the bench does: on the training frames but the last `validationFrames`, which validate
 * (early stopping keeps the best weights), then `stepsPerEpoch` more steps on all training frames.
 */
async function train(ctx: CommandContext, name: 'rcnn' | 'rnn', codes: CodeVolume, size: DemoSize, maxSeconds?: number): Promise<Trained> {
  ctx.log(`demo: training the ${name.toUpperCase()} (at most ${size.epochs} epochs x ${size.stepsPerEpoch} steps, then ${size.stepsPerEpoch} on all training frames${maxSeconds ? `, at most ${maxSeconds.toFixed(0)} s` : ''})`);
  const fitFrames = codes.frames - size.validationFrames;
  const trained = await trainModel(sliceCodes(codes, 0, fitFrames), {
    kind: name,
    model: { hidden: size.hidden, embedDim: size.embed, seed: ctx.seed, dropout: size.dropout },
    lr: size.lr,
    epochs: size.epochs,
    stepsPerEpoch: size.stepsPerEpoch,
    batch: size.batch,
    validation: sliceCodes(codes, fitFrames - 1, codes.frames),
    maxSeconds,
    onProgress: ctx.onProgress,
    signal: ctx.signal,
  });
  const best = trained.result.epochs[Math.max(0, trained.result.bestEpoch)];
  await trained.model.fit(codes, { epochs: 1, stepsPerEpoch: size.stepsPerEpoch, batch: size.batch, lr: best?.lr ?? size.lr, lrDecay: 1, signal: ctx.signal });
  return trained;
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
    'max-seconds': { kind: 'number', min: 0, minExclusive: true, value: 's', help: 'wall-clock cap on training both models (the RCNN gets 2/3); default none: fixed steps, so results do not depend on machine load' },
    ...FORCE_OPTION,
    tiny: { kind: 'flag' },
  },
  async run(ctx) {
    const t0 = Date.now();
    const size = ctx.args.flag('tiny') ? TINY : FULL;
    const dir = ctx.args.str('output')!;
    const figures = { 'next.png': 'png', 'fill.png': 'png', 'codebook.png': 'png' } as const;
    await checkOutputs(ctx.args, [{ flag: '--output', path: dir, files: { 'index.html': null, 'report.json': null, ...figures } }]);
    const maxSeconds = ctx.args.num('max-seconds');
    const clip = ctx.args.str('clip') as 'bouncing' | 'pan' | 'translate';
    const video = syntheticVideo({ kind: clip, width: size.width, height: size.height, frames: size.frames, seed: ctx.seed });
    const split = size.frames - size.testFrames;
    ctx.log(`demo: ${clip} clip, ${size.frames} frames of ${size.width}x${size.height}; frames 0..${split - 1} train, ${split}..${size.frames - 1} test`);

    const codec = await PatchCodec.fit(sliceVideo(video, 0, split), { k: size.k, patch: size.patch, seed: ctx.seed, sample: 1 << 20, onProgress: ctx.onProgress });
    const q = codec.quantizer;
    ctx.cleanup(() => codec.dispose());
    const codes = await codec.encode(video);
    const backend = await ensureBackend();
    const trainCodes = sliceCodes(codes, 0, split);
    // The RCNN costs about 4x the RNN per step; an optional cap keeps a slow machine inside a time budget.
    const rcnn = await train(ctx, 'rcnn', trainCodes, size, maxSeconds && (maxSeconds * 2) / 3);
    ctx.cleanup(() => rcnn.model.dispose());
    const rnn = await train(ctx, 'rnn', trainCodes, size, maxSeconds && Math.max(maxSeconds / 6, maxSeconds - rcnn.seconds));
    ctx.cleanup(() => rnn.model.dispose());
    const models: NamedModel[] = [{ name: 'rcnn', model: rcnn.model }, { name: 'rnn', model: rnn.model }];

    ctx.log('demo: evaluating');
    const setup = { video, codes, codec };
    // the decoder (and its alpha) that renders the RCNN's predictions of the last training frames best, with the
    // counted prior recounted on the frames before them (as the bench does): the last training frame of the second
    // phase were counted, and choices made where the prior has memorised each place's codes do not carry over
    const chosenOn = Array.from({ length: size.validationFrames }, (_, i) => split - size.validationFrames + i);
    const chosen = rcnn.model.withPriorCountedOn(sliceCodes(codes, 0, chosenOn[0]), () => chooseDecoder(setup, rcnn.model, chosenOn));
    const render = { decoder: chosen.decoder, alpha: chosen.alpha };
    const bits = scoreCodeModels([...models, ...countedModels(trainCodes)], sliceCodes(codes, split, size.frames));
    const next = nextFrameResults(setup, models, Array.from({ length: size.testFrames }, (_, i) => split + i), render);
    const fillAt = split + Math.floor(size.testFrames / 2);
    const fill = fillResults(setup, models, fillAt, render);
    const n = Math.min(size.strip, size.testFrames);
    const reference = sliceVideo(video, split - 1);
    const gens = models.map(({ name, model }) => ({ name: renderedName(name, render), video: model.predictFrames(trainCodes, n, { codec, reference, ...render }) }));

    const history = (t: Trained) => t.result.epochs.map((e) => e.loss / Math.LN2);
    const validation = (t: Trained) => t.result.epochs.map((e) => e.valBits ?? NaN);
    const trainingInfo = (t: Trained) => ({ steps: t.result.steps, epochs: t.result.epochs.length, stopped: t.timeCapped ? 'time limit' : t.result.stopped, seconds: t.seconds, bitsPerEpoch: history(t), config: t.model.config });
    const json = {
      clip: { kind: clip, width: size.width, height: size.height, frames: size.frames, seed: ctx.seed, trainFrames: split, testFrames: size.testFrames },
      codebook: { k: q.codebook.k, patch: size.patch, stride: size.patch, inertia: q.inertia, iterations: q.iterations, backend: q.backend },
      decoder: { ...render, chosenOn: `one-step predictions of frames ${split - size.validationFrames}..${split - 1} (training frames)`, scores: chosen.scores },
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
        text:
          `Each test frame predicted from all frames before it, against the real frame: "rcnn"/"rnn" decode the argmax codes with the codebook; "${renderedName('rcnn', render)}" renders the RCNN's whole distribution with the ${render.decoder} decoder (chosen, with its alpha, on the last ${size.validationFrames} training frames, with the counted prior recounted on the frames before them), the last frame's pixels standing for "same code". ` +
          `${compareToCopy(next.scores, 'copy-last')} The strip shows a ${n}-frame continuation generated from the training frames alone. ` +
          'How to read the table: PSNR (dB) and SSIM compare each guess with the real frame (higher is better); "sharpness" is the sharpness difference of Mathieu et al. in dB, how close the guess\'s image gradients are to the real frame\'s (higher is closer, blur lowers it); "code acc." is the share of cells whose predicted code is the true code; "codebook ceiling" is the real frame\'s own codes decoded, the best any rendering of centroids can reach.',
        tables: [{ caption: `One-step prediction of frames ${split}..${size.frames - 1}`, table: frameTable(next.scores) }],
        figures: [{ title: 'Continuation', caption: 'rows: last input frames, truth, RCNN, RNN, copy-last, |RCNN - truth| (heat, 0..128).', png: continuationStrip(video, split, n, gens), file: 'next.png' }],
      },
      {
        title: 'Filling a missing frame',
        text: `Frame ${fillAt} removed and filled from the frames before it and frame ${fillAt + 1}; the rendered fill weighs each cell's candidates, the linear interpolation standing for "same code". ${compareToCopy(fill.scores, 'linear interpolation')}`,
        tables: [{ caption: `Fill of frame ${fillAt}`, table: frameTable(fill.scores) }],
        figures: [{ title: 'Fill', caption: `top: frames ${fillAt - 1}, ${fillAt}, ${fillAt + 1}; middle: ${fill.predictions.map((p) => p.name).join(', ')}; bottom: their errors (heat, 0..128).`, png: fillStrip(video, fill), file: 'fill.png' }],
      },
      {
        title: 'Code models',
        text: 'Bits per code on the test frames (each frame given the test frames before it); n-grams fitted on the training codes.',
        tables: [{ caption: 'Bits per code (lower is better)', table: codeTable(bits) }],
        figures: [{
          title: 'Training curves',
          caption: `mean training loss per epoch and validation bits/code on the last ${size.validationFrames} training frames, in bits/code (RCNN: ${rcnn.result.steps} steps in ${rcnn.seconds.toFixed(1)} s, RNN: ${rnn.result.steps} steps in ${rnn.seconds.toFixed(1)} s).`,
          svg: lineChartSvg(
            [
              { name: 'RCNN train', values: history(rcnn) },
              { name: 'RCNN validation', values: validation(rcnn) },
              { name: 'RNN train', values: history(rnn) },
              { name: 'RNN validation', values: validation(rnn) },
            ],
            { title: 'Training and validation bits/code', xLabel: 'epoch', yLabel: 'bits/code' },
          ),
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
