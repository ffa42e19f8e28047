// Use a trained RCNN as a feature extractor: per-cell hidden states, and a linear probe on them.
//   node examples/pipeline/features-probe.mjs [video-path] [--frames 32] [--steps 40]
// Without a path it uses the built-in synthetic clip (nothing to download). The probe asks "does this cell's
// code change in the next frame?" (logistic regression), fitted on the first frames, scored on the last ones.
import { parseArgs } from 'node:util';
import { sliceCodes } from '@vqvid/core';
import { binaryAccuracy, fitLogistic, predictProbe, rocAuc } from '@vqvid/metrics';
import { RCNN, initBackend } from '@vqvid/model';
import { PatchCodec } from '@vqvid/quantize';
import { readVideo, syntheticVideo } from '@vqvid/video';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { frames: { type: 'string', default: '32' }, steps: { type: 'string', default: '40' } },
});
const frames = Number(values.frames);
const video = positionals[0]
  ? await readVideo(positionals[0], { maxFrames: frames, width: 96 })
  : syntheticVideo({ kind: 'bouncing', width: 96, height: 64, frames, seed: 1 });
const split = Math.floor(video.frames * 0.75); // frames before it train the model and the probe

const codec = await PatchCodec.fit(video, { k: 32, patch: 8, seed: 1, maxIter: 20 });
const codes = await codec.encode(video);
await initBackend();
const model = new RCNN({ k: 32, hidden: 32, embedDim: 16, seed: 1 });
const steps = Number(values.steps);
await model.fit(sliceCodes(codes, 0, split), { epochs: Math.max(1, steps / 5), stepsPerEpoch: 5, batch: 4 });

// hidden state h_t of every cell after frames 0..t: [frames, rows, cols, dims]
const features = model.features(codes, { layer: 'hidden' });
const cells = codes.rows * codes.cols;
/** Features and labels ("the code changes at t+1") of every cell of frames [from, to). */
function samples(from, to) {
  const count = (to - from) * cells;
  const x = { data: features.data.subarray(from * cells * features.dims, to * cells * features.dims), count, dims: features.dims };
  const labels = Uint8Array.from({ length: count }, (_, s) => (codes.codes[from * cells + s + cells] !== codes.codes[from * cells + s] ? 1 : 0));
  return { x, labels };
}
const train = samples(0, split - 1);
const test = samples(split, video.frames - 1);
const probe = fitLogistic(train.x, train.labels, { lambda: 1 });
const p = predictProbe(probe, test.x);
const rate = test.labels.reduce((a, b) => a + b, 0) / test.labels.length;
console.log(`features: ${features.frames} frames x ${features.rows}x${features.cols} cells x ${features.dims} dims`);
console.log(`probe "code changes next frame" on ${test.labels.length} test cells: AUC ${rocAuc(p, test.labels).toFixed(3)}, accuracy ${binaryAccuracy(p, test.labels).toFixed(3)} (always "no change": ${(1 - rate).toFixed(3)})`);
model.dispose();
codec.dispose();
