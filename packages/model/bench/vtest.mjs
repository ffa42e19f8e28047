// Test bits/code of the rCNN and the per-cell RNN (plus unigram/bigram baselines when @vqvid/baselines is
// built) on a real video: 320x240 gray, std-normalised, 8x8 patches (40x30 cells), k-means codes, first 80%
// of the frames for training (the last eighth of those for validation), last 20% for testing.
// Usage: node bench/vtest.mjs --video PATH [--quick] [--minutes M] [--k K] [--frames N]
// Needs the built dist of @vqvid/model, video, patches, quantize (npm run build).
import { initBackend, RCNN, RNN } from '../dist/index.mjs';
import { sliceCodes } from '@vqvid/core';
import { readVideo, normalize } from '@vqvid/video';
import { extractPatches } from '@vqvid/patches';
import { Quantizer } from '@vqvid/quantize';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const quick = args.includes('--quick');
const video = arg('video');
if (!video) {
  console.error('usage: node bench/vtest.mjs --video PATH [--quick] [--minutes M] [--k K] [--frames N]');
  process.exit(2);
}
const minutes = Number(arg('minutes', quick ? 1 : 20));
const k = Number(arg('k', quick ? 256 : 1024));
const maxFrames = arg('frames', quick ? 60 : undefined);
const model = quick ? { embedDim: 32, hidden: 32, dropout: 0.25 } : { embedDim: 64, hidden: 64, dropout: 0.25 };
const fitOpts = { bptt: 6, batch: quick ? 2 : 4, crop: 16, epochs: 1000, stepsPerEpoch: quick ? 5 : 25, lr: 1e-2, lrDecay: 0.97, patience: 4 };

const t0 = performance.now();
const note = (msg) => console.error(`[vtest ${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const backend = await initBackend();
const raw = await readVideo(video, { width: 320, height: 240, ...(maxFrames ? { maxFrames: Number(maxFrames) } : {}) });
note(`read ${raw.frames} frames ${raw.width}x${raw.height}`);
const { video: norm } = normalize(raw);
const grid = extractPatches(norm, { size: 8 });
const q = new Quantizer({ k, seed: 1, batchSize: 4096, maxIter: quick ? 30 : 200 });
await q.fit(grid);
const codes = await q.encode(grid);
note(`quantized: ${codes.rows}x${codes.cols} cells, k = ${k}`);
q.dispose?.();
const nTrain = Math.floor(codes.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
const train = sliceCodes(codes, 0, nFit);
const val = sliceCodes(codes, nFit, nTrain);
const test = sliceCodes(codes, nTrain, codes.frames);

// Each model gets half of the time budget (timeLimit: the best validation weights are kept).
async function trainAndTest(Model, name) {
  const m = new Model({ k, seed: 1, softmax: 'factored', ...model });
  const start = performance.now();
  const r = await m.fit(train, { ...fitOpts, validation: val, timeLimit: (minutes * 60) / 2 });
  note(`${name}: ${r.steps} steps, ${r.stopped}`);
  const e = m.evaluate(test);
  m.dispose();
  return { name, bitsPerCode: e.bitsPerCode, perplexity: e.perplexity, epochs: r.epochs.length, steps: r.steps, stopped: r.stopped, trainSeconds: (performance.now() - start) / 1000 };
}

const results = [await trainAndTest(RCNN, 'rcnn'), await trainAndTest(RNN, 'rnn')];
try {
  const { UnigramModel, BigramModel } = await import('@vqvid/baselines');
  for (const [name, M] of [['unigram', UnigramModel], ['bigram', BigramModel]]) {
    const e = new M().fit(sliceCodes(codes, 0, nTrain)).evaluate(test);
    results.push({ name, bitsPerCode: e.bitsPerCode, perplexity: e.perplexity });
  }
} catch (e) {
  results.push({ name: 'baselines', skipped: String(e.message ?? e) });
}
console.log(JSON.stringify({
  bench: 'model/vtest', video, quick, backend, k, grid: { rows: codes.rows, cols: codes.cols, frames: codes.frames },
  split: { train: nFit, validation: nTrain - nFit, test: codes.frames - nTrain }, model, fit: fitOpts, minutes,
  results, seconds: (performance.now() - t0) / 1000,
}, null, 2));
