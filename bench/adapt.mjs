#!/usr/bin/env node
// Online gate adaptation (the RCNN's `adapt`), measured in test bits/code beside the counted n-grams:
//   npm run bench:adapt -- [--quick] [--video ../shared/data/tree.avi] [--k 1024,10000] [--model DIR] [--out DIR]
// Per K: the codebook and the RCNN made as bench/run.mjs makes them (8x8 at stride 8, the main bench's network
// and step budget: phase 1 with early stopping on the validation frames, then refitSteps on all training frames),
// or the RCNN loaded from `--model DIR-<K>` when that folder exists (and saved there when it does not). The test
// frames are scored with the gate as trained (offsets 0), with the model's default adaptation (`evaluate`), with
// a grid of decays and strengths (`OnlineGateOffsets` over the same gate terms), and with offsets fitted on the
// test frames themselves (fitGateOffsets: the best any fixed offsets could do, not reachable online); beside them
// each mixture component alone and the n-grams (Witten-Bell strengths tuned on the validation frames, counts of
// all training frames). Writes DIR/results.json and DIR/report.md. Needs the built packages (npm run build).
import { existsSync } from 'node:fs';
import { BigramModel, SpatialNgramModel } from '@vqvid/baselines';
import { sliceVideo } from '@vqvid/core';
import { initBackend, RCNN } from '@vqvid/model';
import { DEFAULT_GATE_ADAPTATION, fitGateOffsets, gateOffsetObjective, OnlineGateOffsets, partsOf } from '@vqvid/model/internals';
import { PatchCodec } from '@vqvid/quantize';
import { benchConfig, parseBenchArgs, r4, readBenchVideo, resultsHeader, splitCodes, stageTimer, table, trainAll, writeResults } from './common.mjs';

