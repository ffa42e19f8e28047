import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VqvidError, crc32, writeFileAtomic } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import type { ParsedArgs } from '../args';
import { CHECKPOINT_FILE } from '../files';
import { ARCH_OPTIONS, FIT_OPTIONS } from './model-options';

/**
 * The file `vqvid train` keeps next to its checkpoint: the options and codes the checkpoint was trained with.
 * The checkpoint itself records the network's config but not the training loop's options (lr, batch, ...),
 * so without this file a resume with other options would silently become another run.
 */
export const RECORD_FILE = 'train-options.json';

/** Options that shape the network: the checkpoint's weights only fit a network built with the same ones. */
const NETWORK_FLAGS = [...Object.keys(ARCH_OPTIONS), 'seed'];
/** Options of the training loop; a wall-clock cap is left out, as a resume usually follows a capped run. */
const LOOP_FLAGS = [...Object.keys(FIT_OPTIONS).filter((f) => f !== 'max-seconds'), 'val-frames'];

type OptionValue = string | number | boolean | null;

/** What a checkpoint was trained with: option values by flag name, and a fingerprint of the training codes. */
export interface TrainingRecord {
  /** Values of the network and training-loop options (defaults included; null: not given and no default). */
  options: Record<string, OptionValue>;
  /** The training codes: their size and the CRC-32 of their bytes (hex). */
  codes: { k: number; frames: number; rows: number; cols: number; crc32: string };
  /** Earlier records that a `--resume --force` with other options replaced, oldest first. */
  replaced?: Array<Omit<TrainingRecord, 'replaced'>>;
}

/** The record of a run with the parsed `args` on the training codes `codes` (validation frames removed). */
export function trainingRecord(args: ParsedArgs, codes: CodeVolume): TrainingRecord {
  const options: Record<string, OptionValue> = {};
  for (const flag of [...NETWORK_FLAGS, ...LOOP_FLAGS]) {
    // the RNN has no kernel: its value changes nothing
    if (flag === 'kernel' && args.str('arch') === 'rnn') continue;
    options[flag] = Object.hasOwn(ARCH_OPTIONS, flag) && ARCH_OPTIONS[flag].kind === 'flag' ? args.flag(flag) : (args.num(flag) ?? args.str(flag) ?? null);
  }
  const c = codes.codes;
  const bytes = new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  return { options, codes: { k: codes.k, frames: codes.frames, rows: codes.rows, cols: codes.cols, crc32: crc32(bytes).toString(16).padStart(8, '0') } };
}

/** E_NOT_FOUND unless `dir` holds a checkpoint to resume from. */
export async function requireCheckpoint(dir: string): Promise<void> {
  const file = join(dir, CHECKPOINT_FILE);
  try {
    await access(file);
  } catch {
    throw new VqvidError('E_NOT_FOUND', `--resume: no checkpoint in ${dir} (${file} does not exist); run without --resume to start training`, { argument: '--resume', path: file });
  }
}

function readable(v: unknown): string {
  if (v === null || v === undefined) return 'not given';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return String(v);
}

function codesWords(c: TrainingRecord['codes']): string {
  return `${c.frames} frames x ${c.rows} x ${c.cols}, K = ${c.k}, crc ${c.crc32}`;
}

async function readRecord(file: string): Promise<TrainingRecord | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new VqvidError('E_IO', `--resume: could not read ${file} (${(e as Error).message})`, { path: file });
  }
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    record = null;
  }
  const r = record as Partial<TrainingRecord> | null;
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(r) || !isObject(r!.options) || !isObject(r!.codes)) {
    throw new VqvidError('E_FORMAT', `--resume: ${file} is not a training record written by vqvid train; delete it to resume without checking the options`, { path: file });
  }
  return r as TrainingRecord;
}

/**
 * Checks a resume against the record next to the checkpoint in `dir` and returns the record to write.
 * Different network options are refused (the weights would not fit); different training-loop options or
 * codes are refused unless `force`, which logs them and keeps the old record under `replaced`.
 */
export async function checkResume(dir: string, now: TrainingRecord, force: boolean, log: (line: string) => void): Promise<TrainingRecord> {
  const file = join(dir, RECORD_FILE);
  const before = await readRecord(file);
  if (before === null) {
    log(`train: ${file} is missing, so the training options of the checkpoint cannot be compared; resuming with the given ones`);
    return now;
  }
  const own = (o: object, key: string) => (Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined);
  // a record written before a flag existed was trained with that flag's default
  const was = (f: string) => (Object.hasOwn(before.options, f) ? own(before.options, f) : defaultOf(f));
  const differs = (flags: string[]) =>
    flags.filter((f) => Object.hasOwn(now.options, f) && was(f) !== now.options[f]).map((f) => `--${f} ${readable(now.options[f])} (checkpoint: ${readable(was(f))})`);
  const network = differs(NETWORK_FLAGS);
  const loop = differs(LOOP_FLAGS);
  const keys = Object.keys(now.codes) as Array<keyof TrainingRecord['codes']>;
  if (keys.some((k) => own(before.codes, k) !== now.codes[k])) loop.push(`the training codes: ${codesWords(now.codes)} (checkpoint: ${codesWords(before.codes)})`);
  if (network.length > 0) {
    throw new VqvidError('E_STATE', `--resume: the checkpoint in ${dir} is of another network: ${[...network, ...loop].join(', ')}; pass the options it was trained with, or train afresh without --resume`, { path: dir });
  }
  if (loop.length === 0) return { ...now, replaced: before.replaced };
  if (!force) {
    throw new VqvidError('E_STATE', `--resume: the checkpoint in ${dir} was trained with other options: ${loop.join(', ')}; pass the same ones, or add --force to continue with the new ones`, { path: dir });
  }
  log(`train: warning: resuming with other options than the checkpoint's (recorded in ${file}): ${loop.join(', ')}`);
  const { replaced = [], ...previous } = before;
  return { ...now, replaced: [...replaced, previous] };
}

/** What a record holds for `flag` when it was not given: its default (off for a switch, null without one). */
function defaultOf(flag: string): OptionValue {
  const spec = Object.hasOwn(ARCH_OPTIONS, flag) ? ARCH_OPTIONS[flag] : Object.hasOwn(FIT_OPTIONS, flag) ? FIT_OPTIONS[flag] : undefined;
  if (spec?.kind === 'flag') return false;
  return (spec?.default as OptionValue | undefined) ?? null;
}

/** Writes `record` next to the checkpoint in `dir` (atomically). */
export async function writeRecord(dir: string, record: TrainingRecord): Promise<void> {
  await writeFileAtomic(join(dir, RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
}
