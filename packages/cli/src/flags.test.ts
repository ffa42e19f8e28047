/**
 * Errors name the flag the user typed (not the library's argument), negative numbers reach the range checks,
 * and zero training budgets are usage errors. Runs `main` in-process on a tiny clip.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, parseCommandArgs } from './args';
import type { OptionSpec } from './args';
import { clipFolder, runMain as vqvid } from './test-helpers';

let dir: string;
const at = (name: string) => join(dir, name);

/** Exit `code` and exactly one "vqvid: error:" line matching `message`. */
async function expectError(argv: string[], code: number, message: RegExp): Promise<void> {
  const r = await vqvid(...argv);
  expect(r.code).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
}

beforeAll(async () => {
  dir = clipFolder('vqvid-flags-');
  expect((await vqvid('quantize', at('clip.y4m'), '--k', '4', '-o', at('cb.vqcb'), '-q')).code).toBe(0);
  expect((await vqvid('encode', at('clip.y4m'), '-c', at('cb.vqcb'), '-o', at('codes.vqc'), '-q')).code).toBe(0);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('negative numbers', () => {
  const specs: Record<string, OptionSpec> = {
    k: { kind: 'int', short: 'k' },
    lr: { kind: 'number' },
    out: { kind: 'string', short: 'o' },
    epochs: { kind: 'int', min: 1 },
    time: { kind: 'number', min: 0, minExclusive: true },
  };

  it('are values of numeric options, not options', () => {
    expect(parseCommandArgs(['--k', '-5', '--lr', '-.5'], specs, { min: 0, max: 0 }).num('k')).toBe(-5);
    expect(parseCommandArgs(['-k', '-5'], specs, { min: 0, max: 0 }).num('k')).toBe(-5);
    expect(parseCommandArgs(['--lr', '-1e-3'], specs, { min: 0, max: 0 }).num('lr')).toBe(-1e-3);
    // after "--" everything is a positional
    expect(parseCommandArgs(['--', '--k', '-5'], specs, { min: 0, max: 2 }).positionals).toEqual(['--k', '-5']);
    // a string option's dash-value stays node's usage error
    expect(() => parseCommandArgs(['-o', '-5'], specs, { min: 0, max: 0 })).toThrow(UsageError);
  });

  it('a value below an option\'s minimum is a usage error naming the flag', () => {
    expect(() => parseCommandArgs(['--epochs', '0'], specs, { min: 0, max: 0 })).toThrow(new UsageError('--epochs: expected an integer >= 1, got 0'));
    expect(() => parseCommandArgs(['--epochs', '-3'], specs, { min: 0, max: 0 })).toThrow('--epochs: expected an integer >= 1, got -3');
    expect(() => parseCommandArgs(['--time', '0'], specs, { min: 0, max: 0 })).toThrow('--time: expected a number > 0, got 0');
    expect(parseCommandArgs(['--time', '0.5', '--epochs', '1'], specs, { min: 0, max: 0 }).num('time')).toBe(0.5);
  });

  it('--k -5 reaches the range check of quantize and names --k', async () => {
    await expectError(['quantize', at('clip.y4m'), '--k', '-5', '-o', at('neg.vqcb'), '-q'], 1, /^vqvid: error: --k: expected an integer in \[1, \d+\], got -5$/);
  });
});

describe('errors name the flag the user typed', () => {
  it('quantize: --k, --patch, --samples, --max-iter, --width', async () => {
    const q = ['quantize', at('clip.y4m'), '-o', at('x.vqcb'), '-q'];
    await expectError([...q, '--width', '8', '--height', '6'], 1, /^vqvid: error: --k: expected at most the number of points \(10\), got 128$/);
    await expectError([...q, '--patch', '0'], 1, /^vqvid: error: --patch: expected an integer in \[1, 256\], got 0$/);
    await expectError([...q, '--samples', '0'], 1, /^vqvid: error: --samples: expected an integer/);
    await expectError([...q, '--max-iter', '0'], 1, /^vqvid: error: --max-iter: expected an integer/);
    await expectError([...q, '--width', '0'], 1, /^vqvid: error: --width: expected an integer/);
  });

  it('train: --hidden, --embed, --bptt, --lr, --val-frames', async () => {
    const t = ['train', at('codes.vqc'), '-o', at('m-flags'), '-q'];
    await expectError([...t, '--hidden', '0'], 1, /^vqvid: error: --hidden: expected an integer in \[1, \d+\], got 0$/);
    await expectError([...t, '--embed', '0'], 1, /^vqvid: error: --embed: expected an integer in \[1, \d+\], got 0$/);
    await expectError([...t, '--bptt', '0'], 1, /^vqvid: error: --bptt: expected an integer/);
    await expectError([...t, '--lr', '-1'], 1, /^vqvid: error: --lr: expected a number in/);
    await expectError([...t, '--val-frames', '20'], 1, /^vqvid: error: --val-frames: expected an integer in \[2, 8\], got 20$/);
  });

  it('predict and eval: --model for a missing model folder', async () => {
    await expectError(['predict', at('clip.y4m'), '-m', at('nomodel'), '-c', at('cb.vqcb'), '-q'], 1, /^vqvid: error: --model: file .*nomodel.model\.vqm does not exist$/);
    await expectError(['eval', at('clip.y4m'), '-m', at('nomodel'), '-c', at('cb.vqcb'), '-q'], 1, /^vqvid: error: --model: file .*nomodel.model\.vqm does not exist$/);
  });
});

describe('zero training budgets', () => {
  it.each([
    [['--epochs', '0'], /--epochs: expected an integer >= 1, got 0/],
    [['--steps-per-epoch', '0'], /--steps-per-epoch: expected an integer >= 1, got 0/],
    [['--max-seconds', '0'], /--max-seconds: expected a number > 0, got 0/],
  ])('train %j is a usage error (exit 2) and writes nothing', async (flags, message) => {
    await expectError(['train', at('codes.vqc'), '-o', at('m-zero'), ...flags, '-q'], 2, message);
    expect(existsSync(at('m-zero'))).toBe(false);
  });

  it('demo --max-seconds 0 is a usage error', async () => {
    await expectError(['demo', '-o', at('demo-zero'), '--max-seconds', '0', '-q'], 2, /--max-seconds: expected a number > 0, got 0/);
    expect(existsSync(at('demo-zero'))).toBe(false);
  });
});
