// Sections 3 and 4 of the root bench (bench/run.mjs): next-frame prediction and filling with every decoder, for
// one trained model at a time. A task reads only its own codec, codes and model and the clip's frames, so the
// root bench runs each task in a child process (bench/pixel-one.mjs) as soon as its model is trained, in the same
// lanes as the training (config.trainProcesses at a time): tfjs's wasm backend runs one thread. Every task's
// figures are the same in a child as in the parent (same saved model, same frames; the online gate adaptation
// starts afresh at every prediction).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sliceCodes, sliceVideo, stackFrames } from '@vqvid/core';
import { motionMask } from '@vqvid/metrics';
import { copyLast, flowExtrapolate, flowInterpolate, linearInterpolate } from '@vqvid/baselines';
import { absDiff, addRelativeMse, clamp, fitDecoderPlan, label, meanRows, renderPlan, runChild, scoreAll, spread, summarise, withFitPrior } from './common.mjs';

/**
 * The prediction and fill tasks over a clip `raw` (first nTrain frames train, nFit of them fit), with the codecs,
 * codes (splitCodes) and trained models by key (`${name}@${key}` for models). Each task resolves to
 * { table, strip }: the metrics table and the picture strip of its middle test target.
 */
export function pixelTasks({ raw, codecs, coded, models, config, nFit, nTrain }) {
  const testStart = nTrain;
  const frame = (t) => sliceVideo(raw, t);
  /**
   * What prediction and filling share for one model (key = codec): its codec, codes and geometry, the context
   * before frame t, the codes of frame t − 1 ("present"), every decoder of `plan` applied to a distribution, and
   * the table of per-target metrics with the decoder of each row and a summary against `base` and `flow`.
   */
  function pixelSetup(name, key) {
    const codec = codecs.get(key);
    const { all: codes } = coded.get(key);
    const geometry = codes.geometry;
    const n = codes.rows * codes.cols;
    const present = (t) => codes.codes.subarray((t - 1) * n, t * n);
    return {
      codec,
      codes,
      geometry,
      model: models.get(`${name}@${key}`),
      context: (t) => sliceCodes(codes, Math.max(0, t - config.contextFrames), t),
      present,
      /** Every decoder of `plan` on `dist`, `reference` standing for "same code as frame t − 1". */
      render: (plan, dist, reference, t, into, sources) => renderPlan(codec, geometry, plan, dist, { reference, present: present(t), sources }, config, into),
      /** The decoders' plan from validation samples: alphas and mbr's ratio without and with the motion search. */
      fitPlan: (samples) => fitDecoderPlan(codec, geometry, samples, config),
      table: (plan, methods, info, base, flow) => {
        const decoderOf = Object.fromEntries(plan.map((p) => [p.name, p]));
        const rows = Object.entries(methods).map(([method, list]) => {
          const d = decoderOf[method];
          return { method, ...(d ? { decoder: d.decoder, alpha: d.alpha, ...(d.changeRatio !== undefined ? { changeRatio: d.changeRatio } : {}) } : {}), ...meanRows(list) };
        });
        addRelativeMse(rows);
        return { model: name, k: codes.k, stride: geometry.stride, ...info, rows, summary: summarise(rows, base, flow) };
      },
    };
  }

  /** Next-frame prediction with every decoder for one model (key = codec), test targets every evalStride frames. */
  async function predictWith(name, key) {
    const { codec, codes, geometry, model, context, present, render, table, fitPlan } = pixelSetup(name, key);
    const valTargets = spread(nFit + 2, nTrain - 1, config.alphaTargets);
    // the prior as counted on the fit frames only while the validation distributions are made (see withFitPrior)
    const samples = withFitPrior(model, sliceCodes(codes, 0, nFit), () =>
      valTargets.map((t) => ({ dist: model.predictDistribution(context(t)), present: present(t), reference: frame(t - 1), truth: frame(t), sources: frame(t - 1) })),
    );
    const { plan, info } = fitPlan(samples);
    const targets = [];
    for (let t = testStart + 2; t < raw.frames; t += config.evalStride) targets.push(t);
    const methods = {};
    let strip = null;
    const add = (method, metrics) => (methods[method] ??= []).push(metrics);
    for (const t of targets) {
      const truth = frame(t);
      const last = frame(t - 1);
      const mask = motionMask(last, truth, { threshold: config.motionThreshold });
      const dist = model.predictDistribution(context(t));
      const guesses = {
        'copy-last': last,
        'flow extrapolation': flowExtrapolate(frame(t - 2), last),
        'codebook ceiling (true codes)': codec.decode(sliceCodes(codes, t, t + 1)),
      };
      render(plan, dist, last, t, guesses, last);
      for (const [method, v] of Object.entries(guesses)) add(method, scoreAll(v, truth, mask));
      if (t === targets[Math.floor(targets.length / 2)] && !strip) {
        const shown = ['copy-last', 'flow extrapolation', 'rcnn centroid', ...plan.filter((p) => p.alpha !== 1).map((p) => p.name), 'rcnn mbr', 'rcnn mean', 'codebook ceiling (true codes)'];
        strip = [
          { label: 'TRUTH', video: truth },
          ...shown.map((m) => ({ label: label(m), video: clamp(guesses[m]) })),
          ...shown.map((m) => ({ label: 'ERR ' + label(m), video: absDiff(guesses[m], truth), range: [0, 64], colormap: 'heat' })),
        ];
      }
    }
    return { table: table(plan, methods, { targets: targets.length, alphaTargets: valTargets.length, ...info }, 'copy-last', 'flow extrapolation'), strip };
  }

  /** The middle frame of triples: the model's fill posterior through every decoder, the reference being the linear interpolation. */
  async function fillWith(name, key) {
    const { codec, codes, geometry, model, context, present, render, table, fitPlan } = pixelSetup(name, key);
    const posterior = (t) => model.fillDistribution(context(t), sliceCodes(codes, t + 1, t + 2), config.fill);
    const valTargets = spread(nFit + 1, nTrain - 2, config.fillAlphaTargets);
    // the motion search looks in both known frames
    const around = (t) => stackFrames([frame(t - 1), frame(t + 1)]);
    const samples = withFitPrior(model, sliceCodes(codes, 0, nFit), () =>
      valTargets.map((t) => ({ dist: posterior(t), present: present(t), reference: linearInterpolate(frame(t - 1), frame(t + 1)), truth: frame(t), sources: around(t) })),
    );
    const { plan, info } = fitPlan(samples);
    const targets = spread(testStart + 1, raw.frames - 2, config.fillTargets);
    const methods = {};
    let strip = null;
    for (const t of targets) {
      const a = frame(t - 1), b = frame(t + 1), truth = frame(t);
      const mask = motionMask(a, truth, { threshold: config.motionThreshold });
      const lin = linearInterpolate(a, b);
      const dist = posterior(t);
      const guesses = {
        copy: copyLast(a),
        linear: lin,
        'flow interpolation': flowInterpolate(a, b),
        'codebook ceiling (true codes)': codec.decode(sliceCodes(codes, t, t + 1)),
      };
      render(plan, dist, lin, t, guesses, around(t));
      for (const [method, v] of Object.entries(guesses)) (methods[method] ??= []).push(scoreAll(v, truth, mask));
      if (t === targets[Math.floor(targets.length / 2)] && !strip) {
        const shown = ['linear', 'flow interpolation', 'rcnn centroid', ...plan.filter((p) => p.alpha !== 1).map((p) => p.name), 'rcnn mbr', 'rcnn mean'];
        strip = [{ label: 'TRUTH', video: truth }, ...shown.map((m) => ({ label: label(m), video: clamp(guesses[m]) }))];
      }
    }
    return { table: table(plan, methods, { targets: targets.length, alphaTargets: valTargets.length, ...info }, 'linear', 'flow interpolation'), strip };
  }

  return { predictWith, fillWith };
}