const { args, root, quick, seed, W, H, out } = parseBenchArgs(
  'npm run bench:adapt --',
  'adapt',
  { k: { type: 'string' }, model: { type: 'string' } },
  '[--k 1024,10000] [--model DIR]\n  --k LIST         codebook sizes (default 1024,10000; 256 with --quick)\n  --model DIR      load the RCNN of K from DIR-<K> when it exists, else train it and save it there',
);
const config = benchConfig({ quick, seed, video: args.video ?? 'synthetic:bouncing', W, H });
const ks = (args.k ?? config.modelKs.join(',')).split(',').map(Number);
if (ks.some((k) => !Number.isInteger(k) || k < 2)) {
  process.stderr.write(`bench: --k wants a list of integers ≥ 2, got ${args.k}\n`);
  process.exit(2);
}
const ADAPT_FROM = 2; // as @vqvid/model's parts.ts: the frames predicted from a state that has read ≥ 2 frames
const grid = { decay: [0.5, 0.7, 0.8, 0.9, 0.97], strength: [1, 30, 1000] };
const { stage, stages, loadAtStart } = stageTimer();
const raw = await stage('read', () => readBenchVideo(args, { quick, seed, W, H }));
const nTrain = Math.floor(raw.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
await initBackend();

/** Mean bits of cells [a, b) of the gate terms with offsets d. */
const bitsOf = (t, m, a, b, d) => gateOffsetObjective(t.logits.subarray(a * m, b * m), t.comps.subarray(a * m, b * m), m, d).nll / Math.LN2;

/** Test bits with offsets adapted online over the test frames as the model does (frame t scored, then observed). */
function online(t, m, cellsPerFrame, adaptation) {
  const o = new OnlineGateOffsets(m, adaptation);
  const frames = t.logits.length / m / cellsPerFrame;
  let sum = 0;
  for (let f = 0; f < frames; f++) {
    sum += bitsOf(t, m, f * cellsPerFrame, (f + 1) * cellsPerFrame, o.offsets) * cellsPerFrame;
    const at = [f * cellsPerFrame * m, (f + 1) * cellsPerFrame * m];
    if (f + 1 >= ADAPT_FROM) o.observe(t.logits.slice(...at), t.comps.slice(...at));
  }
  return { bits: sum / (frames * cellsPerFrame), offsets: Array.from(o.offsets, r4) };
}

const perK = [];
for (const k of ks) {
  const key = `${k}/${config.patch}`;
  const codec = await stage(`quantize-${k}`, () => PatchCodec.fit(sliceVideo(raw, 0, nTrain), { k, stride: config.patch, seed, maxIter: config.quantizeMaxIter, sample: config.quantizeSample }));
  const split = splitCodes(await codec.encode(raw), nFit, nTrain);
  const { fit, val, train, test } = split;
  const dir = args.model ? `${args.model}-${k}` : null;
  const { model, training } = await stage(`model-${k}`, async () => {
    if (dir && existsSync(dir)) return { model: await RCNN.load(dir), training: { loaded: dir } };
    const { kernel, ...shared } = config.model;
    const job = { name: 'RCNN', key, model: 'rcnn', options: { k, softmax: k <= 1024 ? 'full' : 'factored', ...shared, kernel } };
    const [r] = await trainAll([job], { coded: new Map([[key, split]]), config, seed, root });
    if (dir) await r.model.save(dir);
    return { model: r.model, training: r.train };
  });
  const tuned = (Model) => new Model({ strength: new Model().fit(fit, { validation: val }).strength_ }).fit(train);
  const parts = partsOf(model);
  const m = parts.output.components.length;
  const terms = parts.gateTerms(test);
  const cells = test.rows * test.cols;
  const n = terms.logits.length / m;
  const zero = new Float64Array(m);
  const rows = [
    { model: 'same-cell bigram (strength tuned)', bits: r4(tuned(BigramModel).evaluate(test).bitsPerCode) },
    { model: 'spatial n-gram (strengths tuned)', bits: r4(tuned(SpatialNgramModel).evaluate(test).bitsPerCode) },
  ];
  parts.output.components.forEach((c, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s -= Math.max(terms.comps[i * m + j], -1e3);
    if (c !== 'copy') rows.push({ model: `RCNN component alone: ${c}`, bits: r4(s / n / Math.LN2) });
  });
  rows.push({ model: 'RCNN, gate as trained (adapt: false)', bits: r4(bitsOf(terms, m, 0, n, zero)) });
  // adapt: true, as the model's logProb runs it (the same gate terms; a model saved with adapt on scores this in evaluate)
  const adapted = online(terms, m, cells, model.config.adapt ?? DEFAULT_GATE_ADAPTATION).bits;
  rows.push({ model: 'RCNN, adapted (adapt: true)', bits: r4(adapted) });
  const best = fitGateOffsets(terms.logits, terms.comps, m);
  rows.push({ model: 'RCNN, offsets fitted on the test frames (not reachable online)', bits: r4(best.nllAfter / Math.LN2), offsets: Array.from(best.offsets, r4) });
  const variants = [];
  for (const decay of grid.decay) for (const strength of grid.strength) variants.push({ decay, strength, ...online(terms, m, cells, { decay, strength }) });
  for (const v of variants) v.bits = r4(v.bits);
  const prior = parts.output.prior;
  perK.push({ k, testFrames: test.frames, components: parts.output.components, priorStrength: prior?.strength ? Array.from(prior.strength, r4) : null, training, rows, variants });
  process.stderr.write(`bench: K = ${k}: ${rows.map((r) => `${r.model} ${r.bits}`).join(', ')}\n`);
  model.dispose();
}

const results = { ...resultsHeader('vqvid/adapt', 'npm run bench:adapt --', root, loadAtStart), config, frames: raw.frames, nFit, nTrain, adaptFrom: ADAPT_FROM, stages, perK };
const report = [
  `# Online gate adaptation (${config.video})`,
  '',
  `Test bits/code (frames ${nTrain}..${raw.frames - 1}); the RCNN trained ${config.fit.epochs} x ${config.fit.stepsPerEpoch} steps with early stopping, then ${config.refitSteps} on all training frames.`,
  '',
  table(
    perK[0].rows.map((row, i) => Object.fromEntries([['model', row.model], ...perK.map((p) => [`K = ${p.k}`, p.rows[i].bits])])),
    ['model', ...perK.map((p) => `K = ${p.k}`)],
  ),
  '',
  'Online adaptation over the test frames by decay and strength (bits/code):',
  '',
  table(
    perK[0].variants.map((v, i) => Object.fromEntries([['decay', v.decay], ['strength', v.strength], ...perK.map((p) => [`K = ${p.k}`, p.variants[i].bits])])),
    ['decay', 'strength', ...perK.map((p) => `K = ${p.k}`)],
  ),
  '',
];
writeResults(out, results, report.join('\n'));
