/**
 * `vqvid train --resume`: an error without a checkpoint, and refused when the training options differ from
 * the ones recorded beside the checkpoint (unless --force, which warns and records the change).
 * Runs `main` in-process on tiny codes.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { clipFolder, runMain as vqvid } from './test-helpers';

let dir: string;
const at = (...names: string[]) => join(dir, ...names);

const TINY = ['--hidden', '8', '--embed', '4', '--steps-per-epoch', '1', '--batch', '2', '--crop', '4'];
const record = (model: string) => JSON.parse(readFileSync(at(model, 'checkpoint', 'train-options.json'), 'utf8'));

beforeAll(async () => {
  dir = clipFolder('vqvid-resume-');
  expect((await vqvid('quantize', at('clip.y4m'), '--k', '4', '-o', at('cb.vqcb'), '-q')).code).toBe(0);
  expect((await vqvid('encode', at('clip.y4m'), '-c', at('cb.vqcb'), '-o', at('codes.vqc'), '-q')).code).toBe(0);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A model folder trained for 1 of `epochs` epochs, then "interrupted": its checkpoint says epoch 1. */
async function started(name: string, ...extra: string[]): Promise<string[]> {
  const args = ['train', at('codes.vqc'), '-o', at(name), ...TINY, ...extra];
  expect((await vqvid(...args, '--epochs', '1', '-q')).code).toBe(0);
  return args;
}

describe('train --resume', () => {
  it('without a checkpoint is an E_NOT_FOUND error, and trains nothing', async () => {
    const r = await vqvid('train', at('codes.vqc'), '-o', at('fresh'), ...TINY, '--resume', '-q');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`vqvid: error: --resume: no checkpoint in ${at('fresh', 'checkpoint')} (${at('fresh', 'checkpoint', 'checkpoint.vqm')} does not exist); run without --resume to start training\n`);
    expect(existsSync(at('fresh', 'model.vqm'))).toBe(false);
  });

  it('records the options beside the checkpoint and continues with the same ones', async () => {
    const args = await started('same', '--lr', '0.01');
    expect(record('same')).toMatchObject({ options: { lr: 0.01, batch: 2, hidden: 8, epochs: 1, 'steps-per-epoch': 1, plain: false }, codes: { k: 4, frames: 10, rows: 3, cols: 4 } });
    const r = await vqvid(...args, '--epochs', '1', '--resume', '--json', '-q');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ epochs: 1, steps: 1 });
  });

  it('with another --lr or --batch is refused, listing both', async () => {
    const args = await started('other-lr');
    const before = readFileSync(at('other-lr', 'checkpoint', 'checkpoint.vqm'));
    const r = await vqvid(...args, '--epochs', '1', '--lr', '0.01', '--batch', '3', '--resume', '-q');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vqvid: error: --resume: the checkpoint in \S+ was trained with other options: --batch 3 \(checkpoint: 2\), --lr 0\.01 \(checkpoint: 0\.002\); pass the same ones, or add --force to continue with the new ones\n$/);
    expect(readFileSync(at('other-lr', 'checkpoint', 'checkpoint.vqm')).equals(before)).toBe(true);
    expect(record('other-lr').options.lr).toBe(0.002);
  });

  it('with more --epochs is refused too, and --force continues, warns and records the change', async () => {
    const args = await started('longer');
    expect((await vqvid(...args, '--epochs', '2', '--resume', '-q')).stderr).toMatch(/other options: --epochs 2 \(checkpoint: 1\)/);
    const r = await vqvid(...args, '--epochs', '2', '--resume', '--force', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^train: warning: resuming with other options than the checkpoint's \(recorded in \S+train-options\.json\): --epochs 2 \(checkpoint: 1\)$/m);
    // the first epoch came from the checkpoint: one more step, not two
    expect(JSON.parse(r.stdout)).toMatchObject({ epochs: 2, steps: 2 });
    const rec = record('longer');
    expect(rec.options.epochs).toBe(2);
    expect(rec.replaced).toHaveLength(1);
    expect(rec.replaced[0].options.epochs).toBe(1);
  });

  it('with other training codes is refused', async () => {
    const args = ['train', at('clip.y4m'), '-c', at('cb.vqcb'), '-o', at('codes'), ...TINY, '--epochs', '1'];
    expect((await vqvid(...args, '-q')).code).toBe(0);
    const r = await vqvid(...args, '--max-frames', '8', '--resume', '-q');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/other options: the training codes: 8 frames x 3 x 4, K = 4, crc [0-9a-f]{8} \(checkpoint: 10 frames x 3 x 4, K = 4, crc [0-9a-f]{8}\)/);
  });

  it('of another network (--hidden) is refused even with --force', async () => {
    const args = await started('net');
    const r = await vqvid(...args, '--epochs', '1', '--hidden', '6', '--resume', '--force', '-q');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vqvid: error: --resume: the checkpoint in \S+ is of another network: --hidden 6 \(checkpoint: 8\); pass the options it was trained with, or train afresh without --resume\n$/);
  });
});