/** A strip's videos as JSON (Float32 data as base64) and back, for a task's answer from its child process. */
const packStrip = (strip) => strip?.map((row) => ({ ...row, video: { ...row.video, data: Buffer.from(Float32Array.from(row.video.data).buffer).toString('base64') } })) ?? null;
const unpackStrip = (strip) =>
  strip?.map((row) => {
    const bytes = Buffer.from(row.video.data, 'base64');
    return { ...row, video: { ...row.video, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) } };
  }) ?? null;

/** Runs one task of a job file in this process (bench/pixel-one.mjs): the answer as JSON text. */
export async function runPixelJob(job, load) {
  const { raw, codec, codes, model } = await load(job);
  const tasks = pixelTasks({
    raw,
    codecs: new Map([[job.key, codec]]),
    coded: new Map([[job.key, codes]]),
    models: new Map([[`${job.name}@${job.key}`, model]]),
    config: job.config,
    nFit: job.nFit,
    nTrain: job.nTrain,
  });
  const t = performance.now();
  const { table, strip } = await (job.kind === 'predict' ? tasks.predictWith : tasks.fillWith)(job.name, job.key);
  return JSON.stringify({ table, strip: packStrip(strip), seconds: +((performance.now() - t) / 1000).toFixed(1) });
}

/**
 * Prediction and fill tasks for inLanes (bench/common.mjs): each job { kind: 'predict' | 'fill', name, key, after }
 * is a child process (bench/pixel-one.mjs) that reads the clip again (`video`: readBenchVideo's arguments), the
 * codec and codes of its key (`files`: key → { codecFile, codesFile }, written before the task at `after` ran), and
 * the model that the task at `after` saved (its result's modelDir). Each resolves to { table, strip, seconds }.
 */
export function pixelLaneTasks(jobs, { root, work, video, files, config, nFit, nTrain }) {
  return jobs.map((j, i) => ({
    after: j.after,
    run: (results) => {
      const { kind, name, key } = j;
      const jobFile = join(work, `pixel${i}.json`);
      const outFile = join(work, `pixel${i}.out.json`);
      const { codecFile, codesFile } = files.get(key);
      writeFileSync(jobFile, JSON.stringify({ kind, name, key, video, config, nFit, nTrain, outFile, codecFile, codesFile, modelDir: results[j.after].modelDir }));
      process.stderr.write(`bench: ${kind} ${name} (${key})\n`);
      return runChild(join(root, 'bench', 'pixel-one.mjs'), jobFile, `${kind} ${name} (${key})`).then(() => {
        const answer = JSON.parse(readFileSync(outFile, 'utf8'));
        process.stderr.write(`bench: ${kind} ${name} (${key}) done in ${answer.seconds} s\n`);
        return { ...answer, strip: unpackStrip(answer.strip) };
      });
    },
  }));
}
