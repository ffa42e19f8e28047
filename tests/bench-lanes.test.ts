/**
 * The benches' scheduler (bench/lanes.mjs): lanes of tasks, each started once the task it waits on has ended,
 * a free lane taking the first task that may start. Run in a child Node process, as the benches run it (plain ESM).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const lanes = join(__dirname, '..', 'bench', 'lanes.mjs');

/** Runs `body` (ESM, with inLanes, runChild and a `task(name, ms, opts)` helper in scope) and parses what it prints. */
function run(body: string): any {
  const script = `
import { inLanes, runChild } from ${JSON.stringify(lanes)};
const events = [];
let running = 0, most = 0;
const task = (name, ms, { after, fail } = {}) => ({ after, run: (results) => {
  events.push(['start', name, results.filter((r) => r !== undefined)]);
  most = Math.max(most, ++running);
  return new Promise((done, failed) => setTimeout(() => { running--; events.push(['end', name]); fail ? failed(new Error(name + ' failed')) : done(name); }, ms));
} });
${body}
`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
}

test('inLanes: at most `lanes` at once, a task waits for its `after`, a free lane takes the first task that may start', () => {
  const out = run(`
const results = await inLanes(2, [task('A', 300), task('B', 30), task('C', 30, { after: 0 }), task('D', 30), task('E', 30)]);
console.log(JSON.stringify({ results, events, most }));
`);
  expect(out.results).toEqual(['A', 'B', 'C', 'D', 'E']);
  expect(out.most).toBe(2);
  const starts = out.events.filter((e: string[]) => e[0] === 'start').map((e: string[]) => e[1]);
  // B ends first; C still waits for A, so D, then E take the free lane; C starts once A has ended
  expect(starts).toEqual(['A', 'B', 'D', 'E', 'C']);
  const names = out.events.map((e: string[]) => e[0] + e[1]);
  expect(names.indexOf('startC')).toBeGreaterThan(names.indexOf('endA'));
  // C sees A's result among those handed to it
  expect(out.events.find((e: string[]) => e[0] === 'start' && e[1] === 'C')[2]).toContain('A');
});

test('inLanes: one lane runs the tasks in order; an empty list resolves at once', () => {
  const out = run(`
const results = await inLanes(1, [task('A', 20), task('B', 5), task('C', 5)]);
console.log(JSON.stringify({ results, events, most, empty: await inLanes(2, []) }));
`);
  expect(out.events.map((e: string[]) => e[0] + e[1])).toEqual(['startA', 'endA', 'startB', 'endB', 'startC', 'endC']);
  expect(out.most).toBe(1);
  expect(out.empty).toEqual([]);
});

test('inLanes: a failure rejects with the first error after the running task ends, and starts nothing more', () => {
  const out = run(`
let error = null;
try { await inLanes(2, [task('A', 200), task('B', 20, { fail: true }), task('C', 20), task('D', 20, { after: 1 })]); } catch (e) { error = e.message; }
console.log(JSON.stringify({ error, events }));
`);
  expect(out.error).toBe('B failed');
  const names = out.events.map((e: string[]) => e[0] + e[1]);
  expect(names).toEqual(['startA', 'startB', 'endB', 'endA']);
});

test('inLanes: a task waiting on a task that never starts is an error, not a hang', () => {
  const out = run(`
let error = null;
try { await inLanes(2, [task('A', 5, { after: 0 })]); } catch (e) { error = e.message; }
console.log(JSON.stringify({ error }));
`);
  expect(out.error).toMatch(/cannot start/);
});

test('runChild: resolves to the stdout of a child that exits 0, rejects naming the job when it exits non-zero', () => {
  const out = run(`
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
const dir = mkdtempSync(join(os.tmpdir(), 'vqvid-lanes-'));
const script = join(dir, 'child.mjs');
writeFileSync(script, "import { readFileSync } from 'node:fs'; const n = Number(readFileSync(process.argv[2], 'utf8')); if (n < 0) process.exit(3); console.log(n * 2);");
writeFileSync(join(dir, 'ok.json'), '21'); writeFileSync(join(dir, 'bad.json'), '-1');
const ok = await runChild(script, join(dir, 'ok.json'), 'ok job', { capture: true });
let error = null;
try { await runChild(script, join(dir, 'bad.json'), 'bad job', { capture: true }); } catch (e) { error = e.message; }
console.log(JSON.stringify({ ok, error }));
`);
  expect(out.ok.trim()).toBe('42');
  expect(out.error).toBe('bad job exited with 3');
});
