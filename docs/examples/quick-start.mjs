// The quick start of the guide (docs/guide/quick-start.md includes this file): one clip through the
// whole pipeline. Run it from anywhere in the repository after `npm run build`:
//   node docs/examples/quick-start.mjs
import { sliceCodes, sliceVideo } from '@vqvid/core';
import { psnr } from '@vqvid/metrics';
import { RCNN, initBackend } from '@vqvid/model';
import { PatchCodec } from '@vqvid/quantize';
import { syntheticVideo } from '@vqvid/video';

// video: 24 gray frames of 96x96 pixels, values 0..255 (or `await readVideo('clip.avi', { width: 96 })`)
const video = syntheticVideo({ kind: 'bouncing', width: 96, height: 96, frames: 24, seed: 1 });

// → patches → codes: the codec divides the video by its standard deviation (as in the paper), cuts a 12 x 12
// grid of 8x8 patches per frame, fits k-means with K = 32 centroids and maps each patch to its nearest one
const codec = await PatchCodec.fit(video, { k: 32, patch: 8, seed: 1 });
const codes = await codec.encode(video); // CodeVolume: 24 frames x 12 x 12 codes in [0, 32), with their geometry
console.log(`quantized on the ${codec.quantizer.backend} backend`);

// → model: an rCNN trained on the first 23 frames
await initBackend(); // tfjs wasm backend (cpu when wasm cannot start)
const past = sliceCodes(codes, 0, 23);
const model = new RCNN({ k: 32, hidden: 32, embedDim: 16, seed: 1 });
await model.fit(past, { epochs: 20, lr: 0.02 });
console.log(`bits per code on the whole clip: ${model.evaluate(codes).bitsPerCode.toFixed(3)} (uniform: 5)`);

// → codes: the model's guess for frame 23, and how unsure it is about each cell
const next = model.predictNext(past);
const { entropy } = model.predictDistribution(past, { probs: false });
console.log(`most uncertain cell: ${Math.max(...entropy).toFixed(2)} bits`);

// → patches → video: centroids back into pixels (overlaps averaged), scaled back to 0..255; the predicted
// codes continue the clip, so they take its geometry
const predicted = codec.decode({ ...next, geometry: codes.geometry });
const quantized = codec.decode(sliceCodes(codes, 23, 24));
const truth = sliceVideo(video, 23, 24);
console.log(`PSNR of frame 23: quantized ${psnr(quantized, truth).toFixed(2)} dB, predicted ${psnr(predicted, truth).toFixed(2)} dB`);

// → pixels from the whole distribution: the 'mbr' decoder keeps frame 22's pixels where "same code" is the
// safest bet and picks the candidate with the least expected error elsewhere (see the quantize README)
const rendered = model.predictFrames(past, 1, { codec, reference: sliceVideo(video, 22), decoder: 'mbr' });
const copyLast = sliceVideo(video, 22, 23);
console.log(`PSNR of frame 23: mbr decoder ${psnr(rendered, truth).toFixed(2)} dB, copy of frame 22 ${psnr(copyLast, truth).toFixed(2)} dB`);

codec.dispose();
model.dispose();
