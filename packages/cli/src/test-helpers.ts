/** Helpers of the in-process CLI tests (not exported by the package): run `main` and keep what it prints. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeY4m, syntheticVideo } from '@vqvid/video';
import { main } from './main';

/** What one in-process run of the CLI printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the command line `argv` in-process (stderr not a terminal, so progress comes as plain lines). */
export async function runMain(...argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: { write: (s: string) => void out.push(s) }, stderr: { write: (s: string) => void err.push(s), isTTY: false } };
  const code = await main(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** A new temporary folder holding `clip.y4m`: 10 frames of 32x24 (3 x 4 cells of 8x8 patches). */
export function clipFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'clip.y4m'), encodeY4m(syntheticVideo({ kind: 'bouncing', width: 32, height: 24, frames: 10, seed: 3 })));
  return dir;
}
