import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { writeFileAtomic } from './fs';

// writeFileAtomic in a child process that is killed while its temp file is full-size (the write is done and
// fsync hangs, as on a slow disk): the temp file must go, and the process must still die of the signal.

const SIZE = 32 * 1024 * 1024;
let bundle: string;
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'vqvid-fs-child-'));
  bundle = join(dir, 'fs.js');
  buildSync({ entryPoints: [join(__dirname, 'fs.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'silent' });
});

/**
 * Child script: `mode` 'plain' (no listener of its own), 'cooperative' (its own SIGINT listener lets the write
 * finish, as the CLI's Ctrl-C does) or 'exits' (its own SIGINT listener calls process.exit(130)).
 */
const CHILD = `
const { writeFileAtomic } = require(process.argv[1]);
const fsp = require('node:fs/promises');
const [target, size, mode] = process.argv.slice(2);
let release;
(async () => {
  const h = await fsp.open(process.argv[1], 'r');
  const proto = Object.getPrototypeOf(h);
  await h.close();
  const realSync = proto.sync;
  proto.sync = function () {
    process.stdout.write('syncing\\n');
    return new Promise((resolve) => (release = () => resolve(realSync.call(this))));
  };
  if (mode === 'cooperative') process.on('SIGINT', () => release());
  if (mode === 'exits') process.on('SIGINT', () => process.exit(130));
  setInterval(() => {}, 1000);
  await writeFileAtomic(target, new Uint8Array(Number(size)).fill(7));
  process.stdout.write('done\\n');
  process.exit(0);
})();
`;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** Size of the temp file seen while fsync hung. */
  tempSize: number;
}

/** Runs the child until fsync hangs, sends `signal`, and waits for it to end. */
function killMidWrite(dir: string, target: string, signal: NodeJS.Signals, mode: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, bundle, target, String(SIZE), mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let tempSize = -1;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not end; stdout ${stdout} stderr ${stderr}`));
    }, 60_000);
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      if (tempSize < 0 && stdout.includes('syncing')) {
        const temps = readdirSync(dir).filter((n) => n.includes('.tmp-'));
        tempSize = temps.length === 1 ? statSync(join(dir, temps[0])).size : -2;
        child.kill(signal);
      }
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, stdout, tempSize });
    });
  });
}

describe('writeFileAtomic killed mid-write', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s removes the full-size temp file and still ends the process by the signal', async (signal) => {
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-kill-'));
    const target = join(dir, 'model.vqm');
    const r = await killMidWrite(dir, target, signal, 'plain');
    expect(r.tempSize).toBe(SIZE); // the kill did land mid-write, with a full-size temp file
    expect(r.signal).toBe(signal);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps the previous file when a kill lands mid-write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-kill-'));
    const target = join(dir, 'model.vqm');
    writeFileSync(target, 'previous');
    const r = await killMidWrite(dir, target, 'SIGTERM', 'plain');
    expect(r.signal).toBe('SIGTERM');
    expect(readdirSync(dir)).toEqual(['model.vqm']);
    expect(readFileSync(target, 'utf8')).toBe('previous');
  });

  it("leaves the write alone when the program handles the signal itself, and the file is complete", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-kill-'));
    const target = join(dir, 'model.vqm');
    const r = await killMidWrite(dir, target, 'SIGINT', 'cooperative');
    expect(r).toMatchObject({ code: 0, signal: null, tempSize: SIZE });
    expect(r.stdout).toContain('done');
    expect(readdirSync(dir)).toEqual(['model.vqm']);
    expect(statSync(target).size).toBe(SIZE);
  });

  it("removes the temp file when the program's own handler exits mid-write", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-kill-'));
    const r = await killMidWrite(dir, join(dir, 'model.vqm'), 'SIGINT', 'exits');
    expect(r).toMatchObject({ code: 130, tempSize: SIZE });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('writeFileAtomic signal handlers', () => {
  it('are installed only while a write is in flight', async () => {
    const counts = () => ['SIGINT', 'SIGTERM', 'exit'].map((s) => process.listenerCount(s));
    const before = counts();
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-core-'));
    let settled = false;
    const big = new Uint8Array(SIZE);
    const writes = Promise.all([writeFileAtomic(join(dir, 'a'), big), writeFileAtomic(join(dir, 'b'), big)]).finally(() => (settled = true));
    const during: number[][] = [];
    while (!settled) {
      during.push(counts());
      await new Promise((r) => setTimeout(r, 1));
    }
    await writes;
    // one set of handlers however many writes are in flight, and none left afterwards
    expect(during.some((c) => c.every((n, i) => n === before[i] + 1))).toBe(true);
    expect(during.every((c) => c.every((n, i) => n <= before[i] + 1))).toBe(true);
    expect(counts()).toEqual(before);
  });
});

describe('stale temp sweep', () => {
  /** A pid that no process has now: a child that has exited. */
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => child.on('exit', r));
    return child.pid!;
  }

  it('removes our old temp files of dead writers on the next save into the folder, and nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-sweep-'));
    const pid = await deadPid();
    const old = new Date(Date.now() - 5 * 60_000);
    const ours = [`model.vqm.tmp-${pid}-m1abcdef-0123abcd`, `codebook.vqcb.tmp-${pid}-lzzzzzzz-ffffffff`];
    const keep = [
      `fresh.vqm.tmp-${pid}-m1abcdef-0123abcd`, // ours but young: maybe a writer still at work
      `alive.vqm.tmp-${process.pid}-m1abcdef-0123abcd`, // ours, old, but its writer is running
      'model.vqm.tmp-1-stray', // not our pattern
      `notes.tmp-${pid}-draft`,
      `model.vqm.tmp-${pid}-m1abcdef-0123ABCD`,
      `model.vqm.tmp-${pid}-m1abcdef-0123abcd.bak`,
      'model.vqm',
    ];
    for (const name of [...ours, ...keep]) writeFileSync(join(dir, name), 'x');
    for (const name of [...ours, ...keep.slice(1)]) utimesSync(join(dir, name), old, old);
    await writeFileAtomic(join(dir, 'other.bin'), 'new');
    expect(readdirSync(dir).sort()).toEqual([...keep, 'other.bin'].sort());
  });

  it('sweeps what a SIGKILLed writer left, once it is a minute old', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-sweep-'));
    const r = await killMidWrite(dir, join(dir, 'model.vqm'), 'SIGKILL', 'plain');
    expect(r).toMatchObject({ signal: 'SIGKILL', tempSize: SIZE });
    const [left] = readdirSync(dir);
    expect(left).toMatch(/^model\.vqm\.tmp-/); // nothing can clean up after SIGKILL
    await writeFileAtomic(join(dir, 'other.bin'), 'new');
    expect(readdirSync(dir).sort()).toEqual(['other.bin', left].sort()); // young: left alone
    const old = new Date(Date.now() - 2 * 60_000);
    utimesSync(join(dir, left), old, old);
    await writeFileAtomic(join(dir, 'other.bin'), 'newer');
    expect(readdirSync(dir)).toEqual(['other.bin']);
  });
});
