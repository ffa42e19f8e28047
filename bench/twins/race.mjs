#!/usr/bin/env node
// The time-to-quality race of issue #15: vqvid's best configuration (RCNN, factored softmax, copy-aware output,
// all cores as workers) against the PyTorch twin (bench/twins/torch_race.py: the same network with a full
// softmax, as the paper trained it), each trained until its test bits/code reach the counted same-cell bigram's,
// or until a cap of training CPU time. Both train in chunks of --chunk steps and score the test codes after
// every chunk; the CPU time counted is that of training only (every thread of the process; evaluations left out).
//   npm run bench:race -- [--video PATH] [--cap-minutes M] [--chunk N] [--out DIR] [--quick] [--no-twin]
// Data as bench/run.mjs: the video at 320x240, a K = 10,000 codebook (8x8, stride 8) fitted on the first 80% of
// frames with the main bench's settings and seed (cached in DIR: a rerun does not refit), the codes of every
// frame; the first 80% train, the last 20% test. Writes DIR/results.json and DIR/report.md.
// Without python3 or torch the twin is skipped with a note (exit 0). Needs the built packages (npm run build).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { sliceVideo } from '@vqvid/core';
import { PatchCodec } from '@vqvid/quantize';
import { initBackend, RCNN } from '@vqvid/model';
import { BigramModel } from '@vqvid/baselines';
import { benchConfig, parseBenchArgs, r4, readBenchVideo, resultsHeader, splitCodes, table, writeResults } from '../common.mjs';
import { runTwin } from './twin.mjs';

const COMMAND = 'npm run bench:race --';
const { args, root, quick, seed, W, H, out } = parseBenchArgs(
  COMMAND,
  'race',
  { 'cap-minutes': { type: 'string' }, chunk: { type: 'string' }, k: { type: 'string' }, variants: { type: 'string', default: 'best,no-prior' }, 'no-twin': { type: 'boolean', default: false } },
  `[--cap-minutes M] [--chunk N] [--k K] [--variants LIST] [--no-twin]
  --cap-minutes M  training CPU minutes (all threads) after which a contestant stops (default 8; --quick 0.5)
  --chunk N        training steps between two scorings of the test codes (default 25 = one epoch of the main bench; --quick 10)
  --k K            codebook size (default 10000; --quick 256)
  --variants LIST  vqvid's contestants, comma-separated (default best,no-prior): best = the default copy-aware output (copy
                   gate + counted prior), no-prior = the copy gate without the prior, plain = neither (factored softmax only)
  --no-twin        run vqvid only`,
);

/** A positive number option (integer when `int`), or a usage error naming it. */
function positive(name, fallback, int = false) {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (int && !Number.isInteger(v))) usageError(`--${name}: expected a positive ${int ? 'integer' : 'number'}, got '${raw}'`);
  return v;
}
function usageError(message) {
  process.stderr.write(`bench: ${message}\n(run with --help for the options)\n`);
  process.exit(2);
}

const capMinutes = positive('cap-minutes', quick ? 0.5 : 8);
const chunk = positive('chunk', quick ? 10 : 25, true);
const k = positive('k', quick ? 256 : 10000, true);
if (k < 2 || k > 65535) usageError(`--k: expected an integer in 2..65535, got ${k}`);
if (args.video && !existsSync(args.video)) usageError(`--video: no such file '${args.video}'`);
/** vqvid's contestants: RCNN options on top of the main bench's model, factored softmax and all cores. */
const VARIANTS = {
  best: { options: {}, what: "copy-aware output with the counted spatial prior (the defaults; the same-cell bigram before the spatial prior became the default)" },
  'no-prior': { options: { prior: 'none' }, what: 'copy-aware output without the counted prior (copy gate + network)' },
  plain: { options: { copy: false, prior: 'none' }, what: 'plain factored softmax (no copy gate, no prior)' },
};
const variants = args.variants.split(',').filter(Boolean);
for (const v of variants) if (!VARIANTS[v]) usageError(`--variants: expected names from ${Object.keys(VARIANTS).join(', ')}, got '${v}'`);
if (variants.length === 0) usageError('--variants: expected at least one name');
const cores = os.availableParallelism?.() ?? os.cpus().length;
const config = benchConfig({ quick, seed, video: args.video ?? 'synthetic:bouncing', W, H });
const loadBefore = os.loadavg();
const log = (line) => process.stderr.write(`race: ${line}\n`);
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

