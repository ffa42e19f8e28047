#!/usr/bin/env node
// Linear probes of the RCNN's features: is it "a strong baseline model for unsupervised feature learning using
// video data" (Ranzato et al. 2014)? The codebook (K = 1024, 8x8 at stride 8) and the RCNN are made exactly as in
// bench/paper.mjs (same configuration, seed and step budget; --model DIR loads a saved one), then frozen. Per-cell
// features of each set below feed two probes fitted on training frames and scored on test frames:
//   change  "does this cell's code change in the next frame": L2 logistic regression, accuracy and ROC AUC;
//   flow    the mean optical flow (u, v) over the cell from frame t to t+1 (Farnebäck, @vqvid/baselines): ridge, R².
// Feature sets: the trained RCNN's hidden state and input drive (RCNN.features), the same architecture untrained
// (same seed), and the raw pixels of the cell and its 4 neighbours at frames t and t-1 (divided by the codec's std).
// The penalty of each probe is chosen on the validation frames, then the probe is refitted on fit + validation.
//   npm run bench:probe -- --video ../shared/data/vtest.avi     (--quick: the synthetic clip in a few minutes)
// Writes DIR/results.json and DIR/report.md. Needs the built packages (npm run build).
import { Rng, sliceCodes, sliceVideo } from '@vqvid/core';
import { RCNN } from '@vqvid/model';
import { binaryAccuracy, fitLogistic, fitRidge, predictProbe, rocAuc, rSquared } from '@vqvid/metrics';
import { opticalFlow } from '@vqvid/baselines';
import { benchConfig, paperSetup, parseBenchArgs, r4, readBenchVideo, resultsHeader, spread, stageTimer, table, writeResults } from './common.mjs';

const { args, root, quick, seed, W, H, out } = parseBenchArgs(
  'npm run bench:probe --',
  'probe',
  { model: { type: 'string' } },
  `[--model DIR]
  --model DIR      a saved RCNN (K = 1024, trained on this video's training part) instead of training one`,
);
const config = benchConfig({ quick, seed, video: args.video ?? 'synthetic:bouncing', W, H });
const probe = {
  k: config.modelKs[0],
  // frames whose cells are candidates (evenly spread), and how many cells are drawn from them (seeded)
  fitFrames: quick ? 16 : 48,
  valFrames: quick ? 4 : 12,
  testFrames: quick ? 8 : 24,
  fitSamples: quick ? 2000 : 5000,
  valSamples: quick ? 1000 : 2500,
  testSamples: quick ? 10000 : 30000,
  // λ = ratio × samples on standardised features, the ratio chosen on the validation frames; a path from the
  // strongest penalty down, each logistic fit starting from the one before
  lambdaRatios: [100, 10, 1, 1e-1, 1e-2, 1e-3],
  // Newton steps: stop when no standardised coefficient moves by more than the tolerance (plenty for a probe)
  maxIterations: 25,
  tolerance: 1e-6,
};
const { stage, stages, loadAtStart } = stageTimer();

const raw = await stage('read', () => readBenchVideo(args, { quick, seed, W, H }));
const nTrain = Math.floor(raw.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
const frame = (t) => sliceVideo(raw, t);

// ---- codebook, codes and model: as bench/paper.mjs makes them ----
const { codec, coded, model, training } = await paperSetup(raw, { k: probe.k, config, seed, root, stage, nFit, nTrain, modelDir: args.model });
const codes = [...coded.values()][0].all;
const { rows, cols, geometry } = codes;
const cells = rows * cols;

// ---- samples: (frame t, cell) pairs whose next frame lies in the same part (fit, validation, test) ----
const rng = new Rng(seed);
const parts = {
  fit: draw(spread(1, nFit - 2, probe.fitFrames), probe.fitSamples),
  val: draw(spread(nFit, nTrain - 2, probe.valFrames), probe.valSamples),
  test: draw(spread(nTrain, raw.frames - 2, probe.testFrames), probe.testSamples),
};
/** Up to `count` (t, cell) pairs drawn without replacement from every cell of `frames`. */
function draw(frames, count) {
  const all = Int32Array.from({ length: frames.length * cells }, (_, j) => j);
  const picked = count < all.length ? rng.shuffle(all).subarray(0, count).sort() : all;
  return { frames, t: Int32Array.from(picked, (j) => frames[Math.floor(j / cells)]), cell: Int32Array.from(picked, (j) => j % cells), count: picked.length };
}
const probeFrames = [...new Set(Object.values(parts).flatMap((p) => p.frames))].sort((a, b) => a - b);

// ---- targets: code change and mean flow per cell ----
const codeAt = (t, i) => codes.codes[t * cells + i];
const targets = await stage('flow', () => {
  const flowOf = new Map(probeFrames.map((t) => [t, cellMeans(opticalFlow(frame(t), frame(t + 1)))]));
  return Object.fromEntries(Object.entries(parts).map(([name, p]) => {
    const change = Uint8Array.from(p.t, (t, s) => (codeAt(t + 1, p.cell[s]) !== codeAt(t, p.cell[s]) ? 1 : 0));
    const uv = new Float64Array(p.count * 2);
    for (let s = 0; s < p.count; s++) uv.set(flowOf.get(p.t[s]).subarray(p.cell[s] * 2, p.cell[s] * 2 + 2), s * 2);
    return [name, { change, flow: { data: uv, count: p.count, dims: 2 } }];
  }));
});
/** Mean (u, v) of a flow field over each cell's patch (the part inside the frame), [cells, 2]. */
function cellMeans(flow) {
  const { patch, stride } = geometry;
  const out = new Float64Array(cells * 2);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    let u = 0;
    let v = 0;
    let n = 0;
    for (let y = r * stride; y < Math.min(flow.height, r * stride + patch); y++) for (let x = c * stride; x < Math.min(flow.width, c * stride + patch); x++) {
      u += flow.u[y * flow.width + x];
      v += flow.v[y * flow.width + x];
      n++;
    }
    out[(r * cols + c) * 2] = u / n;
    out[(r * cols + c) * 2 + 1] = v / n;
  }
  return out;
}

