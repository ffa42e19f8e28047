import { RCNN, initBackend } from '../dist/index.mjs';
import { OnnxOutput } from '../dist/onnx.mjs';
import { readCodes } from '@vqvid/core';
import { PatchCodec } from '@vqvid/quantize';
await initBackend(['wasm']);
const K = process.argv[2] ?? '10000';
const D = '/tmp/keep-00e';
const m = await RCNN.load(`${D}/rcnn-${K}-s8`);
const codec = await PatchCodec.load(`${D}/codebook-${K}-s8.vqcb`);
const { codes: v } = await readCodes(`${D}/codes-${K}-s8.vqc`);
const cells = v.rows * v.cols;
const context = { rows: v.rows, cols: v.cols, frames: 1, k: v.k, codes: Int32Array.from(v.codes.subarray((v.frames - 1) * cells)), geometry: v.geometry };
const frame = { width: 320, height: 240, frames: 1, data: Float32Array.from({ length: 320 * 240 }, (_, i) => 128 + 60 * Math.sin((i % 320) / 9) * Math.cos(Math.floor(i / 320) / 7) + 20 * Math.sin(i * 7.1)) };
const source = await OnnxOutput.create(m, { threads: Number(process.env.THREADS ?? 1), blockwise: process.env.BLOCKWISE === '1' });
const orig = source.logCandidatesAsync.bind(source);
let log = [];
source.logCandidatesAsync = async (h, c, depth, ex, memo) => { const t0 = performance.now(); const r = await orig(h, c, depth, ex, memo); log.push([c.length, depth, ex.codes.length, +(performance.now() - t0).toFixed(1)]); return r; };
for (let i = 0; i < Number(process.env.FRAMES ?? 4); i++) {
  log = [];
  const t0 = performance.now();
  await m.predictFramesAsync(context, 1, { codec, reference: frame, decoder: process.env.DEC ?? 'centroid', search: Number(process.env.SEARCH ?? 0), topM: 16, source });
  console.log('frame', (performance.now() - t0).toFixed(1), JSON.stringify(log));
}
