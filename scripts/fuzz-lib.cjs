'use strict';
/**
 * The fuzzer's supervisor, shared by the CI test (tests/fuzz.test.ts) and `npm run fuzz` (scripts/fuzz.mjs).
 * It runs the cases in a child process (scripts/fuzz-worker.cjs, on the built packages) and watches it: the
 * child's resident memory is sampled every few milliseconds from /proc, so a case that allocates without bound is
 * killed at the bound instead of taking the machine down, and a case that hangs is killed after `hangMs`. After a
 * kill or a crash the child is restarted at the next case. The result is a report of plain JSON figures.
 */
const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** Every format vqvid reads, in the order cases cycle through them. */
const FORMATS = ['y4m', 'container', 'codebook', 'codes', 'model'];

/**
 * What one case may cost. The valid files are a few kB, so a reader that needs more than 256 MB (resident memory
 * or ArrayBuffers grown, or model tensors held) or 2 s of CPU for one of them has been misled by the damage.
 */
const BOUNDS = { memoryBytes: 256 * 2 ** 20, cpuMs: 2000, hangMs: 20000 };

const WORKER = path.join(__dirname, 'fuzz-worker.cjs');

/** Resident memory of process `pid` in bytes (Linux /proc), or undefined where that cannot be read. */
function residentBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A failure's message with numbers and paths blanked, so failures of one kind group together. */
function failureClass(format, error) {
  const text = String(error)
    .replace(/\(\s*(?:at )?[^()]*:\d+:\d+\)?/g, '')
    .replace(/\/[^\s:'"]+/g, '<path>')
    .replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/gi, 'N');
  return `${format}: ${text.trim()}`;
}

function emptyReport(seed, from, formats, bounds) {
  return {
    seed, from, cases: 0, formats, bounds,
    accepted: 0, typedErrors: 0, typedByCode: {}, byFormat: {},
    untyped: [], overMemory: [], overTime: [], crashes: [],
    maxRssGrowthBytes: 0, maxRssGrowthCase: null, maxArrayBufferGrowthBytes: 0, maxTfHeldBytes: 0,
    tensorLeakCases: 0, tensorLeakExample: null, slowest: null, slowestCpu: null, restarts: 0, wallSeconds: 0,
  };
}

/**
 * Runs `cases` fuzz cases (case numbers from `from`) with `seed` and resolves to the report: cases, accepted and
 * typed (by VqvidError code, by format) outcomes, every untyped error, case over a bound, or crash (each with its
 * case number and what was damaged), the largest memory growth and the slowest case. `onCase` sees each finished case.
 * @example
 * ```js
 * const report = await runFuzz({ seed: 1, cases: 500 });
 * if (failures(report).length) console.log(failures(report));
 * ```
 */
async function runFuzz({ seed = 1, cases = 1000, from = 0, formats = FORMATS, bounds = BOUNDS, onCase } = {}) {
  const report = emptyReport(seed, from, formats, bounds);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqvid-fuzz-'));
  const t0 = Date.now();
  try {
    const end = from + cases;
    for (let next = from; next < end; ) {
      next = await runChild({ seed, from: next, to: end, formats, bounds, dir }, report, onCase);
      if (next < end) report.restarts++;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  report.wallSeconds = Math.round((Date.now() - t0) / 100) / 10;
  report.failureClasses = classify(report);
  return report;
}

/** Runs one child over cases [from, to) and resolves to the case to continue from (to when it got through). */
function runChild(cfg, report, onCase) {
  const { bounds } = cfg;
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [JSON.stringify({ seed: cfg.seed, from: cfg.from, to: cfg.to, formats: cfg.formats, dir: cfg.dir })], {
      execArgv: ['--max-old-space-size=2048'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s) => (stderr = (stderr + s).slice(-4000)));
    let ready = false;
    let ended = false;
    let current = null;
    let killed = null;
    let lastDone = cfg.from - 1;
    const sampler = setInterval(() => {
      if (!current || killed) return;
      const rss = residentBytes(child.pid);
      if (rss !== undefined) current.peak = Math.max(current.peak, rss);
      if (current.peak - current.rss > bounds.memoryBytes) killed = 'memory';
      else if (Date.now() - current.t0 > bounds.hangMs) killed = 'time';
      if (killed) child.kill('SIGKILL');
    }, 5);
    child.on('message', (msg) => {
      if (msg.t === 'ready') ready = true;
      else if (msg.t === 'start') current = { ...msg, t0: Date.now(), peak: msg.rss };
      else if (msg.t === 'stray' && current) report.untyped.push({ case: msg.i, format: current.format, what: current.what, error: `after the case settled: ${msg.error}` });
      else if (msg.t === 'done' && current) {
        record(report, current, msg);
        onCase?.(msg, report);
        lastDone = msg.i;
        current = null;
      } else if (msg.t === 'end') ended = true;
    });
    child.on('exit', (code, signal) => {
      clearInterval(sampler);
      const at = current ?? { i: lastDone + 1, format: cfg.formats[(lastDone + 1) % cfg.formats.length], what: '(between cases)', rss: 0, peak: 0, t0: Date.now() };
      const entry = { case: at.i, format: at.format, what: at.what };
      if (ended) return resolve(cfg.to);
      if (!ready) return reject(new Error(`fuzz worker failed before its first case (exit ${code ?? signal}): ${stderr.trim()}`));
      report.cases++;
      if (killed === 'memory') report.overMemory.push({ ...entry, error: `killed: resident memory grew by more than ${bounds.memoryBytes} bytes (${at.peak - at.rss} seen)` });
      else if (killed === 'time') report.overTime.push({ ...entry, error: `killed: still running after ${bounds.hangMs} ms` });
      else report.crashes.push({ ...entry, error: `worker exited (${signal ?? `code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
      resolve(at.i + 1);
    });
  });
}

/** Adds one finished case to the report. */
function record(report, start, done) {
  report.cases++;
  const f = (report.byFormat[start.format] ??= { cases: 0, accepted: 0, typed: {}, untyped: 0 });
  f.cases++;
  const entry = { case: done.i, format: start.format, what: start.what };
  if (done.outcome === 'ok') {
    report.accepted++;
    f.accepted++;
  } else if (done.outcome === 'typed') {
    report.typedErrors++;
    report.typedByCode[done.code] = (report.typedByCode[done.code] ?? 0) + 1;
    f.typed[done.code] = (f.typed[done.code] ?? 0) + 1;
  } else {
    f.untyped++;
    report.untyped.push({ ...entry, error: done.error });
  }
  const rssGrowth = Math.max(done.rssGrowth, start.peak - start.rss);
  if (rssGrowth > report.maxRssGrowthBytes) Object.assign(report, { maxRssGrowthBytes: rssGrowth, maxRssGrowthCase: entry });
  report.maxArrayBufferGrowthBytes = Math.max(report.maxArrayBufferGrowthBytes, done.arrayBufferGrowth);
  report.maxTfHeldBytes = Math.max(report.maxTfHeldBytes, done.tfHeld);
  const memory = Math.max(rssGrowth, done.arrayBufferGrowth, done.tfHeld);
  if (memory > report.bounds.memoryBytes) report.overMemory.push({ ...entry, error: `${memory} bytes (resident, ArrayBuffer or tensor growth)` });
  if (done.cpuMs > report.bounds.cpuMs) report.overTime.push({ ...entry, error: `${Math.round(done.cpuMs)} ms of CPU` });
  if (done.tfLeakTensors > 0) {
    report.tensorLeakCases++;
    report.tensorLeakExample ??= { ...entry, tensors: done.tfLeakTensors, bytes: done.tfLeakBytes, outcome: done.outcome };
  }
  const ms = Math.round(done.ms * 10) / 10;
  if (!report.slowest || ms > report.slowest.ms) report.slowest = { ...entry, ms };
  const cpuMs = Math.round(done.cpuMs * 10) / 10;
  if (!report.slowestCpu || cpuMs > report.slowestCpu.cpuMs) report.slowestCpu = { ...entry, cpuMs };
}

/** Every failure of a report (untyped errors, cases over a bound, crashes), with the command that replays it. */
function failures(report) {
  const all = [
    ...report.untyped.map((f) => ({ kind: 'untyped error', ...f })),
    ...report.overMemory.map((f) => ({ kind: 'over the memory bound', ...f })),
    ...report.overTime.map((f) => ({ kind: 'over the time bound', ...f })),
    ...report.crashes.map((f) => ({ kind: 'crash', ...f })),
  ];
  return all.map((f) => ({ ...f, replay: `npm run fuzz -- --seed ${report.seed} --case ${f.case}` }));
}

/** Failures grouped by kind and message (numbers and paths blanked): a count and the first example of each. */
function classify(report) {
  const classes = new Map();
  for (const f of failures(report)) {
    const key = `${f.kind} | ${failureClass(f.format, f.error)}`;
    const c = classes.get(key);
    if (c) c.count++;
    else classes.set(key, { class: key, count: 1, example: f });
  }
  return [...classes.values()].sort((a, b) => b.count - a.count);
}

module.exports = { runFuzz, failures, FORMATS, BOUNDS };