try {
  await main();
} catch (e) {
  process.stderr.write(`bench: error: ${e?.message ?? e}\n`);
  process.exit(1);
}

async function main() {
  // ---- data: as bench/run.mjs reads, quantizes and splits it ----
  const raw = await readBenchVideo(args, { quick, seed, W, H });
  const nTrain = Math.floor(raw.frames * 0.8);
  const nFit = Math.floor(nTrain * 0.875);
  if (raw.frames - nTrain < 2) throw new Error(`the video has ${raw.frames} frames: the test part (last 20%) needs at least 2`);
  const codec = await cachedCodec(raw, nTrain);
  await initBackend();
  const codes = splitCodes(await codec.encode(raw), nFit, nTrain);
  const { train, test } = codes;
  log(`codes: ${codes.all.frames} frames of ${codes.all.rows}x${codes.all.cols}, ${train.frames} train, ${test.frames} test`);

  // ---- target: the counted same-cell bigram on all training frames, scored as the main bench scores ----
  const target = new BigramModel().fit(train).evaluate(test).bitsPerCode;
  log(`target: bigram (same cell, plain Witten-Bell) ${target.toFixed(4)} test bits/code`);

  const capSeconds = capMinutes * 60;
  const { kernel, ...shared } = config.model;
  const fit = { bptt: config.fit.bptt, batch: config.fit.batch, crop: config.fit.crop, lr: config.fit.lr, lrDecay: config.fit.lrDecay };

  const loadBeforeVqvid = os.loadavg();
  const contestants = {};
  for (const v of variants) {
    contestants[`vqvid ${v}`] = await raceVqvid({ train, test, target, capSeconds, options: { k, softmax: 'factored', seed, ...shared, kernel, ...VARIANTS[v].options }, fit, what: VARIANTS[v].what });
  }
  const loadBeforeTwin = os.loadavg();
  const torch = args['no-twin'] ? { skipped: '--no-twin' } : await raceTwin({ all: codes.all, nTrain, target, capSeconds, fit });
  const loadAfter = os.loadavg();

  contestants.torch = torch;
  // twin CPU / vqvid CPU to the target, per vqvid contestant, where both reached it
  const ratios = Object.fromEntries(variants.map((v) => {
    const c = contestants[`vqvid ${v}`];
    return [`vqvid ${v}`, c.reached && torch.reached ? r4(torch.reached.cpuSeconds / Math.max(c.reached.cpuSeconds, 1e-9)) : null];
  }));
  const results = {
    ...resultsHeader('vqvid/race', COMMAND, root, loadBefore),
    config: {
      video: config.video, size: [W, H], k, patch: config.patch, quantizeSample: config.quantizeSample, quantizeMaxIter: config.quantizeMaxIter, seed,
      chunkSteps: chunk, capCpuMinutes: capMinutes, cores, model: config.model, fit,
      split: 'first 80% of frames train (both contestants and the bigram train on all of them; no validation, so no early stopping or lr on plateau), last 20% test',
    },
    data: { frames: raw.frames, trainFrames: nTrain, testFrames: raw.frames - nTrain, rows: codes.all.rows, cols: codes.all.cols },
    target: { model: 'bigram (same cell), plain Witten-Bell, counted on all training frames', testBitsPerCode: r4(target) },
    measured:
      'per contestant, after every chunk of training steps: training CPU seconds (Node: process.cpuUsage(), every thread of the ' +
      'process, worker threads included; torch: time.process_time(), every thread), training wall seconds, steps, and test bits/code ' +
      '(frames 1..T-1 of the test codes, whole grid, recurrent state from zero at the first test frame, no dropout). The CPU and ' +
      'wall time of the test scorings, of reading the video, of the codebook and of encoding are not counted. The cap is checked after ' +
      'each chunk, so a contestant may pass it by up to one chunk.',
    loadavg: { before: loadBefore.map(r2), beforeVqvid: loadBeforeVqvid.map(r2), beforeTwin: loadBeforeTwin.map(r2), after: loadAfter.map(r2) },
    contestants,
    twinCpuOverVqvidCpu: ratios,
    finding: finding(contestants, ratios, target),
  };
  writeResults(out, results, report(results));
  log(results.finding);
  console.log(JSON.stringify(results));
  process.exit(0);
}

