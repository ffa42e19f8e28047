import { DEFAULT_FIT_OPTIONS, DEFAULT_MODEL_OPTIONS, INPUT_KINDS } from '@vqvid/model';
import type { InputKind } from '@vqvid/model';
import { type OptionSpec, type ParsedArgs, UsageError } from '../args';
import type { CommandContext } from '../command';
import type { ModelKind, TrainSettings } from '../modeling';

/** Architecture options of `vqvid train` (and the demo). */
export const ARCH_OPTIONS: Record<string, OptionSpec> = {
  arch: { kind: 'choice', choices: ['rcnn', 'rnn'], default: 'rcnn', help: 'network: recurrent conv net, or the 1x1 RNN baseline' },
  hidden: { kind: 'int', default: DEFAULT_MODEL_OPTIONS.hidden, value: 'n', help: 'recurrent state width' },
  embed: { kind: 'int', default: DEFAULT_MODEL_OPTIONS.embedDim, value: 'n', help: 'code embedding width' },
  kernel: { kind: 'int', default: DEFAULT_MODEL_OPTIONS.kernel, value: 'cells', help: 'conv kernel side (rcnn)' },
  layers: { kind: 'int', default: DEFAULT_MODEL_OPTIONS.layers, value: 'n', help: 'conv layers' },
  softmax: { kind: 'choice', choices: ['full', 'factored'], default: DEFAULT_MODEL_OPTIONS.softmax, help: 'output layer' },
  plain: { kind: 'flag', help: "the paper's plain softmax output (default: copy-aware, the softmax mixed with 'same code' and a counted prior under a learned gate)" },
  prior: {
    kind: 'choice',
    choices: ['bigram', 'spatial', 'none'],
    help: `the copy-aware output's counted prior: the same-cell bigram, the spatial n-gram over the cell's and its 4 neighbours' codes, or none (default ${DEFAULT_MODEL_OPTIONS.prior}; bigram with --arch rnn)`,
  },
  dropout: { kind: 'number', default: DEFAULT_MODEL_OPTIONS.dropout, value: 'rate', help: 'training dropout on the embedded codes and the output state' },
  direct: { kind: 'flag', help: 'direct connections from the present code to the logits (k <= 4096)' },
  inputs: {
    kind: 'choice',
    choices: ['codes', INPUT_KINDS.join(',')],
    default: DEFAULT_MODEL_OPTIONS.inputs.join(','),
    help: 'what each cell reads: its code, or also two motion flags (code changed now / the frame before)',
  },
  scales: {
    kind: 'choice',
    choices: ['1', '2'],
    default: String(DEFAULT_MODEL_OPTIONS.scales),
    help: 'grids modelled: the code grid, or also a coarse grid of 2x2 blocks whose state every cell reads (context reaches about twice as far)',
  },
  'hidden-coarse': { kind: 'int', min: 1, value: 'n', help: 'coarse state width with --scales 2 (default: half of --hidden)' },
};

/** Training-loop options of `vqvid train` (and the demo). */
export const FIT_OPTIONS: Record<string, OptionSpec> = {
  // a budget of 0 epochs or steps would write an untrained model and report success
  epochs: { kind: 'int', default: DEFAULT_FIT_OPTIONS.epochs, min: 1, value: 'n', help: 'training epochs' },
  'steps-per-epoch': { kind: 'int', min: 1, value: 'n', help: 'batches per epoch (default: one pass over the codes)' },
  bptt: { kind: 'int', default: DEFAULT_FIT_OPTIONS.bptt, value: 'frames', help: 'frames per truncated-BPTT window' },
  batch: { kind: 'int', default: DEFAULT_FIT_OPTIONS.batch, value: 'n', help: 'windows per batch' },
  crop: { kind: 'int', default: DEFAULT_FIT_OPTIONS.crop, value: 'cells', help: 'side of the random crop of the code grid' },
  lr: { kind: 'number', default: DEFAULT_FIT_OPTIONS.lr, value: 'rate', help: 'Adam learning rate' },
  rollout: { kind: 'int', default: DEFAULT_FIT_OPTIONS.rollout, min: 0, value: 'frames', help: "scheduled sampling: frames a training window reads the model's own predictions (0 = teacher forcing)" },
  'rollout-prob': { kind: 'number', default: DEFAULT_FIT_OPTIONS.rolloutProb, value: 'p', help: 'probability that a training window rolls out, with --rollout > 0' },
  'max-seconds': { kind: 'number', min: 0, minExclusive: true, value: 's', help: 'stop training after this wall-clock time (results then depend on machine speed)' },
};

/**
 * Names @vqvid/model gives the values of {@link ARCH_OPTIONS} and {@link FIT_OPTIONS} in its errors where they
 * are not the flags' names in camelCase (see `Command.libraryArguments`).
 */
export const MODEL_ARGUMENTS: Record<string, string> = { embedDim: '--embed', timeLimit: '--max-seconds' };

/** {@link TrainSettings} from parsed {@link ARCH_OPTIONS} and {@link FIT_OPTIONS}. */
export function trainSettings(args: ParsedArgs, ctx: CommandContext, kind = args.str('arch') as ModelKind): TrainSettings {
  const model = {
    hidden: args.num('hidden'),
    embedDim: args.num('embed'),
    layers: args.num('layers'),
    seed: ctx.seed,
    softmax: args.str('softmax') as 'full' | 'factored',
    dropout: args.num('dropout'),
    direct: args.flag('direct'),
    inputs: args.str('inputs')!.split(',') as InputKind[],
    ...(args.has('prior') ? { prior: args.str('prior') as 'bigram' | 'spatial' | 'none' } : {}),
    scales: Number(args.str('scales')) as 1 | 2,
    hiddenCoarse: args.num('hidden-coarse'),
    ...(args.flag('plain') ? { copy: false, prior: 'none' as const } : {}),
  };
  if (args.flag('plain') && args.has('prior')) {
    throw new UsageError(`--prior ${args.str('prior')}: the prior belongs to the copy-aware output, and --plain has none`);
  }
  return {
    kind,
    model: kind === 'rnn' ? model : { ...model, kernel: args.num('kernel') },
    epochs: args.num('epochs')!,
    stepsPerEpoch: args.num('steps-per-epoch'),
    bptt: args.num('bptt'),
    batch: args.num('batch'),
    crop: args.num('crop'),
    lr: args.num('lr'),
    rollout: args.num('rollout'),
    rolloutProb: args.num('rollout-prob'),
    maxSeconds: args.num('max-seconds'),
    onProgress: ctx.onProgress,
    signal: ctx.signal,
  };
}
