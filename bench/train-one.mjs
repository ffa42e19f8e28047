#!/usr/bin/env node
// One network of the root bench, trained in its own process: tfjs's wasm backend runs one thread, so the root
// bench trains two models at a time in two processes to use both cores. Reads a job file (JSON, written by
// bench/run.mjs) and trains for a fixed step budget, so results do not depend on machine load:
//   phase 1: on the fit frames, at most epochs x stepsPerEpoch steps, early stopping and lr-on-plateau on the
//            validation frames, which so choose the step count; the best validation weights are kept, and the
//            copy-aware output's gate biases are refitted on the validation frames (fit's `calibrate`);
//   phase 2: `refitSteps` more steps on all training frames (fit + validation) at the best epoch's lr, so the
//            network sees the same frames as the counted models (its counted prior is recounted on them too).
// Reads the clip's codes (`job.codesFile`) and splits them as splitCodes does (job.nFit, job.nTrain). Saves the
// model to `job.modelDir` and prints one JSON line with the training figures; with `job.test`, the model as loaded
// back from disk also scores the test codes, the frames after the training part (`evaluation`: bits/code,
// perplexity, seconds), as the parent would, so that the parent's serial work stays small.
import { readCodes } from '@vqvid/core';
import { initBackend, RCNN, RNN } from '@vqvid/model';
import { splitCodes } from './common.mjs';

const job = JSON.parse((await import('node:fs')).readFileSync(process.argv[2], 'utf8'));
const { fit, val, train, test } = splitCodes((await readCodes(job.codesFile)).codes, job.nFit, job.nTrain);
await initBackend();
const Model = job.model === 'rnn' ? RNN : RCNN;
const m = new Model(job.options);
const t = performance.now();
const r = await m.fit(fit, { ...job.fitOptions, validation: val });
const phase1 = (performance.now() - t) / 1000;
const best = r.bestEpoch >= 0 ? r.epochs[r.bestEpoch] : undefined;
let refit = 0;
if (job.refitSteps > 0) {
  const { bptt, batch, crop, workers, rollout, rolloutProb } = job.fitOptions;
  const r2 = await m.fit(train, { bptt, batch, crop, workers, rollout, rolloutProb, epochs: 1, stepsPerEpoch: job.refitSteps, lr: best?.lr ?? job.fitOptions.lr, lrDecay: 1 });
  refit = r2.steps;
}
const secs = (performance.now() - t) / 1000;
await m.save(job.modelDir);
let evaluation;
if (job.test) {
  const t2 = performance.now();
  const e = (await RCNN.load(job.modelDir)).evaluate(test);
  evaluation = { bitsPerCode: e.bitsPerCode, perplexity: e.perplexity, seconds: +((performance.now() - t2) / 1000).toFixed(1) };
}
const o = job.fitOptions;
const cells = (r.steps + refit) * o.batch * o.bptt * Math.min(o.crop, fit.rows) * Math.min(o.crop, fit.cols);
process.stdout.write(
  JSON.stringify({
    seconds: +secs.toFixed(1),
    phase1Seconds: +phase1.toFixed(1),
    steps: r.steps,
    refitSteps: refit,
    epochs: r.epochs.length,
    bestEpoch: r.bestEpoch,
    bestValBits: best?.valBits !== undefined ? +best.valBits.toFixed(4) : null,
    valBitsPerEpoch: r.epochs.map((e) => +(e.valBits ?? NaN).toFixed(4)),
    stopped: r.stopped,
    ...(r.calibration ? { calibration: { offsets: r.calibration.offsets.map((v) => +v.toFixed(4)), valBitsBefore: +r.calibration.valBitsBefore.toFixed(4), valBitsAfter: +r.calibration.valBitsAfter.toFixed(4) } } : {}),
    cellsPerSecond: Math.round(cells / secs),
    ...(evaluation ? { evaluation } : {}),
  }) + '\n',
);
