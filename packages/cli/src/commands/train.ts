import { join } from 'node:path';
import { assertInt, readCodes, sliceCodes, writeFileAtomic } from '@vqvid/core';
import type { Command, CommandContext } from '../command';
import { CHECKPOINT_FILE, MODEL_FILE, checkOutputs, isContainer } from '../files';
import { ensureBackend, trainModel } from '../modeling';
import { MEMORY_OPTIONS, memoryOptions } from '../memory';
import { loadCodesOrVideo } from '../pipeline';
import type { CodesInput } from '../pipeline';
import { loadCodec } from './load';
import { ARCH_OPTIONS, FIT_OPTIONS, MODEL_ARGUMENTS, trainSettings } from './model-options';
import { CODEBOOK_OPTION, OUTPUT_OPTION, READ_OPTIONS, ensureFolder, readOptions, secondsSince, table } from './shared';
import { RECORD_FILE, checkResume, requireCheckpoint, trainingRecord, writeRecord } from './train-record';

/** Codes from a codes file, or from a video encoded with --codebook frame by frame (no frame is kept). */
async function trainingCodes(ctx: CommandContext): Promise<CodesInput> {
  const path = ctx.args.positionals[0];
  if (await isContainer(path, 'input')) return readCodes(path, 'input');
  const codec = await loadCodec(ctx.args.required('codebook'), ctx);
  return loadCodesOrVideo(path, codec, { ...readOptions(ctx.args, ctx), ...memoryOptions(ctx.args) }, { last: 0 });
}

/** `vqvid train`: fit an RCNN (or the RNN baseline) on codes. */
export const trainCommand: Command = {
  name: 'train',
  summary: 'train an RCNN (or RNN) language model on codes',
  usage: 'vqvid train <video|codes.vqc> [--codebook codebook.vqcb] -o model-dir',
  description:
    'Trains the recurrent convolutional network on a code volume (a codes file, or a video encoded on the fly\n' +
    'with --codebook, frame by frame: the video is never held in memory, only its codes). A checkpoint is\n' +
    'written after every epoch; Ctrl-C stops at the next batch, saves it and exits with code 130, and --resume\n' +
    'continues from it (refused if the checkpoint was trained with other options, which train-options.json\n' +
    'beside it records). The model folder gets model.vqm and train.json.',
  positionals: { min: 1, max: 1 },
  interruptible: true,
  options: {
    ...CODEBOOK_OPTION,
    ...ARCH_OPTIONS,
    ...FIT_OPTIONS,
    'val-frames': { kind: 'int', default: 0, min: 0, value: 'n', help: 'hold out the last n frames to report validation bits/code (and to refit the gate on: see --no-calibrate)' },
    'no-calibrate': { kind: 'flag', help: "with --val-frames, keep the copy-aware output's gate as trained (default: its biases are refitted on the validation frames at the end)" },
    'checkpoint-dir': { kind: 'string', value: 'dir', help: 'where checkpoints go (default <model-dir>/checkpoint)' },
    resume: { kind: 'flag', help: 'continue from the checkpoint' },
    workers: { kind: 'int', min: 1, value: 'n', help: 'worker threads that share every batch (default: the cores, at most --batch; 1 = none); any n gives the same model within float rounding' },
    ...READ_OPTIONS,
    ...MEMORY_OPTIONS,
    ...OUTPUT_OPTION('model folder to write (default model)'),
    force: { kind: 'flag', help: 'overwrite an output file of another kind; with --resume, continue a checkpoint trained with other training options (recorded beside it)' },
  },
  libraryArguments: { ...MODEL_ARGUMENTS, checkpointDir: '--checkpoint-dir' },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const out = args.str('output') ?? 'model';
    const checkpointDir = args.str('checkpoint-dir') ?? join(out, 'checkpoint');
    const checkpointFlag = args.has('checkpoint-dir') ? '--checkpoint-dir' : '--output';
    await checkOutputs(args, [
      { flag: '--output', path: out, files: { [MODEL_FILE]: 'model', 'train.json': null } },
      { flag: checkpointFlag, path: checkpointDir, files: { [CHECKPOINT_FILE]: 'checkpoint', [RECORD_FILE]: null } },
    ]);
    if (args.flag('resume')) await requireCheckpoint(checkpointDir);
    const { codes, meta } = await trainingCodes(ctx);
    const valFrames = args.num('val-frames')!;
    // the validation part and the training part each need 2 frames to predict one
    if (valFrames > 0) assertInt(valFrames, '--val-frames', 2, codes.frames - 2);
    const split = codes.frames - valFrames;
    const settings = trainSettings(args, ctx);
    settings.checkpointDir = checkpointDir;
    settings.resume = args.flag('resume');
    settings.workers = args.num('workers');
    settings.calibrate = !args.flag('no-calibrate');
    const train = valFrames > 0 ? sliceCodes(codes, 0, split) : codes;
    if (valFrames > 0) settings.validation = sliceCodes(codes, split, codes.frames);
    let options = trainingRecord(args, train);
    if (settings.resume) options = await checkResume(checkpointDir, options, args.flag('force'), ctx.log);
    await ensureFolder(checkpointDir, checkpointFlag);
    await writeRecord(checkpointDir, options);
    ctx.debug(`tfjs backend: ${await ensureBackend()}`);
    const { model, result, timeCapped } = await trainModel(train, settings);
    ctx.cleanup(() => model.dispose());
    await ensureFolder(out, '--output');
    await model.save(out);
    const record = { arch: settings.kind, config: model.config, codes: { ...meta, ...codes.geometry, rows: codes.rows, cols: codes.cols, frames: codes.frames }, history: result };
    await writeFileAtomic(join(out, 'train.json'), JSON.stringify(record, null, 2));
    const last = result.epochs[result.epochs.length - 1];
    const data = {
      model: out,
      arch: settings.kind,
      k: codes.k,
      epochs: result.epochs.length,
      steps: result.steps,
      stopped: timeCapped ? 'time limit' : result.stopped,
      trainBitsPerCode: last ? last.loss / Math.LN2 : null,
      valBitsPerCode: last?.valBits ?? null,
      calibration: result.calibration ?? null,
      history: result.epochs,
      seconds: secondsSince(t0),
    };
    const rows: Array<[string, string | number]> = [
      ['model', `${out} (${settings.kind}, K = ${codes.k})`],
      ['epochs / steps', `${data.epochs} / ${data.steps} (${data.stopped})`],
      ['train bits/code', data.trainBitsPerCode?.toFixed(3) ?? '-'],
    ];
    if (data.valBitsPerCode !== null) rows.push(['val bits/code', data.valBitsPerCode.toFixed(3)]);
    const cal = result.calibration;
    if (cal) rows.push(['gate refit on val', `${cal.valBitsBefore.toFixed(3)} -> ${cal.valBitsAfter.toFixed(3)} bits/code (best weights; offsets ${cal.components.map((c, i) => `${c} ${cal.offsets[i] >= 0 ? '+' : ''}${cal.offsets[i].toFixed(2)}`).join(', ')})`]);
    rows.push(['seconds', data.seconds]);
    return { data, text: table(rows) };
  },
};
