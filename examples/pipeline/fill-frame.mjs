// Remove a frame, fill it with a trained model, and compare with linear and optical-flow interpolation.
//   node examples/pipeline/fill-frame.mjs [video-path] [--frames 24] [--steps 30]
// Without a path it uses the built-in synthetic clip (nothing to download). Prints a table.
import { parseArgs } from 'node:util';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import { flowInterpolate, linearInterpolate } from '@vqvid/baselines';
import { evaluateFrames } from '@vqvid/metrics';
import { RCNN, initBackend } from '@vqvid/model';
import { PatchCodec } from '@vqvid/quantize';
import { readVideo, syntheticVideo } from '@vqvid/video';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { frames: { type: 'string', default: '24' }, steps: { type: 'string', default: '30' } },
});
const frames = Number(values.frames);
const video = positionals[0]
  ? await readVideo(positionals[0], { maxFrames: frames, width: 96 })
  : syntheticVideo({ kind: 'bouncing', width: 64, height: 64, frames, seed: 2 });
const t = video.frames - 3; // the missing frame; frames after t+1 are never seen

const codec = await PatchCodec.fit(video, { k: 32, patch: 8, seed: 1, maxIter: 20 });
const codes = await codec.encode(video);

await initBackend();
const model = new RCNN({ k: 32, hidden: 32, embedDim: 16, seed: 1 });
const steps = Number(values.steps);
await model.fit(sliceCodes(codes, 0, t), { epochs: Math.max(1, steps / 5), stepsPerEpoch: 5, batch: 4 });

// The model picks the codes of frame t that make frames t and t+1 most likely given the past.
const filled = model.fill(sliceCodes(codes, 0, t), sliceCodes(codes, t + 1));
// The model's codes come without geometry: they sit on the grid of the codes they were filled from.
const decode = (c) => codec.decode({ ...c, geometry: codes.geometry });
const truth = sliceVideo(video, t);
const before = sliceVideo(video, t - 1);
const after = sliceVideo(video, t + 1);
const methods = {
  'RCNN fill': decode(filled),
  'codebook (ceiling)': decode(sliceCodes(codes, t)),
  'linear interpolation': linearInterpolate(before, after),
  'flow interpolation': flowInterpolate(before, after),
};
const clamp = (v) => ({ ...v, data: v.data.map((x) => Math.min(255, Math.max(0, x))) });
console.log(`filling frame ${t} of ${video.frames} (${video.width}x${video.height})`);
console.log('method                  PSNR dB    SSIM');
for (const [name, guess] of Object.entries(methods)) {
  const m = evaluateFrames(clamp(guess), truth);
  console.log(`${name.padEnd(22)}  ${m.psnr.toFixed(2).padStart(7)}  ${m.ssim.toFixed(3).padStart(6)}`);
}
model.dispose();
codec.dispose();
