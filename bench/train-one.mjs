#!/usr/bin/env node
// One model of the root bench, trained in its own process: tfjs's wasm backend runs one thread, so the root
// bench trains two models at a time in two processes to use both cores. Reads a job file (JSON, written by
// bench/run.mjs), trains for at most `seconds` of wall time with early stopping on the validation codes,
// saves the model to `job.modelDir` and prints one JSON line with the training figures.
import { readFileSync } from 'node:fs';
import { initBackend, RCNN, RNN } from '@vqvid/model';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const volume = (v) => ({ ...v.meta, codes: new Uint16Array(readFileSync(v.path).buffer.slice(0)) });
const fit = volume(job.fit);
const val = volume(job.val);
await initBackend();
const Model = job.model === 'rnn' ? RNN : RCNN;
const m = new Model(job.options);
const t = performance.now();
// the time limit ends training like early stopping: the best validation weights are kept
const r = await m.fit(fit, { ...job.fit_options, validation: val, timeLimit: job.seconds });
const secs = (performance.now() - t) / 1000;
await m.save(job.modelDir);
const o = job.fit_options;
const cells = r.steps * o.batch * o.bptt * Math.min(o.crop, fit.rows) * Math.min(o.crop, fit.cols);
const best = r.bestEpoch >= 0 ? r.epochs[r.bestEpoch] : undefined;
process.stdout.write(
  JSON.stringify({
    seconds: +secs.toFixed(1),
    steps: r.steps,
    epochs: r.epochs.length,
    bestEpoch: r.bestEpoch,
    bestValBits: best?.valBits !== undefined ? +best.valBits.toFixed(4) : null,
    stopped: r.stopped,
    cellsPerSecond: Math.round(cells / secs),
  }) + '\n',
);
