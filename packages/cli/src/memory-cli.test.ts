/**
 * Memory of the built `vqvid` binary (dist/bin.js): streamed quantize/encode give what the libraries give on
 * the whole video, --max-memory and the upscale limit refuse work before it starts, and codes files whose frame
 * size does not fit their grid, or would need gigabytes to render, end in one typed error line, never an
 * out-of-memory kill.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packContainer, readCodes } from '@vqvid/core';
import type { CodeGeometry } from '@vqvid/core';
import { PatchCodec } from '@vqvid/quantize';
import { encodeY4m, readVideo, syntheticVideo } from '@vqvid/video';
import { ensureBuilt, spawnCli, type SpawnRun } from './spawn-helpers';

let dir: string;

type Run = SpawnRun;

const vqvid = (...args: string[]): Run => spawnCli(dir, ...args);

/** A failed run: exit 1, one "vqvid: error:" line matching `message`, no stack trace. */
function expectError(r: Run, message: RegExp): void {
  expect(r.stderr).toMatch(/^vqvid: error: /);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(message);
  expect(r.code).toBe(1);
}

const TINY_MODEL = ['--hidden', '8', '--embed', '4', '--epochs', '1', '--steps-per-epoch', '1', '--batch', '2', '--crop', '4'];

let geometry: CodeGeometry;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'vqvid-memory-cli-'));
  // 40 x 24 frames at patch 8: a 3 x 5 grid, 15 x 12 = 180 patches
  writeFileSync(join(dir, 'clip.y4m'), encodeY4m(syntheticVideo({ kind: 'bouncing', width: 40, height: 24, frames: 12, seed: 4 })));
  for (const args of [
    ['quantize', 'clip.y4m', '--k', '8', '--backend', 'wasm-simd', '-o', 'cb.vqcb'],
    ['encode', 'clip.y4m', '-c', 'cb.vqcb', '-o', 'codes.vqc'],
    ['train', 'codes.vqc', '-o', 'model', ...TINY_MODEL],
  ]) {
    const r = vqvid(...args, '-q');
    if (r.code !== 0) throw new Error(`vqvid ${args.join(' ')}: ${r.stderr}`);
  }
  geometry = (await readCodes(join(dir, 'codes.vqc'))).codes.geometry!;
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A codes file of the clip's codebook with its geometry edited by `edit`, over `frames` frames of code 0. */
function codesFile(name: string, rows: number, cols: number, frames: number, edit: Partial<CodeGeometry>): string {
  const header = { rows, cols, frames, k: 8, geometry: { ...geometry, ...edit }, meta: {} };
  writeFileSync(join(dir, name), packContainer('codes', header, { codes: new Uint16Array(rows * cols * frames) }));
  return name;
}

describe('streamed quantize and encode', () => {
  it('give the codebook and the codes the libraries make of the whole video', async () => {
    const video = await readVideo(join(dir, 'clip.y4m'));
    const codec = await PatchCodec.fit(video, { k: 8, seed: 1, backend: 'wasm-simd', log: () => undefined });
    try {
      const r = vqvid('quantize', 'clip.y4m', '--k', '8', '--backend', 'wasm-simd', '-o', 'again.vqcb', '--json', '-q');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ checksum: codec.checksum, frames: 12, std: codec.meta.std });
      expect((await readCodes(join(dir, 'codes.vqc'))).codes).toEqual(await codec.encode(video));
    } finally {
      codec.dispose();
    }
  });

  it('a sample smaller than the video: the same codebook for the same seed, another for another', () => {
    const checksum = (...args: string[]) => JSON.parse(vqvid('quantize', 'clip.y4m', '--k', '4', '--samples', '50', '-o', 'small.vqcb', '--json', '-q', ...args).stdout).checksum;
    const a = checksum('--seed', '2');
    expect(a).toMatch(/^[0-9a-f]{8}$/);
    expect(checksum('--seed', '2')).toBe(a);
    expect(checksum('--seed', '3')).not.toBe(a);
  });

  it('say in their help that they stream, and offer the memory options', () => {
    expect(vqvid('quantize', '--help').stdout).toMatch(/never held in memory/);
    expect(vqvid('encode', '--help').stdout).toMatch(/never held in memory/);
    expect(vqvid('fill', '--help').stdout).toMatch(/held in memory whole/);
    expect(vqvid('train', '--help').stdout).toMatch(/never held in memory/);
    for (const command of ['quantize', 'encode', 'eval', 'predict', 'generate', 'fill', 'train']) {
      const help = vqvid(command, '--help').stdout;
      expect(help).toMatch(/--max-memory <MB> +.*\(default 2048\)/);
      expect(help).toContain('--allow-upscale');
    }
  });
});

