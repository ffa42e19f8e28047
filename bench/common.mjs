// Pieces shared by the root bench (run.mjs) and the paper's protocols (paper.mjs): the configuration, stage
// timing, scoring, decoder fitting, training in child processes and markdown tables.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sliceCodes, sliceVideo, writeCodes } from '@vqvid/core';
import { readVideo, syntheticVideo } from '@vqvid/video';
import { fitDecoderAlpha, PatchCodec } from '@vqvid/quantize';
import { initBackend, RCNN } from '@vqvid/model';
import { evaluateFrames } from '@vqvid/metrics';
import { inLanes, runChild } from './lanes.mjs';

export { inLanes, runChild } from './lanes.mjs';

/**
 * The options every bench script takes (plus `extra`, node:util parseArgs specs); prints usage and exits on
 * --help or a mistake. `out` defaults to bench/out/<name>[-quick] and is created.
 */
export function parseBenchArgs(command, name, extra = {}, extraUsage = '') {
  const usage = `usage: ${command} [--video PATH] [--quick] [--out DIR] [--seed N] [--width W --height H] [--max-frames N]${extraUsage ? ' ' + extraUsage.split('\n')[0] : ''}
  --video PATH     a video file (any container ffmpeg reads; Y4M natively); default: the built-in synthetic clip
  --quick          small sizes and step budgets (a few minutes), for a smoke test
  --out DIR        where results.json, report.md and the PNG pictures go (default bench/out/${name} or bench/out/${name}-quick)
  --seed N         seed of every random choice (default 1)
  --width/--height frame size the video is resized to (default 320x240)
  --max-frames N   read at most N frames${extraUsage ? '\n' + extraUsage.split('\n').slice(1).join('\n') : ''}`;
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        video: { type: 'string' },
        quick: { type: 'boolean', default: false },
        out: { type: 'string' },
        seed: { type: 'string', default: '1' },
        width: { type: 'string', default: '320' },
        height: { type: 'string', default: '240' },
        'max-frames': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        ...extra,
      },
    });
  } catch (e) {
    process.stderr.write(`bench: ${e.message}\n${usage}\n`);
    process.exit(2);
  }
  const args = parsed.values;
  if (args.help) {
    process.stdout.write(usage + '\n');
    process.exit(0);
  }
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const quick = args.quick;
  // the full run's default folder keeps its historical name (bench/out/full, bench/out/quick)
  const fallback = name === 'full' ? (quick ? 'quick' : 'full') : quick ? `${name}-quick` : name;
  const out = resolve(args.out ?? join(root, 'bench', 'out', fallback));
  mkdirSync(out, { recursive: true });
  return { args, root, quick, seed: Number(args.seed), W: Number(args.width), H: Number(args.height), out };
}

/** The video of a run: --video resized to W x H (at most --max-frames frames), or the built-in synthetic clip. */
export function readBenchVideo(args, { quick, seed, W, H }) {
  return args.video
    ? readVideo(args.video, { width: W, height: H, ...(args['max-frames'] ? { maxFrames: Number(args['max-frames']) } : {}) })
    : syntheticVideo({ kind: 'bouncing', width: W, height: H, frames: quick ? 40 : 120, seed });
}

/** A clip's codes and their parts: fit (first nFit frames), val (nFit..nTrain), train (first nTrain), test (the rest). */
export function splitCodes(all, nFit, nTrain) {
  return { all, fit: sliceCodes(all, 0, nFit), val: sliceCodes(all, nFit, nTrain), train: sliceCodes(all, 0, nTrain), test: sliceCodes(all, nTrain, all.frames) };
}

/**
 * What paper.mjs and probe.mjs start from, made as bench/run.mjs makes its first model K: the codebook (K = k,
 * 8x8 at stride 8) fitted on the first nTrain frames, the clip's codes split, and the RCNN trained with the same
 * configuration and step budget (or loaded from `modelDir`), each a stage; a trained model is saved to
 * `saveDir` when given.
 */
