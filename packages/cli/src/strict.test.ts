/**
 * `--strict` and the warning about truncated videos, end to end through the built `vqvid` binary (dist/bin.js,
 * as in cli.test.ts): a cut AVI is read with one warning naming the file and the frame counts, or refused with
 * one error line under --strict.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticVideo, writeVideo } from '@vqvid/video';
import { ensureBuilt, spawnCli } from './spawn-helpers';

let dir: string;

/** Offset of frame chunk `n` in an AVI's 'movi' list, walked by the chunk sizes. */
function aviFrameChunk(b: Buffer, n: number): number {
  let p = b.indexOf('movi', 0, 'latin1') + 4;
  for (let i = 0; i < n; i++) {
    const size = b.readUInt32LE(p + 4);
    p += 8 + size + (size & 1);
  }
  return p;
}

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'vqvid-strict-'));
  await writeVideo(join(dir, 'whole.avi'), syntheticVideo({ kind: 'bouncing', width: 32, height: 24, frames: 30, seed: 3, fps: 10 }));
  const whole = readFileSync(join(dir, 'whole.avi'));
  writeFileSync(join(dir, 'cut.avi'), whole.subarray(0, aviFrameChunk(whole, 18) + 20)); // 18 frames and a piece
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const vqvid = (...args: string[]) => spawnCli(dir, ...args);

const COUNTS = /cut\.avi: video is truncated or damaged: decoded 18 frames \(1\.80 s\), but the AVI header states 30 frames \(3\.00 s\)/;
// Under --strict the read stops at the first sign of damage: the counts at the end, or ffmpeg's own error about the
// cut packet when its stderr line arrives before the last frame (a race between ffmpeg's two output streams).
const STRICT = new RegExp(`${COUNTS.source}|cut\\.avi: video is damaged: ffmpeg reported errors after \\d+ frames; ffmpeg: \\[avi\\] Dropped corrupted packet`);

describe('vqvid on a truncated video', () => {
  it('warns once, naming the file and the counts, and goes on with the frames that decoded', () => {
    const r = vqvid('quantize', 'cut.avi', '--k', '4', '--patch', '8', '-o', 'cb.vqcb', '--json');
    expect(r.code).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('vqvid: warning: '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(COUNTS);
    expect(warnings[0]).not.toMatch(/frame=|bitrate=|speed=/);
    expect(existsSync(join(dir, 'cb.vqcb'))).toBe(true);
  });

  it('--strict refuses it with one error line, and writes nothing', () => {
    const r = vqvid('encode', 'cut.avi', '-c', 'cb.vqcb', '-o', 'cut.vqc', '--strict', '-q');
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vqvid: error: /);
    expect(lines[0]).toMatch(STRICT);
    expect(lines[0]).not.toMatch(/frame=|bitrate=|speed=/);
    expect(existsSync(join(dir, 'cut.vqc'))).toBe(false);
  });

  it('every command that reads a video has --strict', () => {
    for (const command of ['quantize', 'encode', 'train', 'predict', 'fill', 'eval']) {
      expect(vqvid(command, '--help').stdout).toMatch(/--strict +fail on a truncated or damaged video instead of warning/);
    }
  });
});