describe('train on a video', () => {
  it('encodes it frame by frame and learns from the same codes as from the codes file', () => {
    const fromVideo = vqvid('train', 'clip.y4m', '-c', 'cb.vqcb', '-o', 'model-v', ...TINY_MODEL, '--json', '-q');
    expect(fromVideo.code).toBe(0);
    const fromCodes = vqvid('train', 'codes.vqc', '-o', 'model-c', ...TINY_MODEL, '--json', '-q');
    expect(JSON.parse(fromVideo.stdout).history).toEqual(JSON.parse(fromCodes.stdout).history);
    expectError(vqvid('train', 'clip.y4m', '-c', 'cb.vqcb', '-o', 'never', '--width', '1000', '-q'), /--allow-upscale/);
  });
});

describe('--max-memory', () => {
  it('refuses, before reading, work estimated above it', () => {
    expectError(vqvid('quantize', 'clip.y4m', '--max-memory', '1', '-o', 'never.vqcb', '-q'), /--max-memory: k-means on 100000 patches of 8x8 .* needs about \d+ MB, more than the 1\.00 MB allowed; raise --max-memory or draw fewer patches \(--samples\)/);
    expect(existsSync(join(dir, 'never.vqcb'))).toBe(false);
    expect(vqvid('quantize', 'clip.y4m', '--k', '4', '--samples', '1000', '--max-memory', '1', '-o', 'fits.vqcb', '-q').code).toBe(0);
    const big = ['--width', '1000', '--allow-upscale', '--max-memory', '20'];
    expectError(vqvid('fill', 'clip.y4m', '-m', 'model', '-c', 'cb.vqcb', ...big, '-q'), /--max-memory: holding all 12 frames of 1000x600 needs about 28 MB, more than the 20 MB allowed/);
  });

  it('refuses to render codes whose frames are huge, however small their file (30000 x 30000, default limit)', () => {
    const file = codesFile('huge.vqc', 3750, 3750, 1, { width: 30000, height: 30000 });
    const r = vqvid('predict', file, '-m', 'model', '-c', 'cb.vqcb', '-o', 'huge.y4m', '-q');
    expectError(r, /--max-memory: rendering 5 frames of 30000x30000 \(3750 x 3750 cells, K = 8\) needs about \d+ MB, more than the 2048 MB allowed/);
    const medium = codesFile('medium.vqc', 512, 512, 3, { width: 4096, height: 4096 });
    expectError(vqvid('fill', medium, '-m', 'model', '-c', 'cb.vqcb', '--frame', '1', '--max-memory', '100', '-q'), /--max-memory: rendering 6 frames of 4096x4096/);
  });
});

describe('a codes file whose frame size does not fit its grid', () => {
  it.each([
    ['width and height 30000 on a 3 x 5 grid', { width: 30000, height: 30000 }, /codes\.geometry\.height: expected 17\.\.24 pixels \(the 3 x 5 grid of 8px patches at stride 8\), got 30000/],
    ['1e9 x 1e5', { width: 1e9, height: 1e5 }, /codes\.geometry\.width: expected an integer in \[1, 32768\], got 1000000000/],
    ['width 1', { width: 1 }, /codes\.geometry\.width: expected 33\.\.40 pixels \(the 3 x 5 grid of 8px patches at stride 8\), got 1/],
  ])('%s: one E_FORMAT line naming the field', (name, geometry, message) => {
    const file = codesFile(`${name.replace(/\W+/g, '-')}.vqc`, 3, 5, 12, geometry);
    for (const command of [['predict', file], ['fill', file, '--frame', '4'], ['eval', file, '--test-frames', '4']]) {
      expectError(vqvid(...command, '-m', 'model', '-c', 'cb.vqcb', '-q'), new RegExp(`${file.replace('.', '\\.')}: not a valid vqvid codes file \\(.*${message.source}`));
    }
  });
});

describe('--width/--height beyond 4x the pixels', () => {
  it('is refused unless --allow-upscale is given', () => {
    for (const command of [['quantize', 'clip.y4m', '-o', 'up.vqcb'], ['encode', 'clip.y4m', '-c', 'cb.vqcb', '-o', 'up.vqc']]) {
      expectError(vqvid(...command, '--width', '160', '--height', '97', '-q'), /--width\/--height: 160x97 enlarges the 40x24 frames 16\.2 times; more than 4x the source's pixels or more than 4096x4096 needs --allow-upscale/);
    }
    expect(vqvid('encode', 'clip.y4m', '-c', 'cb.vqcb', '--width', '80', '-o', 'x2.vqc', '-q').code).toBe(0); // 4x exactly
    const r = vqvid('encode', 'clip.y4m', '-c', 'cb.vqcb', '--width', '160', '--height', '97', '--allow-upscale', '-o', 'up.vqc', '--json', '-q');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ width: 160, height: 97, rows: 13, cols: 20 });
  });
});
