// Predict the next frames with the optional native path: the output layer's exact top-M search and the recurrent
// step as ONNX graphs run by onnxruntime-node, beside the tfjs path on the same model.
//   node examples/pipeline/onnx-predict.mjs [--frames 24] [--steps 20] [--out dir]
// Uses the built-in synthetic clip (nothing to download). Needs onnxruntime-node (an optional peer of @vqvid/model).
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sliceCodes, sliceVideo, writeFileAtomic } from '@vqvid/core';
import { RCNN, initBackend } from '@vqvid/model';
import { exportOutputOnnx, exportStepOnnx, OnnxOutput, OnnxStep } from '@vqvid/model/onnx';
import { PatchCodec } from '@vqvid/quantize';
import { syntheticVideo } from '@vqvid/video';

const { values } = parseArgs({ options: { frames: { type: 'string', default: '24' }, steps: { type: 'string', default: '20' }, out: { type: 'string' } } });
const out = values.out ?? join(tmpdir(), 'vqvid-examples', 'onnx-predict');
mkdirSync(out, { recursive: true });

const video = syntheticVideo({ kind: 'bouncing', width: 96, height: 64, frames: Number(values.frames), seed: 2 });
const codec = await PatchCodec.fit(video, { k: 64, patch: 8, seed: 1, maxIter: 20 });
const codes = await codec.encode(video);
await initBackend();
const model = new RCNN({ k: 64, hidden: 32, embedDim: 16, seed: 1 });
await model.fit(codes, { epochs: Math.max(1, Number(values.steps) / 5), stepsPerEpoch: 5, batch: 4 });

const context = sliceCodes(codes, 0, codes.frames - 3);
const options = { codec, reference: sliceVideo(video, codes.frames - 4, codes.frames - 3), decoder: 'mbr', search: 1 };
const source = await OnnxOutput.create(model); // the output layer's search
const stepper = await OnnxStep.create(model); // the recurrent step
const time = async (fn) => {
  await fn(); // warm-up
  const t0 = performance.now();
  const frames = await fn();
  return { frames, ms: performance.now() - t0 };
};
const tfjs = await time(() => model.predictFrames(context, 3, options));
const onnx = await time(() => model.predictFramesAsync(context, 3, { ...options, source, stepper }));
let diff = 0;
for (let i = 0; i < tfjs.frames.data.length; i++) diff = Math.max(diff, Math.abs(tfjs.frames.data[i] - onnx.frames.data[i]));
console.log(`3 frames: tfjs ${tfjs.ms.toFixed(1)} ms, ONNX ${onnx.ms.toFixed(1)} ms; largest pixel difference ${diff.toExponential(2)}`);

// the graphs themselves, for another ONNX runtime
await writeFileAtomic(join(out, 'output.onnx'), exportOutputOnnx(model));
await writeFileAtomic(join(out, 'step.onnx'), exportStepOnnx(model));
await source.release();
await stepper.release();
model.dispose();
codec.dispose();
console.log(`wrote output.onnx and step.onnx in ${out}`);
