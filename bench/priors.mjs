#!/usr/bin/env node
// The counted prior of the copy-aware output, measured: the RCNN with its same-cell bigram prior
// against the same RCNN with the spatial prior (prior: 'spatial', the spatial n-gram over the cell's and its 4
// neighbours' present codes), beside the counted n-grams they compete with, in test bits/code:
//   npm run bench:priors -- [--quick] [--video ../shared/data/vtest.avi] [--k 1024,10000] [--motion] [--out DIR]
// Per K: the codebook (8x8 at stride 8) fitted on the training frames as bench/run.mjs does, the networks trained
// with the main bench's configuration and step budget (phase 1 on the fit frames with early stopping on the
// validation frames, then refitSteps on all training frames), the n-grams with Witten-Bell strengths tuned on
// the validation frames and counting all training frames. `--motion` adds both priors with motion inputs. Writes
// DIR/results.json and DIR/report.md. Needs the built packages (npm run build).
import { BigramModel, copyLast, SpatialNgramModel } from '@vqvid/baselines';
import { motionMask } from '@vqvid/metrics';
import { initBackend } from '@vqvid/model';
import { partsOf } from '@vqvid/model/internals';
import { PatchCodec } from '@vqvid/quantize';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import {
  addRelativeMse, benchConfig, decoderPlan, fitAlphas, meanRows, parseBenchArgs, r4, readBenchVideo, resultsHeader, scoreAll, SHARP, splitCodes, spread,
  stageTimer, table, trainAll, withFitPrior, writeResults,
} from './common.mjs';

const { args, root, quick, seed, W, H, out } = parseBenchArgs(
  'npm run bench:priors --',
  'priors',
  { k: { type: 'string' }, motion: { type: 'boolean', default: false }, pixels: { type: 'boolean', default: false } },
  '[--k 1024,10000] [--motion] [--pixels]\n  --k LIST         codebook sizes (default 1024,10000; 256 with --quick)\n  --motion         also train both priors with motion inputs\n  --pixels         also score each network\'s next frame (mean and best sharp decoder, alphas fitted on validation) against copy-last',
);
const config = benchConfig({ quick, seed, video: args.video ?? 'synthetic:bouncing', W, H });
const ks = (args.k ?? config.modelKs.join(',')).split(',').map(Number);
const { stage, stages, loadAtStart } = stageTimer();