// ---- feature sets: each gives the feature rows of the three parts ----
const lastFrame = probeFrames.at(-1);
/** Rows of RCNN.features for every part (the features of frames 0..lastFrame are computed once, then dropped). */
function modelRows(m, layer) {
  const f = m.features(sliceCodes(codes, 0, lastFrame + 1), { layer });
  return gather(f.dims, (t, i) => f.data.subarray((t * cells + i) * f.dims, (t * cells + i + 1) * f.dims));
}
/** The cell's patch and its 4 neighbours' (zero outside the grid) at frames t and t-1, in the codes' scale. */
function pixelRows() {
  const dim = geometry.patch * geometry.patch;
  const patches = new Map();
  const patchesAt = (t) => patches.get(t) ?? patches.set(t, codec.referencePatches(frame(t), geometry)).get(t);
  const around = [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]];
  const row = new Float32Array(2 * around.length * dim);
  return gather(row.length, (t, i) => {
    row.fill(0);
    const r = Math.floor(i / cols);
    const c = i % cols;
    [t, t - 1].forEach((tt, back) => around.forEach(([dr, dc], j) => {
      if (r + dr < 0 || r + dr >= rows || c + dc < 0 || c + dc >= cols) return;
      const at = (r + dr) * cols + c + dc;
      row.set(patchesAt(tt).subarray(at * dim, (at + 1) * dim), (back * around.length + j) * dim);
    }));
    return row;
  });
}
function gather(dims, rowOf) {
  return Object.fromEntries(Object.entries(parts).map(([name, p]) => {
    const data = new Float32Array(p.count * dims);
    for (let s = 0; s < p.count; s++) data.set(rowOf(p.t[s], p.cell[s]), s * dims);
    return [name, { data, count: p.count, dims }];
  }));
}

// ---- probes: λ chosen on validation, refitted on fit + validation, scored on test ----
const concat = (a, b) => {
  const data = new Float32Array(a.data.length + b.data.length);
  data.set(a.data);
  data.set(b.data, a.data.length);
  return { data, count: a.count + b.count, dims: a.dims };
};
const concatTyped = (a, b, Type) => {
  const outArr = new Type(a.length + b.length);
  outArr.set(a);
  outArr.set(b, a.length);
  return outArr;
};
const column = (m, o) => Float64Array.from({ length: m.count }, (_, s) => m.data[s * m.dims + o]);
function flowR2(pred, truth) {
  const [u, v] = [0, 1].map((o) => rSquared(column({ data: pred, count: truth.count, dims: 2 }, o), column(truth, o)));
  return { r2u: u, r2v: v, r2: (u + v) / 2 };
}
/**
 * Fits with every λ ratio on fit (`fitWith(x, y, λ, previous fit)`), keeps the best by `score` on validation,
 * refits on fit + validation starting from it.
 */
function tuned(fitWith, score, x, y, joinY) {
  let previous;
  const tried = probe.lambdaRatios.map((ratio) => {
    previous = fitWith(x.fit, y.fit, ratio * x.fit.count, previous);
    return { ratio, val: score(previous, x.val, y.val), fitted: previous };
  });
  const best = tried.reduce((a, b) => (b.val > a.val ? b : a));
  const all = concat(x.fit, x.val);
  return { probe: fitWith(all, joinY(y.fit, y.val), best.ratio * all.count, best.fitted), ratio: best.ratio, tried };
}
function probeAll(x) {
  const logistic = (xs, labels, lambda, init) => fitLogistic(xs, labels, { lambda, init, maxIterations: probe.maxIterations, tolerance: probe.tolerance });
  const ridge = (xs, flow, lambda) => fitRidge(xs, flow, { lambda });
  const labels = { fit: targets.fit.change, val: targets.val.change };
  const c = tuned(logistic, (p, xs, lab) => rocAuc(predictProbe(p, xs), lab), x, labels, (a, b) => concatTyped(a, b, Uint8Array));
  const pc = predictProbe(c.probe, x.test);
  const flows = { fit: targets.fit.flow, val: targets.val.flow };
  const f = tuned(ridge, (p, xs, uv) => flowR2(predictProbe(p, xs), uv).r2, x, flows, concat);
  const fr = flowR2(predictProbe(f.probe, x.test), targets.test.flow);
  return {
    dims: x.fit.dims,
    change: { accuracy: r4(binaryAccuracy(pc, targets.test.change)), auc: r4(rocAuc(pc, targets.test.change)), lambdaRatio: c.ratio, valAuc: c.tried.map((r) => r4(r.val)), newtonSteps: c.probe.iterations, converged: c.probe.converged },
    flow: { r2: r4(fr.r2), r2u: r4(fr.r2u), r2v: r4(fr.r2v), lambdaRatio: f.ratio, valR2: f.tried.map((r) => r4(r.val)) },
  };
}