export async function paperSetup(raw, { k, config, seed, root, stage, nFit, nTrain, modelDir, saveDir }) {
  const key = `${k}/${config.patch}`;
  const codec = await stage('quantize', () =>
    PatchCodec.fit(sliceVideo(raw, 0, nTrain), { k, stride: config.patch, seed, maxIter: config.quantizeMaxIter, sample: config.quantizeSample }),
  );
  await initBackend();
  const coded = new Map([[key, splitCodes(await codec.encode(raw), nFit, nTrain)]]);
  const { model, training } = await stage('model', async () => {
    if (modelDir) return { model: await RCNN.load(modelDir), training: { loaded: modelDir } };
    const { kernel, ...shared } = config.model;
    const job = { name: 'rcnn', k, key, model: 'rcnn', options: { k, softmax: k <= 1024 ? 'full' : 'factored', ...shared, kernel } };
    const [r] = await trainAll([job], { coded, config, seed, root });
    if (saveDir) await r.model.save(saveDir);
    return { model: r.model, training: r.train };
  });
  if (model.k !== k) throw new Error(`--model: a model of K = ${model.k}, the codes have K = ${k}`);
  return { key, codec, coded, model, training };
}

/**
 * Runs `fn()` with `model`'s counted prior (copy-aware output) recounted on `fitCodes` only, with the same
 * smoothing, then restores it. Decoders are fitted on validation frames, and phase 2 of training recounts the
 * prior on all training frames, validation included: a prior that has counted a frame's exact contexts predicts
 * that frame far better than any unseen one (badly so for the spatial prior, which memorises each place's
 * flicker), and alphas fitted on such predictions do not transfer to the test frames. Inside `fn` the validation
 * frames are as unseen to the prior as the test frames will be. A model without a counted prior runs `fn` as is.
 */
export function withFitPrior(model, fitCodes, fn) {
  return model.withPriorCountedOn(fitCodes, fn);
}

/** The short commit of the checkout at `root` ('+dirty' when tracked files differ from it), or 'unknown'. */
export function commitOf(root) {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root }).toString().trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

