/** Helpers of the CLI tests that run the BUILT binary (dist/bin.js) in a child process (not exported by the package). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The repository root and the built binary. */
export const ROOT = resolve(__dirname, '..', '..', '..');
export const BIN = resolve(__dirname, '..', 'dist', 'bin.js');

/** What one run of the binary printed, and its exit status (null when killed). */
export interface SpawnRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Builds the CLI and what it depends on when dist/bin.js is missing (a fresh clone running one test file). */
export function ensureBuilt(): void {
  if (!existsSync(BIN)) execFileSync('npx', ['turbo', 'run', 'build', '--filter=@vqvid/cli...'], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build with npx turbo run build --filter=@vqvid/cli...`);
}

/** Runs `vqvid ...args` from the built binary in folder `cwd` (2 minutes at most). */
export function spawnCli(cwd: string, ...args: string[]): SpawnRun {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Asserts a failed run exited with `code` and printed exactly one "vqvid: error:" line matching `message`, no stack trace. */
export function expectOneLineError(r: SpawnRun, code: number, message: RegExp): void {
  expect(r.code).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^vqvid: error: /);
  expect(lines[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}
