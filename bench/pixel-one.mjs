#!/usr/bin/env node
// One task of the root bench's sections 3 and 4 (next-frame prediction or filling, see bench/pixels.mjs) in its
// own process: tfjs's wasm backend runs one thread, so the root bench runs two tasks at a time to use both
// cores. Reads a job file (JSON, written by runPixelJobs), the clip, and the codec, codes and model the parent
// saved; writes { table, strip, seconds } to job.outFile.
import { readFileSync, writeFileSync } from 'node:fs';
import { readCodes } from '@vqvid/core';
import { PatchCodec } from '@vqvid/quantize';
import { initBackend, RCNN } from '@vqvid/model';
import { readBenchVideo, splitCodes } from './common.mjs';
import { runPixelJob } from './pixels.mjs';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
await initBackend();
const answer = await runPixelJob(job, async (j) => ({
  raw: await readBenchVideo(j.video.args, j.video.opts),
  codec: await PatchCodec.load(j.codecFile),
  codes: splitCodes((await readCodes(j.codesFile)).codes, j.nFit, j.nTrain),
  model: await RCNN.load(j.modelDir),
}));
writeFileSync(job.outFile, answer);