const raw = await stage('read', () => readBenchVideo(args, { quick, seed, W, H }));
const nTrain = Math.floor(raw.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
await initBackend();

const perK = [];
for (const k of ks) {
  const key = `${k}/${config.patch}`;
  const codec = await stage(`quantize-${k}`, () =>
    PatchCodec.fit(sliceVideo(raw, 0, nTrain), { k, stride: config.patch, seed, maxIter: config.quantizeMaxIter, sample: config.quantizeSample }),
  );
  const split = splitCodes(await codec.encode(raw), nFit, nTrain);
  const coded = new Map([[key, split]]);
  const { fit, val, train, test } = split;
  const tuned = (Model) => new Model({ strength: new Model().fit(fit, { validation: val }).strength_ }).fit(train);
  const rows = [
    { name: 'same-cell bigram (strength tuned)', bits: r4(tuned(BigramModel).evaluate(test).bitsPerCode) },
    { name: 'spatial n-gram (strengths tuned)', bits: r4(tuned(SpatialNgramModel).evaluate(test).bitsPerCode) },
  ];
  const { kernel, ...shared } = config.model;
  const options = { k, softmax: k <= 1024 ? 'full' : 'factored', ...shared, kernel };
  const jobs = [
    { name: 'RCNN, bigram prior', key, model: 'rcnn', options: { ...options, prior: 'bigram' } },
    { name: 'RCNN, spatial prior (default)', key, model: 'rcnn', options: { ...options, prior: 'spatial' } },
    ...(args.motion
      ? [
          { name: 'RCNN + motion, bigram prior', key, model: 'rcnn', options: { ...options, prior: 'bigram', inputs: ['codes', 'motion'] } },
          { name: 'RCNN + motion, spatial prior', key, model: 'rcnn', options: { ...options, prior: 'spatial', inputs: ['codes', 'motion'] } },
        ]
      : []),
  ];
  const trained = await stage(`train-${k}`, () => trainAll(jobs, { coded, config, seed, root }));
  const pixels = args.pixels ? await stage(`pixels-${k}`, () => nextFramePixels(codec, split.all, trained, fit)) : null;
  for (const r of trained) {
    const prior = partsOf(r.model).output.prior;
    rows.push({ name: r.name, bits: r4(r.model.evaluate(test).bitsPerCode), training: r.train, ...(prior?.strength ? { strength: Array.from(prior.strength, r4) } : {}) });
    r.model.dispose?.();
  }
  const changed = (() => {
    const n = test.rows * test.cols;
    let c = 0;
    for (let i = n; i < test.codes.length; i++) if (test.codes[i] !== test.codes[i - n]) c++;
    return r4(c / (test.codes.length - n));
  })();
  perK.push({ k, grid: [test.rows, test.cols], testFrames: test.frames, changedShare: changed, rows, ...(pixels ? { pixels } : {}) });
  process.stderr.write(`bench: K = ${k}: ${rows.map((r) => `${r.name} ${r.bits}`).join(', ')}\n`);
}

/**
 * Next-frame pixels as bench/future.mjs scores them: test targets every evalStride frames, each network's skip,
 * mbr and mean decoders with alphas fitted on its own validation distributions; per network its mean row and its
 * best sharp row by PSNR, beside copy-last. One change from future.mjs: while the alphas are fitted, each
 * network's counted prior is the one counted on the fit frames only (same smoothing), so the validation frames are
 * as unseen to the prior as the test frames will be (phase 2 recounts it on all training frames, validation
 * included; a spatial prior that has counted a frame's exact contexts predicts that frame's flicker far better
 * than any new frame's, and alphas fitted on it do not transfer). The test frames are scored with the full prior.
 */
async function nextFramePixels(codec, codes, trained, fitCodes) {
  const geometry = codes.geometry;
  const cells = codes.rows * codes.cols;
  const frame = (t) => sliceVideo(raw, t);
  const presentAt = (t) => codes.codes.subarray((t - 1) * cells, t * cells);
  const context = (t) => sliceCodes(codes, Math.max(0, t - config.contextFrames), t);
  const valTargets = spread(nFit + 2, nTrain - 1, config.alphaTargets);
  const nets = trained.map((r) => {
    const samples = withFitPrior(r.model, fitCodes, () => valTargets.map((t) => ({ dist: r.model.predictDistribution(context(t)), present: presentAt(t), reference: frame(t - 1), truth: frame(t) })));
    const alphas = fitAlphas(codec, geometry, samples, config).alphas;
    return { name: r.name, model: r.model, alphas, plan: decoderPlan(alphas, 1).filter((p) => p.alpha !== 1 || alphas[p.decoder] === 1) };
  });
  const methods = {};
  for (let t = nTrain + 2; t < raw.frames; t += config.evalStride) {
    const truth = frame(t);
    const last = frame(t - 1);
    const mask = motionMask(last, truth, { threshold: config.motionThreshold });
    (methods['copy-last'] ??= []).push(scoreAll(copyLast(last), truth, mask));
    for (const net of nets) {
      const dist = net.model.predictDistribution(context(t));
      for (const p of net.plan) {
        const v = codec.decodeDistribution(dist, { geometry, reference: last, present: presentAt(t), decoder: p.decoder, alpha: p.alpha, topM: config.decoderTopM });
        (methods[`${net.name}: ${p.name}`] ??= []).push(scoreAll(v, truth, mask));
      }
    }
  }
  const rows = addRelativeMse(Object.entries(methods).map(([method, list]) => ({ method, ...meanRows(list) })));
  const byName = Object.fromEntries(rows.map((r) => [r.method, r]));
  const pick = (net, list) => list.map((p) => byName[`${net.name}: ${p.name}`]).reduce((a, b) => (b.psnr > a.psnr ? b : a));
  return {
    copyLast: byName['copy-last'],
    nets: nets.map((net) => ({
      name: net.name,
      alphas: net.alphas,
      mean: pick(net, net.plan.filter((p) => p.decoder === 'mean')),
      sharp: pick(net, net.plan.filter((p) => SHARP.has(p.decoder))),
    })),
    rows,
  };
}

const results = { ...resultsHeader('vqvid/priors', 'npm run bench:priors --', root, loadAtStart), config, frames: raw.frames, nFit, nTrain, stages, perK };
const report = [
  `# Counted priors of the copy-aware output (${config.video})`,
  '',
  `Test bits/code (frames ${nTrain}..${raw.frames - 1}); networks: ${config.fit.epochs} x ${config.fit.stepsPerEpoch} steps with early stopping, then ${config.refitSteps} on all training frames.`,
  '',
  table(
    perK[0].rows.map((row, i) => Object.fromEntries([['model', row.name], ...perK.map((p) => [`K = ${p.k}`, p.rows[i].bits])])),
    ['model', ...perK.map((p) => `K = ${p.k}`)],
  ),
  '',
  `Share of test cells whose code changes from one frame to the next: ${perK.map((p) => `${p.changedShare} (K = ${p.k})`).join(', ')}.`,
  '',
  ...perK.filter((p) => p.pixels).flatMap((p) => [
    `Next frame at K = ${p.k} (PSNR in dB, moving pixels in brackets; decoders' alphas fitted on validation):`,
    '',
    table(
      [
        { method: 'copy-last', psnr: p.pixels.copyLast.psnr, moving: p.pixels.copyLast.movingPsnr, ssim: p.pixels.copyLast.ssim, sharpness: p.pixels.copyLast.sharpness },
        ...p.pixels.nets.flatMap((n) => [n.mean, n.sharp].map((r) => ({ method: r.method, psnr: r.psnr, moving: r.movingPsnr, ssim: r.ssim, sharpness: r.sharpness }))),
      ],
      ['method', 'psnr', 'moving', 'ssim', 'sharpness'],
    ),
    '',
  ]),
].join('\n');
writeResults(out, results, report);
process.stdout.write(report);
process.exit(0);
