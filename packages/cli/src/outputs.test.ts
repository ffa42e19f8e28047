/**
 * Outputs are checked before any work: never one of the inputs, never an existing file of another kind
 * without --force, and in a folder that can be written. Runs `main` in-process on a tiny clip.
 */
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { VqvidError } from '@vqvid/core';
import { ensureParent } from './commands/shared';
import { clipFolder, runMain as vqvid } from './test-helpers';

let dir: string;
const at = (name: string) => join(dir, name);

/**
 * Runs `argv` without --quiet, so progress lines would show any work done, and expects exit 1 with exactly
 * one line: the error, matching `message`.
 */
async function expectRefused(argv: string[], message: RegExp): Promise<void> {
  const r = await vqvid(...argv);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^vqvid: error: /)]);
  expect(r.stderr).toMatch(message);
}

/** Runs `fn` and expects the files `names` byte-identical afterwards. */
async function unchanged(names: string[], fn: () => Promise<void>): Promise<void> {
  const before = names.map((n) => readFileSync(at(n)));
  await fn();
  names.forEach((n, i) => expect(readFileSync(at(n)).equals(before[i])).toBe(true));
}

const TINY = ['--hidden', '8', '--embed', '4', '--epochs', '1', '--steps-per-epoch', '1', '--batch', '2', '--crop', '4'];

beforeAll(async () => {
  dir = clipFolder('vqvid-outputs-');
  for (const name of ['in.y4m', 'p.y4m', 'other.y4m']) copyFileSync(at('clip.y4m'), at(name));
  writeFileSync(at('a-file'), 'not a folder');
  expect((await vqvid('quantize', at('in.y4m'), '--k', '4', '-o', at('cb.vqcb'), '-q')).code).toBe(0);
  expect((await vqvid('encode', at('in.y4m'), '-c', at('cb.vqcb'), '-o', at('codes.vqc'), '-q')).code).toBe(0);
  expect((await vqvid('train', at('codes.vqc'), '-o', at('model'), ...TINY, '-q')).code).toBe(0);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an output that is one of the inputs', () => {
  it('quantize in.y4m -o in.y4m is refused, also through ./, a symlink or a hard link', async () => {
    symlinkSync(at('in.y4m'), at('link.y4m'));
    linkSync(at('in.y4m'), at('hard.y4m'));
    await unchanged(['in.y4m'], async () => {
      await expectRefused(['quantize', at('in.y4m'), '-o', at('in.y4m')], /--output: cannot write .*in\.y4m: it is the input, which writing would destroy/);
      const dotted = `${dir}/./sub/../in.y4m`;
      await expectRefused(['quantize', at('in.y4m'), '-o', dotted], /--output: .*it is the input \(the same file as .*in\.y4m\)/);
      await expectRefused(['quantize', at('in.y4m'), '-o', relative(process.cwd(), at('in.y4m'))], /it is the input/);
      await expectRefused(['quantize', at('in.y4m'), '-o', at('link.y4m')], /it is the input/);
      await expectRefused(['quantize', at('in.y4m'), '-o', at('hard.y4m')], /it is the input/);
    });
  });

  it('encode -c cb.vqcb -o cb.vqcb is refused', async () => {
    await unchanged(['cb.vqcb', 'in.y4m'], () => expectRefused(['encode', at('in.y4m'), '-c', at('cb.vqcb'), '-o', at('cb.vqcb')], /--output: cannot write .*cb\.vqcb: it is --codebook/));
  });

  it('predict p.y4m ... -o p.y4m is refused, and so is writing over the model', async () => {
    await unchanged(['p.y4m', 'model/model.vqm'], async () => {
      await expectRefused(['predict', at('p.y4m'), '-m', at('model'), '-c', at('cb.vqcb'), '-o', at('p.y4m')], /--output: cannot write .*p\.y4m: it is the input/);
      await expectRefused(['fill', at('p.y4m'), '-m', at('model'), '-c', at('cb.vqcb'), '-o', at('p.y4m')], /it is the input/);
      await expectRefused(['generate', at('codes.vqc'), '-m', at('model'), '-c', at('cb.vqcb'), '-o', at('model/model.vqm')], /it is --model/);
    });
    // the same command with another output writes it
    expect((await vqvid('predict', at('p.y4m'), '-m', at('model'), '-c', at('cb.vqcb'), '--steps', '1', '-o', at('next.y4m'), '-q')).code).toBe(0);
  });

  it('train codes.vqc -o codes.vqc is refused (a file where the model folder goes)', async () => {
    await unchanged(['codes.vqc'], () => expectRefused(['train', at('codes.vqc'), '-o', at('codes.vqc'), ...TINY], /--output: cannot write .*codes\.vqc: it is a file, expected a folder/));
    await unchanged(['codes.vqc'], () => expectRefused(['train', at('model/model.vqm'), '-o', at('model'), ...TINY], /--output: cannot write .*model\.vqm: it is the input/));
  });
});

