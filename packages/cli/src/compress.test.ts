/**
 * End-to-end tests of `vqvid compress` / `vqvid decompress` on the built binary (dist/bin.js): round trips of
 * codes and of a video through a codebook, with the adaptive models and a trained model, and the refusals.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCodes } from '@vqvid/core';
import { decodeY4m, encodeY4m, syntheticVideo } from '@vqvid/video';
import { ensureBuilt, expectOneLineError, spawnCli, type SpawnRun } from './spawn-helpers';

let dir: string;

type Run = SpawnRun;

const vqvid = (...args: string[]): Run => spawnCli(dir, ...args);

function ok(r: Run): Run {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r;
}


beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'vqvid-compress-'));
  writeFileSync(join(dir, 'clip.y4m'), encodeY4m(syntheticVideo({ kind: 'bouncing', width: 32, height: 24, frames: 10, seed: 3 })));
  ok(vqvid('quantize', 'clip.y4m', '--k', '8', '-o', 'cb.vqcb', '-q'));
  ok(vqvid('encode', 'clip.y4m', '-c', 'cb.vqcb', '-o', 'codes.vqc', '-q'));
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vqvid compress / decompress', () => {
  it.each(['static', 'copy', 'bigram'])('round-trips codes exactly with the adaptive %s model', async (m) => {
    const r = ok(vqvid('compress', 'codes.vqc', '-m', m, '-o', `${m}.vqz`, '--json', '-q'));
    const data = JSON.parse(r.stdout);
    expect(data.model.kind).toBe(`adaptive-${m}`);
    expect(data.bytes).toBe(readFileSync(join(dir, `${m}.vqz`)).length);
    ok(vqvid('decompress', `${m}.vqz`, '-o', `${m}.vqc`, '-q'));
    const a = await readCodes(join(dir, 'codes.vqc'));
    const b = await readCodes(join(dir, `${m}.vqc`));
    expect(b.codes.codes).toEqual(a.codes.codes);
    expect(b.codes.geometry).toEqual(a.codes.geometry);
    expect(b.meta).toEqual(a.meta);
  });

  it('compresses a video through the codebook and renders the decoded codes to a video', async () => {
    ok(vqvid('compress', 'clip.y4m', '-c', 'cb.vqcb', '-o', 'clip.vqz', '-q'));
    ok(vqvid('decompress', 'clip.vqz', '-o', 'clip.vqc', '--video', 'clip-out.y4m', '-c', 'cb.vqcb', '-q'));
    const a = await readCodes(join(dir, 'codes.vqc'));
    const b = await readCodes(join(dir, 'clip.vqc'));
    expect(b.codes.codes).toEqual(a.codes.codes);
    const out = decodeY4m(readFileSync(join(dir, 'clip-out.y4m')));
    expect([out.width, out.height, out.frames]).toEqual([32, 24, 10]);
  });

  it('round-trips with a trained model, and refuses to decode without it or with another one', async () => {
    const tiny = ['--hidden', '8', '--embed', '4', '--epochs', '1', '--steps-per-epoch', '2', '--batch', '2', '--crop', '4', '-q'];
    ok(vqvid('train', 'codes.vqc', '-c', 'cb.vqcb', '-o', 'm1', ...tiny));
    ok(vqvid('train', 'codes.vqc', '-c', 'cb.vqcb', '-o', 'm2', '--seed', '9', ...tiny));
    ok(vqvid('compress', 'codes.vqc', '-m', 'm1', '-o', 'rcnn.vqz', '-q'));
    ok(vqvid('decompress', 'rcnn.vqz', '-m', 'm1', '-o', 'rcnn.vqc', '-q'));
    expect((await readCodes(join(dir, 'rcnn.vqc'))).codes.codes).toEqual((await readCodes(join(dir, 'codes.vqc'))).codes.codes);
    expectOneLineError(vqvid('decompress', 'rcnn.vqz', '-o', 'x.vqc'), 1, /rcnn model/);
    expectOneLineError(vqvid('decompress', 'rcnn.vqz', '-m', 'm2', '-o', 'x.vqc'), 1, /checksum/);
  });

  it('reports a corrupt file, a missing codebook and a wrong output kind as one-line errors', () => {
    const bytes = readFileSync(join(dir, 'bigram.vqz'));
    bytes[bytes.length - 20] ^= 1;
    writeFileSync(join(dir, 'bad.vqz'), bytes);
    expectOneLineError(vqvid('decompress', 'bad.vqz', '-o', 'bad.vqc'), 1, /checksum mismatch|corrupt/);
    expectOneLineError(vqvid('compress', 'clip.y4m', '-o', 'v.vqz'), 1, /--codebook/);
    expectOneLineError(vqvid('compress', 'codes.vqc', '-o', 'codes.vqc'), 1, /--output/);
    expectOneLineError(vqvid('compress', 'codes.vqc', '-o', 'cb.vqcb'), 1, /codebook/);
  });
});