function r2(v) {
  return +v.toFixed(2);
}

/** The codebook of the run: loaded from DIR when one was fitted there with the same settings, else fitted and saved. */
async function cachedCodec(raw, nTrain) {
  const file = join(out, `codebook-k${k}.vqcb`);
  const keyFile = join(out, `codebook-k${k}.json`);
  const key = JSON.stringify({
    video: args.video ? resolve(args.video) : 'synthetic:bouncing', size: [W, H], frames: raw.frames, trainFrames: nTrain,
    k, stride: config.patch, seed, maxIter: config.quantizeMaxIter, sample: config.quantizeSample,
  });
  if (existsSync(file) && existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key) {
    log(`codebook: loaded ${file}`);
    return PatchCodec.load(file);
  }
  log(`codebook: fitting K = ${k} on ${nTrain} frames (main bench settings: ${config.quantizeSample} sampled patches, ${config.quantizeMaxIter} iterations, seed ${seed})`);
  const t = performance.now();
  const codec = await PatchCodec.fit(sliceVideo(raw, 0, nTrain), { k, stride: config.patch, seed, maxIter: config.quantizeMaxIter, sample: config.quantizeSample });
  log(`codebook: fitted in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await codec.save(file);
  writeFileSync(keyFile, key);
  return codec;
}

/** Where a curve first reached the target, or null. */
function reachedOf(curve, target) {
  const hit = curve.find((p) => p.testBits <= target);
  return hit ? { cpuSeconds: hit.cpuSeconds, cpuMinutes: r4(hit.cpuSeconds / 60), wallSeconds: hit.wallSeconds, steps: hit.steps } : null;
}

/**
 * vqvid's contestant: one `fit` call on all training frames with `chunk` steps per epoch (so the lr schedule is
 * the main bench's per epoch, Adam's moments run on), the test codes scored in the per-epoch progress callback
 * (synchronously, between two steps, its CPU time subtracted) and the run aborted there at the target or the cap.
 */
async function raceVqvid({ train, test, target, capSeconds, options, fit, what }) {
  const model = new RCNN(options);
  const curve = [];
  const c0 = cpuNow();
  const w0 = performance.now();
  let evalCpu = 0;
  let evalWall = 0;
  const point = (steps) => {
    const c = cpuNow();
    const w = performance.now();
    const row = { cpuSeconds: r4(c - c0 - evalCpu), wallSeconds: r4((w - w0) / 1000 - evalWall), steps, testBits: r4(model.evaluate(test).bitsPerCode) };
    evalCpu += cpuNow() - c;
    evalWall += (performance.now() - w) / 1000;
    curve.push(row);
    log(`vqvid (${what}) ${JSON.stringify(row)}`);
    return row;
  };
  // epochs: 0 builds the output (code counts, the counted prior, the copy gate's EM start): training work, counted
  await model.fit(train, { ...fit, epochs: 0, workers: cores });
  point(0);
  const stop = new AbortController();
  let error = null;
  if (curve[0].testBits > target) {
    try {
      await model.fit(train, {
        ...fit,
        epochs: 1e6,
        stepsPerEpoch: chunk,
        workers: cores,
        signal: stop.signal,
        onProgress: (p) => {
          if (p.stage !== 'epoch') return;
          const row = point(p.done * chunk);
          if (row.testBits <= target || row.cpuSeconds >= capSeconds) stop.abort();
        },
      });
    } catch (e) {
      error = e.message;
    }
  }
  const reached = reachedOf(curve, target);
  model.dispose();
  return {
    tool: 'vqvid (tfjs wasm)',
    configuration: `RCNN, softmax 'factored', ${what}, ${cores} workers`,
    options,
    evalCpuSeconds: r4(evalCpu),
    curve,
    reached,
    atCap: reached ? null : curve[curve.length - 1],
    ...(error ? { error } : {}),
  };
}

/** The torch twin on the same codes (a uint16 file in DIR), the same split, chunking, cap and training settings. */
async function raceTwin({ all, nTrain, target, capSeconds, fit }) {
  const file = join(out, `codes-k${k}.u16`);
  writeFileSync(file, Buffer.from(Uint16Array.from(all.codes).buffer));
  const progress = join(out, 'twin-progress.jsonl');
  rmSync(progress, { force: true });
  log(`twin: training (progress in ${progress})`);
  const m = config.model;
  const t = await runTwin('torch_race.py', [
    '--codes', file, '--frames', all.frames, '--rows', all.rows, '--cols', all.cols, '--k', k, '--train-frames', nTrain,
    '--target', target, '--cap-cpu', capSeconds, '--chunk', chunk, '--threads', cores, '--seed', seed,
    '--embed', m.embedDim, '--hidden', m.hidden, '--layers', m.layers, '--kernel', m.kernel, '--dropout', m.dropout,
    '--batch', fit.batch, '--bptt', fit.bptt, '--crop', fit.crop, '--lr', fit.lr, '--lr-decay', fit.lrDecay, '--clip', 5, '--log', progress,
  ]);
  rmSync(file, { force: true });
  if (t.skipped) return t;
  return { ...t, configuration: 'the same RCNN, full softmax (no copy gate, no prior), as the paper trained it', reached: t.reached ? { ...t.reached, wallSeconds: curveWall(t.curve, target) } : null };
}

function curveWall(curve, target) {
  return curve.find((p) => p.testBits <= target)?.wallSeconds ?? null;
}

/** Who reached the target and in how many CPU minutes, or where each stood at the cap; the CPU ratios. */
function finding(contestants, ratios, target) {
  const say = (name, c) =>
    c.skipped ? `${name}: skipped (${c.skipped})` : c.reached ? `${name} reached it after ${c.reached.cpuMinutes} CPU-minutes (${c.reached.steps} steps)` : `${name} did not reach it within the cap: ${c.atCap?.testBits} bits/code after ${r4(c.atCap?.cpuSeconds / 60)} CPU-minutes (${c.atCap?.steps} steps)`;
  const parts = Object.entries(contestants).map(([name, c]) => say(name, c));
  const torch = contestants.torch;
  const vs = Object.entries(ratios).map(([name, ratio]) =>
    ratio !== null ? `twin / ${name}: ${ratio}x the CPU time` : contestants[name].reached && !torch.skipped && !torch.reached ? `${name} reached it, the twin did not within the cap` : null,
  ).filter(Boolean);
  return `Target ${r4(target)} bits/code (counted same-cell bigram). ${parts.join('; ')}.${vs.length ? ` ${vs.join('; ')}.` : ''}`;
}

function report(r) {
  const rows = [];
  for (const [name, c] of Object.entries(r.contestants)) for (const p of c.curve ?? []) rows.push({ contestant: name, ...p });
  return `# Time-to-quality race, K = ${r.config.k}

${r.date}, commit ${r.commit}, load average ${r.loadavg.before.join(' ')} before, ${r.loadavg.after.join(' ')} after.

${r.finding}

${r.measured}

${table(rows, ['contestant', 'steps', 'cpuSeconds', 'wallSeconds', 'testBits'])}`;
}
