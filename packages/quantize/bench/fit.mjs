#!/usr/bin/env node
// Fit benchmark on a real video: patches sampled from the first 80% of the frames (train), reconstruction
// PSNR of the last 20% (test: encode -> decode -> average overlapping patches), for several K.
// Usage: node bench/fit.mjs --video PATH [--quick] [--k 256,1024,4096,10000] [--n 200000] [--frames 200]
//        [--size 8] [--stride 4] [--maxIter 20] [--batchSize B] [--backend auto] [--algorithm auto] [--seed 1]
import { extractPatches, reassemble, samplePatches } from '@vqvid/patches';
import { Quantizer } from '../dist/index.mjs';
import { opt, quick } from './args.mjs';
import { height, loadSplit, width } from './video.mjs';

const video = opt('video', '/work/shared/data/vtest.avi');
const ks = opt('k', quick ? '256,1024' : '256,1024,4096,10000').split(',').map(Number);
const n = Number(opt('n', quick ? 20000 : 200000));
const frames = Number(opt('frames', quick ? 40 : 200));
const size = Number(opt('size', 8));
const stride = Number(opt('stride', 4));
const maxIter = Number(opt('maxIter', quick ? 5 : 20));
const batchSize = opt('batchSize') ? Number(opt('batchSize')) : undefined;
const backend = opt('backend', 'auto');
const algorithm = opt('algorithm', 'auto');
const seed = Number(opt('seed', 1));

const { raw, std, cut, train, test } = await loadSplit(video, frames);
const sample = samplePatches(train, { size, stride, count: n, seed });
const testGrid = extractPatches(test, { size, stride });

const results = [];
for (const k of ks) {
  if (k > sample.count) {
    results.push({ k, skipped: `k exceeds the ${sample.count} training patches` });
    continue;
  }
  const q = new Quantizer({ k, seed, maxIter, backend, batchSize, algorithm });
  let t = performance.now();
  await q.fit(sample); // a PatchSample: rows of dim floats plus the patch size
  const fitSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const codes = await q.encode(testGrid);
  const back = reassemble(q.decode(codes, { stride }), { width: test.width, height: test.height });
  const codecSeconds = (performance.now() - t) / 1000;
  let se = 0;
  for (let i = 0; i < test.data.length; i++) se += ((back.data[i] - test.data[i]) * std) ** 2;
  const mse = se / test.data.length;
  results.push({
    k, backend: q.backend, fitSeconds: +fitSeconds.toFixed(2), iterations: q.iterations,
    inertiaPerPatch: +(q.inertia / sample.count).toFixed(4), emptyClusters: q.clusterSizes.filter((c) => c === 0).length,
    skipped: q.skipped.map((v) => +v.toFixed(3)),
    encodeDecodeSeconds: +codecSeconds.toFixed(2), testPsnrDb: +(10 * Math.log10((255 * 255) / mse)).toFixed(2),
  });
  q.dispose();
}
console.log(JSON.stringify({
  bench: 'quantize/fit',
  video, frames: raw.frames, trainFrames: cut, testFrames: raw.frames - cut, width, height, std: +std.toFixed(3),
  patch: { size, stride }, trainPatches: sample.count, testPatches: testGrid.frames * testGrid.rows * testGrid.cols,
  maxIter, batchSize: batchSize ?? null, results,
}, null, 2));
process.exit(0);