const untrained = new RCNN(model.config);
const sets = [
  ['rcnn hidden', () => modelRows(model, 'hidden'), 'recurrent state after frames 0..t (what predicts frame t+1)'],
  ['rcnn input-drive', () => modelRows(model, 'input-drive'), 'conv stage over frame t\'s codes, before the recurrence'],
  ['untrained rcnn hidden', () => modelRows(untrained, 'hidden'), 'the same architecture and seed, no training'],
  ['raw pixels', pixelRows, 'the cell and its 4 neighbours at frames t and t-1 (8x8 patches, divided by the codec std)'],
];
const probes = [];
for (const [features, rowsOf, what] of sets) {
  const x = await stage(`features: ${features}`, rowsOf);
  probes.push({ features, what, ...(await stage(`probes: ${features}`, () => probeAll(x))) });
}
untrained.dispose();

const changeRate = (p) => p.change.reduce((s, v) => s + v, 0) / p.change.length;
const results = {
  ...resultsHeader('vqvid/linear-probe', 'npm run bench:probe --', root, loadAtStart),
  config: { ...config, probe },
  data: {
    frames: raw.frames, width: raw.width, height: raw.height, trainFrames: nTrain, fitFrames: nFit, testFrames: raw.frames - nTrain, rows, cols,
    samples: Object.fromEntries(Object.entries(parts).map(([name, p]) => [name, { frames: p.frames.length, cells: p.count }])),
    // the chance levels: a probe always saying "no change" has accuracy 1 − changeRate; R² 0 is the mean flow
    changeRate: Object.fromEntries(Object.keys(parts).map((name) => [name, r4(changeRate(targets[name]))])),
    testFlowStd: [0, 1].map((o) => r4(std(column(targets.test.flow, o)))),
  },
  training,
  probes,
  stages,
};
writeResults(out, results, markdown(results));
console.log(JSON.stringify({ out, probes: probes.map((p) => ({ features: p.features, changeAuc: p.change.auc, flowR2: p.flow.r2 })) }));
process.exit(0);

function std(a) {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
}
function markdown(r) {
  const rowsOut = r.probes.map((p) => ({ features: p.features, dims: p.dims, accuracy: p.change.accuracy, auc: p.change.auc, r2: p.flow.r2, r2u: p.flow.r2u, r2v: p.flow.r2v, what: p.what }));
  const s = r.data.samples;
  return `# vqvid: linear probes of RCNN features on ${r.config.video}

Command: \`${r.command}\` · commit ${r.commit} · ${r.date}
Machine: ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}
Data: ${r.data.frames} frames at ${r.data.width}x${r.data.height}; ${r.data.trainFrames} train / ${r.data.testFrames} test; K = ${r.config.probe.k}, 8x8 patches at stride 8 (${r.data.rows}x${r.data.cols} cells). Model: ${r.training.loaded ? `loaded from ${r.training.loaded}` : `trained as bench/paper.mjs trains it (${r.training.steps} + ${r.training.refitSteps} steps)`}, then frozen.

Probes on per-cell features of frame t: **change** = does the cell's code change at t+1 (L2 logistic regression; accuracy at p ≥ 0.5 and ROC AUC), **flow** = mean Farnebäck flow (u, v) over the cell from t to t+1 (ridge; R², mean of u and v). Fitted on ${s.fit.cells} cells of ${s.fit.frames} fit frames, the penalty λ = ratio × samples (ratios ${r.config.probe.lambdaRatios.join(', ')}, standardised features) chosen on ${s.val.cells} cells of ${s.val.frames} validation frames, refitted on both, scored on ${s.test.cells} cells of ${s.test.frames} test frames.
Chance: the code changes in ${(100 * r.data.changeRate.test).toFixed(1)}% of test cells (always saying "no change" scores accuracy ${(1 - r.data.changeRate.test).toFixed(3)}, AUC 0.5); R² 0 = predicting the mean flow (test flow std u ${r.data.testFlowStd[0]}, v ${r.data.testFlowStd[1]} pixels/frame).

${table(rowsOut, ['features', 'dims', 'accuracy', 'auc', 'r2', 'r2u', 'r2v', 'what'])}
Stages (wall seconds): ${Object.entries(r.stages).map(([n, x]) => `${n} ${x.seconds}`).join(', ')}
`;
}
