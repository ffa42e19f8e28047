#!/usr/bin/env node
// One codebook of the root bench (bench/run.mjs) in its own process, so that the codebooks fit two at a time and
// the networks of a codebook start training as soon as it is ready. Reads a job file (JSON): fits the codec on the
// clip's first nTrain frames, scores the test frames through it (encode → decode: PSNR/SSIM), saves it to
// `job.codecFile` and, when `job.codesFile` is set, the codes of the whole clip there. The steps and their order
// are those of the parent's former serial stage (the whole clip is encoded after initBackend, as the parent did).
// Prints one JSON line: the quantization row and fitSeconds.
import { readFileSync } from 'node:fs';
import { sliceVideo, writeCodes } from '@vqvid/core';
import { PatchCodec } from '@vqvid/quantize';
import { initBackend } from '@vqvid/model';
import { evaluateFrames } from '@vqvid/metrics';
import { clamp, r4, readBenchVideo } from './common.mjs';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const raw = await readBenchVideo(job.video.args, job.video.opts);
const t = performance.now();
const codec = await PatchCodec.fit(sliceVideo(raw, 0, job.nTrain), { k: job.k, stride: job.stride, seed: job.seed, maxIter: job.maxIter, sample: job.sample });
const fitSeconds = (performance.now() - t) / 1000;
const testTruth = sliceVideo(raw, job.nTrain, raw.frames);
const m = evaluateFrames(clamp(codec.decode(await codec.encode(testTruth))), testTruth);
await codec.save(job.codecFile);
if (job.codesFile) {
  await initBackend();
  await writeCodes(job.codesFile, await codec.encode(raw));
}
const q = codec.quantizer;
process.stdout.write(
  JSON.stringify({ k: job.k, stride: job.stride, fitSeconds: r4(fitSeconds), iterations: q.iterations, inertia: r4(q.inertia), backend: q.backend, testPsnr: r4(m.psnr), testSsim: r4(m.ssim), seconds: r4((performance.now() - t) / 1000) }) + '\n',
);
