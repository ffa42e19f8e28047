// Train a small recurrent convolutional network on patch codes and predict the next frames.
//   node examples/pipeline/predict-next.mjs [video-path] [--frames 30] [--steps 40] [--out dir]
// Without a path it uses the built-in synthetic clip (nothing to download).
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import { copyLast } from '@vqvid/baselines';
import { psnr } from '@vqvid/metrics';
import { RCNN, initBackend } from '@vqvid/model';
import { PatchCodec } from '@vqvid/quantize';
import { frameStrip, readVideo, syntheticVideo, writePng } from '@vqvid/video';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { frames: { type: 'string', default: '30' }, steps: { type: 'string', default: '40' }, out: { type: 'string' } },
});
const frames = Number(values.frames);
const out = values.out ?? join(tmpdir(), 'vqvid-examples', 'predict-next');
mkdirSync(out, { recursive: true });

const video = positionals[0]
  ? await readVideo(positionals[0], { maxFrames: frames, width: 96 })
  : syntheticVideo({ kind: 'bouncing', width: 64, height: 64, frames, seed: 1 });
const test = 4; // the last frames are held out and predicted
const split = video.frames - test;

const codec = await PatchCodec.fit(video, { k: 32, patch: 8, seed: 1, maxIter: 20 });
const codes = await codec.encode(video);

await initBackend(); // tfjs on wasm (or cpu)
const model = new RCNN({ k: 32, hidden: 32, embedDim: 16, seed: 1 });
const steps = Number(values.steps);
const fit = await model.fit(sliceCodes(codes, 0, split), { epochs: Math.max(1, steps / 5), stepsPerEpoch: 5, batch: 4 });
console.log(`trained ${fit.steps} steps, last epoch loss ${(fit.epochs.at(-1).loss / Math.LN2).toFixed(3)} bits/code`);
console.log(`test bits/code: ${model.evaluate(sliceCodes(codes, split - 1, video.frames)).bitsPerCode.toFixed(3)} (uniform: ${Math.log2(32)})`);

// Predict the held-out frames from the training frames only, then turn codes back into pixels.
const future = model.generate(sliceCodes(codes, 0, split), test);
const predicted = codec.decode({ ...future, geometry: codes.geometry }); // generated codes continue the clip's grid
const truth = sliceVideo(video, split, video.frames);
const copy = copyLast(sliceVideo(video, split - 1));
console.log(`PSNR of the next frame: model ${psnr(sliceVideo(predicted, 0), sliceVideo(truth, 0)).toFixed(2)} dB, copy-last ${psnr(copy, sliceVideo(truth, 0)).toFixed(2)} dB`);

await writePng(join(out, 'prediction.png'), frameStrip([{ label: 'truth', video: truth }, { label: 'model', video: predicted }], { scale: 2 }));
await model.save(join(out, 'model'));
model.dispose();
codec.dispose();
console.log(`wrote prediction.png and model/ in ${out}`);
