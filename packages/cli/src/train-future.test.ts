/**
 * `vqvid train --inputs codes,motion` and `--rollout n`: the options reach the model (config saved with it, the
 * rollout recorded in the checkpoint), bad values are usage errors naming the flag, and a resume that changes
 * them is refused. Runs `main` in-process on tiny codes.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { clipFolder, runMain as vqvid } from './test-helpers';

let dir: string;
const at = (...names: string[]) => join(dir, ...names);
const TINY = ['--hidden', '8', '--embed', '4', '--steps-per-epoch', '2', '--batch', '2', '--crop', '4', '--epochs', '1', '--workers', '1'];

beforeAll(async () => {
  dir = clipFolder('vqvid-train-future-');
  expect((await vqvid('quantize', at('clip.y4m'), '--k', '4', '-o', at('cb.vqcb'), '-q')).code).toBe(0);
  expect((await vqvid('encode', at('clip.y4m'), '-c', at('cb.vqcb'), '-o', at('codes.vqc'), '-q')).code).toBe(0);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const trainJson = (model: string) => JSON.parse(readFileSync(at(model, 'train.json'), 'utf8'));

describe('train --inputs and --rollout', () => {
  it('train a motion model with scheduled sampling; the defaults train a plain one', async () => {
    const r = await vqvid('train', at('codes.vqc'), '-o', at('motion'), ...TINY, '--inputs', 'codes,motion', '--rollout', '2', '--rollout-prob', '1', '--json', '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(trainJson('motion').config.inputs).toEqual(['codes', 'motion']);
    expect(JSON.parse(readFileSync(at('motion', 'checkpoint', 'train-options.json'), 'utf8')).options).toMatchObject({ inputs: 'codes,motion', rollout: 2, 'rollout-prob': 1 });
    expect((await vqvid('train', at('codes.vqc'), '-o', at('plain'), ...TINY, '-q')).code).toBe(0);
    expect(trainJson('plain').config.inputs).toBeUndefined();
    expect(trainJson('plain').config.prior).toBe('spatial');
    // the trained motion model evaluates like any other
    const e = await vqvid('eval', at('codes.vqc'), '--model', at('motion'), '--codebook', at('cb.vqcb'), '--test-frames', '4', '--json', '-q');
    expect(e.code).toBe(0);
  });

  it('train --prior bigram keeps the same-cell bigram (the RNN default); --plain with a prior is a usage error', async () => {
    const r = await vqvid('train', at('codes.vqc'), '-o', at('bigram'), ...TINY, '--prior', 'bigram', '--json', '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(trainJson('bigram').config.prior).toBe('bigram');
    const e = await vqvid('eval', at('codes.vqc'), '--model', at('bigram'), '--codebook', at('cb.vqcb'), '--test-frames', '4', '--json', '-q');
    expect(e.code).toBe(0);
    expect((await vqvid('train', at('codes.vqc'), '-o', at('rnn'), ...TINY, '--arch', 'rnn', '-q')).code).toBe(0);
    expect(trainJson('rnn').config).toMatchObject({ kernel: 1, prior: 'bigram' });
    const bad = await vqvid('train', at('codes.vqc'), '-o', at('bad'), ...TINY, '--plain', '--prior', 'spatial', '-q');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--prior spatial/);
  });

  it('train --val-frames refits the gate on the validation frames (reported), --no-calibrate keeps it as trained', async () => {
    const r = await vqvid('train', at('codes.vqc'), '-o', at('cal'), ...TINY, '--val-frames', '3', '--json', '-q');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.calibration.components).toEqual(['net', 'copy', 'prior']);
    expect(out.calibration.offsets[0]).toBe(0);
    expect(out.calibration.valBitsBefore).toBeCloseTo(out.valBitsPerCode, 5);
    expect(out.calibration.valBitsAfter).toBeLessThanOrEqual(out.calibration.valBitsBefore);
    expect(trainJson('cal').history.calibration).toEqual(out.calibration);
    const text = await vqvid('train', at('codes.vqc'), '-o', at('cal-text'), ...TINY, '--val-frames', '3');
    expect(text.stdout).toMatch(/gate refit on val +\d\.\d{3} -> \d\.\d{3} bits\/code \(best weights; offsets net \+0\.00, copy [+-]\d/);
    const off = JSON.parse((await vqvid('train', at('codes.vqc'), '-o', at('uncal'), ...TINY, '--val-frames', '3', '--no-calibrate', '--json', '-q')).stdout);
    expect(off.calibration).toBeNull();
    expect(off.valBitsPerCode).toBeCloseTo(out.valBitsPerCode, 10);
  });

  it('train --scales 2 saves a two-scale model (coarse width half of --hidden) that evaluates', async () => {
    const r = await vqvid('train', at('codes.vqc'), '-o', at('scales'), ...TINY, '--scales', '2', '--json', '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(trainJson('scales').config).toMatchObject({ scales: 2, hiddenCoarse: 4 });
    expect(trainJson('plain').config.scales).toBeUndefined();
    const e = await vqvid('eval', at('codes.vqc'), '--model', at('scales'), '--codebook', at('cb.vqcb'), '--test-frames', '4', '--json', '-q');
    expect(e.code).toBe(0);
  });

  it.each([
    [['--scales', '3'], /--scales/],
    [['--hidden-coarse', '0'], /--hidden-coarse/],
    [['--hidden-coarse', '4'], /--hidden-coarse/],
    [['--prior', 'trigram'], /--prior/],
    [['--inputs', 'motion'], /--inputs/],
    [['--rollout', '-1'], /--rollout/],
    [['--rollout-prob', '2'], /--rollout-prob/],
  ])('%j is an error naming the flag', async (bad, message) => {
    const r = await vqvid('train', at('codes.vqc'), '-o', at('bad'), ...TINY, ...bad, '-q');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('a resume with another --inputs is refused as another network; an old record without the flags reads as the defaults', async () => {
    const args = ['train', at('codes.vqc'), '-o', at('resume'), ...TINY];
    expect((await vqvid(...args, '-q')).code).toBe(0);
    const r = await vqvid(...args, '--inputs', 'codes,motion', '--resume', '--force', '-q');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is of another network: --inputs codes,motion \(checkpoint: codes\)/);
    // a record from before these flags existed: resuming with their defaults is the same run
    const file = at('resume', 'checkpoint', 'train-options.json');
    const rec = JSON.parse(readFileSync(file, 'utf8'));
    for (const f of ['inputs', 'rollout', 'rollout-prob']) delete rec.options[f];
    (await import('node:fs')).writeFileSync(file, JSON.stringify(rec));
    const again = await vqvid(...args, '--epochs', '2', '--resume', '--force', '--json', '-q');
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/--inputs|--rollout/);
  });
});