/** The fields every results.json starts with: which bench, the command as typed, date, commit and machine. */
export function resultsHeader(bench, command, root, loadAtStart) {
  return { bench, command: `${command} ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(), commit: commitOf(root), machine: machineOf(loadAtStart) };
}

/** Writes `results` as DIR/results.json and `report` (markdown) as DIR/report.md. */
export function writeResults(out, results, report) {
  writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(out, 'report.md'), report);
}

/** What a results file says about the machine: CPU, cores, memory, load at start and end, Node. */
export function machineOf(loadAtStart) {
  return { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGB: +(os.totalmem() / 2 ** 30).toFixed(1), loadavgAtStart: loadAtStart.map((v) => +v.toFixed(2)), loadavgAtEnd: os.loadavg().map((v) => +v.toFixed(2)), node: process.version, platform: `${os.platform()}-${os.arch()}` };
}

/**
 * Every knob of a run, recorded in its JSON; shared by run.mjs and paper.mjs so both train and decode alike.
 * @param o.quick small sizes and budgets; o.seed, o.video (name recorded), o.W and o.H the frame size.
 */
export function benchConfig({ quick, seed, video, W, H }) {
  return {
    video,
    size: [W, H],
    patch: 8,
    split:
      'first 80% of frames train, last 20% test. Networks: phase 1 on the first 7/8 of the training frames, the last 1/8 ' +
      'validating (early stopping and lr on plateau choose the step count; best weights kept), then phase 2: refitSteps more ' +
      'steps on all training frames. Counted models (n-grams, copy-previous) count all training frames; copy-previous fits ' +
      'its epsilon on the validation frames; the tuned n-grams count the fit frames, choose their Witten-Bell strengths on the ' +
      'validation frames, then count all training frames with those strengths. Decoder alphas and mbr change ratios are fitted on validation frames, ' +
      "with each network's counted prior as counted on the fit frames only (the validation frames unseen by it, as the test frames are).",
    quantizeKs: quick ? [64, 256] : [256, 1024, 4096, 10000],
    quantizeSample: quick ? 20000 : 100000,
    quantizeMaxIter: quick ? 10 : 12,
    modelKs: quick ? [256] : [1024, 10000],
    // the overlapping grid (8x8 patches every 4 pixels) is run at the first model K
    stride4: true,
    // dropout 0.25 and lr 1e-2 were chosen on the validation frames of vtest (RCNN full): without dropout the
    // RCNN reached 0.29 bits/code on its training crops and 0.73 on validation
    model: quick ? { embedDim: 32, hidden: 64, kernel: 3, layers: 2, dropout: 0.25 } : { embedDim: 64, hidden: 96, kernel: 3, layers: 2, dropout: 0.25 },
    // workers: 1: the bench trains trainProcesses networks at a time, one thread each, which already fills the cores
    fit: { bptt: 6, batch: 4, crop: 16, epochs: quick ? 5 : 10, stepsPerEpoch: quick ? 10 : 25, lr: 1e-2, lrDecay: 0.97, lrPlateau: 0.5, patience: 3, workers: 1 },
    refitSteps: quick ? 10 : 50,
    trainProcesses: 2,
    contextFrames: 8,
    evalStride: quick ? 2 : 3,
    alphaTargets: quick ? 3 : 8,
    // mbr's changeRatio grid, chosen on the validation targets (see fitChangeRatio)
    changeRatios: [1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
    decoderTopM: 16,
    // motion search radius (pixels) of the decoders' search rows: a changed code drawn as the nearby moved patch
    // nearest its centroid (in the frame before when predicting, in both known frames when filling)
    search: 2,
    fillAlphaTargets: quick ? 2 : 6,
    fillTargets: quick ? 3 : 8,
    fill: { candidates: 6, sweeps: 1 },
    motionThreshold: 10,
    seed,
  };
}

/** Wall seconds and peak RSS per stage: `stage(name, fn)` runs fn and records both in `stages`. */
export function stageTimer() {
  let peak = 0;
  const loadAtStart = os.loadavg();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  sampler.unref();
  const stages = {};
  async function stage(name, fn) {
    peak = process.memoryUsage().rss;
    const t = performance.now();
    process.stderr.write(`bench: ${name}...\n`);
    const result = await fn();
    stages[name] = { seconds: +((performance.now() - t) / 1000).toFixed(2), peakRssMB: +(Math.max(peak, process.memoryUsage().rss) / 2 ** 20).toFixed(1) };
    process.stderr.write(`bench: ${name} done in ${stages[name].seconds} s\n`);
    return result;
  }
  return { stage, stages, loadAtStart };
}

export const r4 = (x) => (Number.isFinite(x) ? +x.toFixed(4) : x === Infinity ? 'Infinity' : null);
export const clamp = (v) => ({ ...v, data: v.data.map((x) => Math.min(255, Math.max(0, x))) });

/** `count` frame indices evenly spread over [lo, hi]. */
export function spread(lo, hi, count) {
  const n = Math.max(1, Math.min(count, hi - lo + 1));
  return Array.from({ length: n }, (_, i) => lo + Math.round((i * (hi - lo)) / Math.max(1, n - 1)));
}

/** A file or folder name for a model or codec key ('rcnn (stride 4)', '1024/4' → 'rcnn-stride-4-1024-s4'). */
export const keepName = (...parts) => parts.map((p) => String(p).replace('/', '-s').replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '')).join('-');

/**
 * Writes each codec key's codes (`coded`: key → splitCodes's { all, fit, train, ... }) once under `work`, for
 * {@link trainingTasks}: key → { codesFile, nFit, nTrain }.
 */
export async function writeSplitCodes(coded, work) {
  const files = new Map();
  for (const [key, { all, fit, train }] of coded) {
    const codesFile = join(work, `codes-${keepName(key)}.vqc`);
    await writeCodes(codesFile, all);
    files.set(key, { codesFile, nFit: fit.frames, nTrain: train.frames });
  }
  return files;
}

/**
 * Training tasks for {@link inLanes}, one per job, each a child process (bench/train-one.mjs) with a fixed step
 * budget that saves its model under `work`: resolves to { ...job, train, modelDir } (and `evaluation`, the test
 * split's { bitsPerCode, perplexity, seconds } of the saved model as loaded back, when `test`). `codes` maps a
 * codec key to its codes file and split ({ codesFile, nFit, nTrain }, as {@link writeSplitCodes} writes them; the
 * child splits them as splitCodes does). A job's `fit` adds to config.fit (e.g. { rollout: 3 }), and its `after`
 * (task indices) passes to inLanes. With `reuse`, a job whose model is in that folder (keepName(name, key), as
 * bench/run.mjs --keep saves it) resolves to it untrained ({ train: { reused }, modelDir }). Each task spawns its
 * child at once when started.
 */
export function trainingTasks(jobs, { codes, config, seed, root, work, reuse = null, test = false }) {
  return jobs.map((j, i) => ({
    ...(j.after !== undefined ? { after: j.after } : {}),
    run: () => {
      const { name, key, model, options } = j;
      const kept = reuse ? join(reuse, keepName(name, key)) : null;
      if (kept && existsSync(kept)) {
        process.stderr.write(`bench: reusing ${name} (${key}) from ${kept}\n`);
        return { ...j, train: { reused: kept }, modelDir: kept };
      }
      const job = { model, options: { seed, ...options }, fitOptions: { ...config.fit, ...j.fit }, refitSteps: config.refitSteps, modelDir: join(work, `model${i}`), test, ...codes.get(key) };
      const jobFile = join(work, `job${i}.json`);
      writeFileSync(jobFile, JSON.stringify(job));
      process.stderr.write(`bench: training ${name} (${key})\n`);
      return runChild(join(root, 'bench', 'train-one.mjs'), jobFile, `training ${name} (${key})`, { capture: true }).then((stdout) => {
        const { evaluation, ...train } = JSON.parse(stdout.trim().split('\n').pop());
        process.stderr.write(`bench: trained ${name} (${key}) in ${train.seconds} s\n`);
        return { ...j, train, modelDir: job.modelDir, ...(evaluation ? { evaluation } : {}) };
      });
    },
  }));
}

/**
 * Trains every job (see {@link trainingTasks}; `coded` maps a codec key to splitCodes's parts),
 * `config.trainProcesses` at a time in the order given, and loads each model back: resolves to
 * { ...job, train, model } per job.
 */
export async function trainAll(jobs, { coded, config, seed, root, reuse = null }) {
  const work = mkdtempSync(join(os.tmpdir(), 'vqvid-bench-'));
  try {
    const codes = await writeSplitCodes(coded, work);
    const done = await inLanes(config.trainProcesses, trainingTasks(jobs, { codes, config, seed, root, work, reuse }));
    const results = [];
    for (const { modelDir, ...r } of done) results.push({ ...r, model: await RCNN.load(modelDir) });
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** PSNR, SSIM, sharpness and MSE of a prediction, over the whole frame and over `mask` (moving pixels). */
export function scoreAll(pred, truth, mask) {
  const whole = evaluateFrames(clamp(pred), truth);
  const moving = evaluateFrames(clamp(pred), truth, { mask });
  return { psnr: r4(whole.psnr), ssim: r4(whole.ssim), sharpness: r4(whole.sharpness), mse: r4(whole.mse), movingPsnr: r4(moving.psnr), movingSsim: r4(moving.ssim), movingSharpness: r4(moving.sharpness) };
}

/** Mean of per-target metric objects, per key (ignoring NaN: targets with no moving pixel). */
export function meanRows(list) {
  const keys = Object.keys(list[0]);
  return Object.fromEntries(keys.map((key) => {
    const vals = list.map((o) => (o[key] === 'Infinity' ? Infinity : o[key])).filter((v) => v !== null && !Number.isNaN(v));
    return [key, vals.length ? r4(vals.reduce((s, v) => s + v, 0) / vals.length) : null];
  }));
}

/** |a − b| per pixel, as a video like b (for error strips). */
export function absDiff(a, b) {
  return { ...b, data: b.data.map((x, i) => Math.abs(x - a.data[i])) };
}

/**
 * Decoders scored: the four of @vqvid/quantize at alpha 1 (plain stand-ins), the three that use alpha at their
 * fitted value, mbr at its fitted change ratio, and with `motion` ({ search, alphas, changeRatio }) the same
 * three and mbr's ratio row again with the motion search (a changed code drawn as the nearby moved patch nearest
 * its centroid), each at the alpha fitted with the search.
 */
export const SHARP = new Set(['centroid', 'skip', 'mbr']);
export function decoderPlan(alphas, changeRatio, motion) {
  return [
    ...['centroid', 'skip', 'mbr', 'mean'].map((decoder) => ({ name: `rcnn ${decoder}`, decoder, alpha: 1 })),
    // a fitted alpha of 1 is the plain row already
    ...['skip', 'mbr', 'mean'].filter((decoder) => alphas[decoder] !== 1).map((decoder) => ({ name: `rcnn ${decoder} (alpha ${alphas[decoder]})`, decoder, alpha: alphas[decoder] })),
    // mbr at its fitted alpha, changing a cell only where that pays by the fitted ratio (1 is the row above)
    ...(changeRatio !== 1 ? [{ name: `rcnn mbr (alpha ${alphas.mbr}, ratio ${changeRatio})`, decoder: 'mbr', alpha: alphas.mbr, changeRatio }] : []),
    ...(motion
      ? [
          ...['skip', 'mbr', 'mean'].map((decoder) => ({ name: `rcnn ${decoder} (alpha ${motion.alphas[decoder]}, search ${motion.search})`, decoder, alpha: motion.alphas[decoder], search: motion.search })),
          ...(motion.changeRatio !== 1
            ? [{ name: `rcnn mbr (alpha ${motion.alphas.mbr}, search ${motion.search}, ratio ${motion.changeRatio})`, decoder: 'mbr', alpha: motion.alphas.mbr, search: motion.search, changeRatio: motion.changeRatio }]
            : []),
        ]
      : []),
  ];
}

/**
 * The decoders' plan (decoderPlan) from validation samples: the alphas and mbr's change ratio fitted without and
 * with the motion search (radius config.search), and what was fitted, as bench/run.mjs reports it.
 */
export function fitDecoderPlan(codec, geometry, samples, config) {
  const { alphas, mse } = fitAlphas(codec, geometry, samples, config);
  const ratio = fitChangeRatio(codec, geometry, samples, alphas.mbr, config);
  const searched = fitAlphas(codec, geometry, samples, config, config.search);
  const searchRatio = fitChangeRatio(codec, geometry, samples, searched.alphas.mbr, config, config.search);
  const plan = decoderPlan(alphas, ratio.changeRatio, { search: config.search, alphas: searched.alphas, changeRatio: searchRatio.changeRatio });
  return { plan, info: { alphas, alphaMse: mse, changeRatio: ratio, search: { radius: config.search, alphas: searched.alphas, alphaMse: searched.mse, changeRatio: searchRatio } } };
}

/**
 * Every decoder of `plan` on `dist` into `into[name]`: `at.reference` stands for "same code as `at.present`", and
 * a motion search looks in `at.sources`.
 */
export function renderPlan(codec, geometry, plan, dist, at, config, into) {
  for (const p of plan) {
    into[p.name] = codec.decodeDistribution(dist, { geometry, reference: at.reference, present: at.present, decoder: p.decoder, alpha: p.alpha, topM: config.decoderTopM, changeRatio: p.changeRatio, search: p.search, sources: at.sources });
  }
  return into;
}

/**
 * mbr's changeRatio from the validation samples: every ratio of config.changeRatios renders them with mbr at its
 * fitted alpha. Among the ratios whose mean PSNR is at least the baseline's (the reference frame: copy-last when
 * predicting, the linear interpolation when filling), the one with the highest mean SSIM; when none is, the one
 * with the highest SSIM (ties → the larger ratio). Ratio 1 is plain mbr, the row with the best expected squared
 * error; this row is the structure-safe sharp decoder: it changes a cell only where that pays on validation.
 */
export function fitChangeRatio(codec, geometry, samples, alpha, config, search = 0) {
  const mean = (list, key) => list.reduce((a, m) => a + m[key], 0) / list.length;
  const base = samples.map((s) => evaluateFrames(clamp(s.reference), s.truth));
  const baseline = { psnr: r4(mean(base, 'psnr')), ssim: r4(mean(base, 'ssim')) };
  const tried = config.changeRatios.map((changeRatio) => {
    const m = samples.map((s) => evaluateFrames(clamp(codec.decodeDistribution(s.dist, { geometry, reference: s.reference, present: s.present, decoder: 'mbr', alpha, topM: config.decoderTopM, changeRatio, search, sources: s.sources })), s.truth));
    return { changeRatio, psnr: r4(mean(m, 'psnr')), ssim: r4(mean(m, 'ssim')) };
  });
  const ok = tried.filter((r) => r.psnr >= baseline.psnr);
  const pick = (ok.length ? ok : tried).reduce((a, b) => (b.ssim > a.ssim ? b : a));
  return { changeRatio: pick.changeRatio, baseline, tried };
}

/**
 * Fits each decoder's alpha on validation samples { dist, present, reference, truth, sources }: the model's
 * distribution, the present codes, the reference frame (pixels), the true frame, and the frames a motion search
 * looks in (used when `search` > 0).
 */
export function fitAlphas(codec, geometry, samples, config, search = 0) {
  const { k, dim, centroids } = codec.codebook;
  const fitted = {};
  const mse = {};
  const prepared = samples.map((s) => {
    const motion = search > 0 ? codec.motionPatches(s.sources, geometry, search) : null;
    return {
      probs: s.dist.probs, k, present: s.present, reference: codec.referencePatches(s.reference, geometry), centroids, dim, topM: config.decoderTopM,
      truth: codec.referencePatches(s.truth, geometry), ...(motion ? { motion: motion.patches, motionCount: motion.count } : {}),
    };
  });
  for (const decoder of ['skip', 'mbr', 'mean']) {
    const r = fitDecoderAlpha(prepared.map((s) => ({ ...s, decoder })));
    fitted[decoder] = r.alpha;
    mse[decoder] = r.mse.map(r4);
  }
  return { alphas: fitted, mse };
}

/** Adds the summary a reader wants per table: best decoder vs copy/linear, best sharp decoder, distance to flow. */
export function summarise(rows, base, flow) {
  const baseRow = rows.find((r) => r.method === base);
  const flowRow = rows.find((r) => r.method === flow);
  const rcnn = rows.filter((r) => r.method.startsWith('rcnn '));
  for (const r of rcnn) r.sharp = SHARP.has(r.decoder) && r.sharpness >= baseRow.sharpness;
  const best = rcnn.reduce((a, b) => (b.psnr > a.psnr ? b : a));
  const sharp = rcnn.filter((r) => r.sharp);
  const bestSharp = sharp.length ? sharp.reduce((a, b) => (b.psnr > a.psnr ? b : a)) : null;
  // the bar for sharp decoders: PSNR and SSIM both at least the baseline's
  const both = sharp.filter((r) => r.psnr >= baseRow.psnr && r.ssim >= baseRow.ssim);
  const bestSharpBoth = both.length ? both.reduce((a, b) => (b.psnr > a.psnr ? b : a)) : null;
  const gap = (r) => (r ? { method: r.method, psnrOverBase: r4(r.psnr - baseRow.psnr), movingPsnrOverBase: r4(r.movingPsnr - baseRow.movingPsnr), ssimOverBase: r4(r.ssim - baseRow.ssim), psnrBelowFlow: r4(flowRow.psnr - r.psnr) } : null);
  return { baseline: base, best: gap(best), bestSharp: gap(bestSharp), bestSharpAtLeastBaseOnPsnrAndSsim: gap(bestSharpBoth) };
}

const LABELS = { 'copy-last': 'COPY', copy: 'COPY', linear: 'LINEAR', 'flow extrapolation': 'FLOW', 'flow interpolation': 'FLOW', 'codebook ceiling (true codes)': 'TRUE CODES' };
/**
 * Relative MSE of every row: its mean MSE over the targets ÷ that of copying the frame before ('copy-last' or
 * 'copy' row, same targets), as the paper's Table 2 reports it (< 1 beats copying).
 */
export function addRelativeMse(rows) {
  const copy = rows.find((r) => r.method === 'copy-last' || r.method === 'copy');
  for (const r of rows) r.relMse = copy && copy.mse > 0 ? r4(r.mse / copy.mse) : null;
  return rows;
}

/** Short upper-case label of a method for the picture strips. */
export const label = (name) =>
  LABELS[name] ??
  name.replace(/^rcnn /, 'RCNN ').replace(/ \(alpha ([0-9.]+)\)/, ' A$1').replace(/ \(alpha ([0-9.]+), ratio ([0-9.]+)\)/, ' A$1 R$2')
    .replace(/ \(alpha ([0-9.]+), search ([0-9]+)\)/, ' A$1 S$2').replace(/ \(alpha ([0-9.]+), search ([0-9]+), ratio ([0-9.]+)\)/, ' A$1 S$2 R$3').toUpperCase();

/** A markdown table of `rows` with columns `cols` (dotted paths reach into nested fields). */
export function table(rows, cols) {
  const head = `| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |\n`;
  return head + rows.map((r) => `| ${cols.map((c) => fmt(c.split('.').reduce((o, k) => o?.[k], r))).join(' | ')} |`).join('\n') + '\n';
}
export function fmt(v) {
  if (typeof v === 'number') return Math.abs(v) >= 1000 ? Math.round(v).toString() : +v.toFixed(3) + '';
  return v === undefined || v === null ? '–' : String(v);
}
