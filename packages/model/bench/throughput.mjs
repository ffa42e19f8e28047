// Training throughput (grid cells per second: forward + backward + Adam step) of the full and the
// class-factored softmax at K = 1024 and K = 10,000, on the wasm and cpu backends, in one run (one thread:
// workers: 1; bench/workers.mjs measures worker threads).
// With Debian's python3-torch installed, the PyTorch twin (bench/twins/torch_rcnn.py) trains the same network
// and config in the same run, and `twin` reports the ratios vqvid / torch per K (skipped with a note otherwise).
// `--workers N` (N ≥ 2) also times `fit({ workers: N })` on the first backend, steady state (the pool's start and
// first `WARMUP` steps left out, as bench/workers.mjs does), and the twin's ratios then include vqvid on N workers
// against torch on 2 threads: every core on both sides.
// Usage: node bench/throughput.mjs [--quick] [--backends wasm,cpu] [--workers N] [--no-twin]   (needs `npm run build` first)
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { RCNN, initBackend } from '../dist/index.mjs';
import { runTwin } from '../../../bench/twins/twin.mjs';
import { benchSettings, poolWarmup, randomCodes, steadyFit } from './settings.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const bi = args.indexOf('--backends');
const backends = bi >= 0 ? args[bi + 1].split(',') : ['wasm', 'cpu'];
const ks = [1024, 10000];
const { grid, fit, steps, model } = benchSettings(quick);
const wi = args.indexOf('--workers');
const workers = wi >= 0 ? Number(args[wi + 1]) : 1;
if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers takes a positive integer');
/** Steps of a pooled fit left out of its timing: a fresh pool's workers reach their steady speed after some 30. */
const WARMUP = poolWarmup(quick);

/** Steady-state cells/s of fit({ workers: n }) (settings.mjs steadyFit: the pool's start and WARMUP steps left out). */
async function measurePooled(k, softmax, n) {
  const codes = randomCodes(grid, fit.bptt + 1, k, k);
  const m = new RCNN({ k, softmax, seed: 1, ...model });
  const cells = fit.bptt * fit.batch * grid.rows * grid.cols;
  await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 1, workers: 1 }); // output built, kernels compiled
  const { seconds } = await steadyFit(m, codes, fit, n, WARMUP, steps);
  m.dispose();
  return { workers: n, cellsPerSecond: Math.round((cells * steps) / seconds), secondsPerStep: +(seconds / steps).toFixed(3) };
}

async function measure(k, softmax) {
  const codes = randomCodes(grid, fit.bptt + 1, k, k);
  const m = new RCNN({ k, softmax, seed: 1, ...model });
  const cells = fit.bptt * fit.batch * grid.rows * grid.cols;
  await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: 1, workers: 1 }); // warm-up: kernels compiled, output built
  // the faster of two timed runs: the machine is shared, and interference only ever adds time
  let seconds = Infinity;
  for (let rep = 0; rep < 2; rep++) {
    const t0 = performance.now();
    await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: steps, workers: 1 });
    seconds = Math.min(seconds, (performance.now() - t0) / 1000);
  }
  m.dispose();
  return { cellsPerSecond: Math.round((cells * steps) / seconds), secondsPerStep: +(seconds / steps).toFixed(3) };
}

const results = {};
for (const backend of backends) {
  const choice = await initBackend([backend]);
  if (choice.backend !== backend) continue;
  const perK = {};
  for (const k of ks) {
    const full = await measure(k, 'full');
    const factored = await measure(k, 'factored');
    perK[k] = { full, factored, factoredOverFull: +(factored.cellsPerSecond / full.cellsPerSecond).toFixed(2) };
    if (workers > 1 && backend === backends[0]) {
      perK[k].fullWorkers = await measurePooled(k, 'full', workers);
      perK[k].factoredWorkers = await measurePooled(k, 'factored', workers);
    }
  }
  results[backend] = perK;
}
if (results.wasm && results.cpu) {
  results.wasmOverCpu = Object.fromEntries(
    ks.flatMap((k) => ['full', 'factored'].map((s) => [`${s}@${k}`, +(results.wasm[k][s].cellsPerSecond / results.cpu[k][s].cellsPerSecond).toFixed(2)])),
  );
}

/** The torch twin on the same config, and vqvid / torch ratios of cells/s per K (vqvid's first backend). */
async function twinRatios() {
  const t = await runTwin('torch_rcnn.py', [
    '--k', ks.join(','), '--threads', '2,1', '--steps', steps, '--embed', model.embedDim, '--hidden', model.hidden,
    '--layers', model.layers, '--kernel', model.kernel, '--batch', fit.batch, '--bptt', fit.bptt, '--rows', grid.rows, '--cols', grid.cols,
  ]);
  const ours = results[backends.find((b) => results[b])];
  if (t.skipped || !ours) return t;
  const ratio = (a, b) => +(a / b).toFixed(3);
  const perK = Object.fromEntries(ks.map((k) => {
    const torch = t.results[k];
    const gflops = (secondsPerStep) => +(torch.stepFlops / secondsPerStep / 1e9).toFixed(2);
    return [k, {
      torch2: torch.threads2.cellsPerSecond, torch1: torch.threads1.cellsPerSecond,
      fullOverTorch2: ratio(ours[k].full.cellsPerSecond, torch.threads2.cellsPerSecond),
      fullOverTorch1: ratio(ours[k].full.cellsPerSecond, torch.threads1.cellsPerSecond),
      factoredOverTorch2: ratio(ours[k].factored.cellsPerSecond, torch.threads2.cellsPerSecond),
      factoredOverTorch1: ratio(ours[k].factored.cellsPerSecond, torch.threads1.cellsPerSecond),
      // vqvid on every core (--workers) against torch on 2 threads
      ...(ours[k].fullWorkers ? {
        fullWorkersOverTorch2: ratio(ours[k].fullWorkers.cellsPerSecond, torch.threads2.cellsPerSecond),
        factoredWorkersOverTorch2: ratio(ours[k].factoredWorkers.cellsPerSecond, torch.threads2.cellsPerSecond),
      } : {}),
      // effective rate at the full softmax's analytic FLOPs (the twin's formula)
      gflopsPerSecond: { vqvidFull: gflops(ours[k].full.secondsPerStep), torch2: torch.threads2.gflopsPerSecond, torch1: torch.threads1.gflopsPerSecond },
    }];
  }));
  return { tool: t.tool, flopsFormula: t.flopsFormula, note: 'the twin has no copy-aware gate or counted prior (vqvid\'s default output has both)', perK };
}
const twin = args.includes('--no-twin') ? { skipped: '--no-twin' } : await twinRatios();
console.log(JSON.stringify({ bench: 'model/throughput', quick, grid, fit, model, steps, workers, warmupSteps: workers > 1 ? WARMUP : undefined, tfjs: tf.version_core, loadavg: loadavg().map((v) => +v.toFixed(2)), results, twin }, null, 2));