describe('an existing output of another kind', () => {
  it('is refused without --force and overwritten with it', async () => {
    await unchanged(['other.y4m'], () => expectRefused(['quantize', at('in.y4m'), '--k', '4', '-o', at('other.y4m')], /--output: cannot write .*other\.y4m: it holds a video, not a codebook; pass --force to overwrite it/));
    expect((await vqvid('quantize', at('in.y4m'), '--k', '4', '-o', at('other.y4m'), '--force', '-q')).code).toBe(0);
    expect(readFileSync(at('other.y4m')).subarray(0, 4).toString()).toBe('VQVD');
  });

  it('a codebook where codes go, codes where a video goes, a model where a checkpoint goes', async () => {
    writeFileSync(at('book-copy.vqcb'), readFileSync(at('cb.vqcb')));
    await unchanged(['book-copy.vqcb'], () => expectRefused(['encode', at('in.y4m'), '-c', at('cb.vqcb'), '-o', at('book-copy.vqcb')], /it holds a codebook, not a codes file/));
    writeFileSync(at('codes-as.y4m'), readFileSync(at('codes.vqc')));
    await unchanged(['codes-as.y4m'], () => expectRefused(['predict', at('in.y4m'), '-m', at('model'), '-c', at('cb.vqcb'), '-o', at('codes-as.y4m')], /it holds a codes file, not a video/));
    mkdirSync(at('ckpt'));
    writeFileSync(at('ckpt/checkpoint.vqm'), readFileSync(at('model/model.vqm')));
    await unchanged(['ckpt/checkpoint.vqm'], () => expectRefused(['train', at('codes.vqc'), '-o', at('m2'), '--checkpoint-dir', at('ckpt'), ...TINY], /--checkpoint-dir: cannot write .*checkpoint\.vqm: it holds a model, not a training checkpoint/));
    writeFileSync(at('notes.vqcb'), 'my notes');
    await unchanged(['notes.vqcb'], () => expectRefused(['quantize', at('in.y4m'), '-o', at('notes.vqcb')], /it holds something vqvid did not write, not a codebook/));
  });

  it('the same kind, or an empty file, is overwritten as before', async () => {
    expect((await vqvid('quantize', at('in.y4m'), '--k', '4', '-o', at('cb.vqcb'), '-q')).code).toBe(0);
    writeFileSync(at('empty.vqc'), '');
    expect((await vqvid('encode', at('in.y4m'), '-c', at('cb.vqcb'), '-o', at('empty.vqc'), '-q')).code).toBe(0);
    expect((await vqvid('encode', at('in.y4m'), '-c', at('cb.vqcb'), '-o', at('empty.vqc'), '-q')).code).toBe(0);
  });
});

describe('outputs that cannot be written fail before the work starts', () => {
  // Running as root, a mode of 0o500 does not stop writes: a path under a regular file fails for everyone.
  const asRoot = process.getuid?.() === 0;
  function blockedFolder(): string {
    if (asRoot) return join(at('a-file'), 'sub');
    const ro = at('read-only');
    mkdirSync(ro, { recursive: true });
    chmodSync(ro, 0o500);
    return join(ro, 'sub');
  }
  afterAll(() => existsSync(at('read-only')) && chmodSync(at('read-only'), 0o700));

  it('quantize, encode, predict, train and demo: one E_IO line naming the flag and path, no progress', async () => {
    const blocked = blockedFolder();
    const why = asRoot ? /\S*a-file is a file, not a folder/ : /\S*read-only is not writable \(EACCES: permission denied\)/;
    const t0 = Date.now();
    await expectRefused(['quantize', at('in.y4m'), '--k', '4', '-o', join(blocked, 'cb.vqcb')], new RegExp(`--output: cannot write ${join(blocked, 'cb.vqcb')}: ${why.source}`));
    expect(Date.now() - t0).toBeLessThan(1000);
    await expectRefused(['encode', at('in.y4m'), '-c', at('cb.vqcb'), '-o', join(blocked, 'codes.vqc')], why);
    await expectRefused(['predict', at('in.y4m'), '-m', at('model'), '-c', at('cb.vqcb'), '-o', join(blocked, 'next.y4m')], why);
    await expectRefused(['train', at('codes.vqc'), '-o', join(blocked, 'model'), ...TINY], new RegExp(`--output: cannot write ${join(blocked, 'model', 'model.vqm')}: ${why.source}`));
    await expectRefused(['train', at('codes.vqc'), '-o', at('m3'), '--checkpoint-dir', join(blocked, 'ckpt'), ...TINY], /--checkpoint-dir: cannot write/);
    await expectRefused(['demo', '--tiny', '-o', join(blocked, 'report')], new RegExp(`--output: cannot write ${join(blocked, 'report')}.*${why.source}`));
    await expectRefused(['demo', '--tiny', '-o', at('a-file')], /--output: cannot write .*a-file: it is a file, expected a folder/);
    expect(existsSync(at('m3'))).toBe(false);
  });

  it('a folder that cannot be created is one E_IO error naming the flag and the path', async () => {
    // the folder of an output file, made when it is written (after the checks, a race could still fail it)
    const target = join(at('a-file'), 'sub');
    const err = await ensureParent(join(target, 'cb.vqcb'), '--output').catch((e) => e);
    expect(err).toBeInstanceOf(VqvidError);
    expect(err).toMatchObject({ code: 'E_IO', message: `--output: cannot create folder ${target} (ENOTDIR: a file is in the way)` });
  });
});
