#!/usr/bin/env node
// Assignment throughput (distance evaluations N·K per second) of every backend that starts here and of the
// naive loop, measured in the same run; prints JSON with ratios to naive.
// Each figure is the fastest of --reps calls of about --seconds each.
// Usage: node bench/assign.mjs [--quick] [--seconds S] [--reps R] [--k 1024,10000] [--dim 64] [--backends tfjs-wasm,webasm,wasm-simd] [--minN 32768]
import os from 'node:os';
import { assignNaive, BACKEND_ALIASES, BACKEND_NAMES, createBackend } from '../dist/index.mjs';
import { clusteredProblem } from '../dist/testing.mjs';
import { opt, quick } from './args.mjs';

const seconds = Number(opt('seconds', quick ? 0.3 : 1.5));
const reps = Number(opt('reps', quick ? 2 : 3));
const ks = opt('k', '1024,10000').split(',').map(Number);
const dim = Number(opt('dim', 64));
// old names ('cpu') stand for their backend, so a fallback is told apart from an alias
const wanted = opt('backends', BACKEND_NAMES.join(',')).split(',').map((n) => BACKEND_ALIASES[n] ?? n);
// gpu.js webasm only splits a call over its worker pool from 4096 threads (16,384 points) per worker up:
// measure at least 32,768 points so both cores of a 2-core machine take part.
const minN = Number(opt('minN', quick ? 256 : 32768));

/**
 * Seconds of fn(n): the fastest of `reps` calls after a warm-up call of the same size (kernels compile per
 * size). The minimum, because on a shared machine other jobs only ever add time.
 */
async function timed(fn, n, reps = 1) {
  await fn(n);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await fn(n);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return best;
}

/** Calibrates on growing n until a call takes 0.1 s, then measures at the n that should take `seconds`. */
async function measure(fn, k, maxN, least = 256) {
  let n = 256;
  let s = await timed(fn, n);
  while (s < 0.1 && n < maxN) {
    n = Math.min(maxN, n * 4);
    s = await timed(fn, n);
  }
  const target = Math.round((n * seconds) / s / 16) * 16;
  n = Math.max(least, Math.min(maxN, target));
  const r = n > 2 * target ? 1 : reps; // forced far above the time target (minN): one timed call is enough
  s = await timed(fn, n, r);
  return { n, reps: r, seconds: +s.toFixed(3), evalsPerSec: Math.round((n * k) / s) };
}

const results = [];
for (const k of ks) {
  const maxN = 1 << 20;
  const { data, centroids } = clusteredProblem(maxN >> 4, k, dim, 1);
  const pool = new Float32Array(maxN * dim);
  for (let o = 0; o < pool.length; o += data.length) pool.set(data.subarray(0, Math.min(data.length, pool.length - o)), o);
  const naive = await measure(async (n) => assignNaive(pool.subarray(0, n * dim), n, centroids, k, dim), k, maxN);
  results.push({ k, dim, backend: 'naive', ...naive, ratioToNaive: 1 });
  for (const name of wanted) {
    const { backend, reason } = await createBackend(name, { log: () => undefined });
    if (backend.name !== name) {
      results.push({ k, dim, backend: name, unavailable: (reason ?? `fell back to ${backend.name}`).split('; ')[0] });
      backend.dispose();
      continue;
    }
    const r = await measure((n) => backend.assign(pool.subarray(0, n * dim), n, centroids, k, dim), k, maxN, name === 'webasm' ? minN : 256);
    results.push({ k, dim, backend: name, ...r, ratioToNaive: +(r.evalsPerSec / naive.evalsPerSec).toFixed(2) });
    backend.dispose();
  }
}
const at10k = results.filter((r) => r.k === 10000 && r.backend !== 'naive' && r.evalsPerSec);
const best = at10k.sort((a, b) => b.evalsPerSec - a.evalsPerSec)[0];
console.log(JSON.stringify({
  bench: 'quantize/assign',
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg().map((v) => +v.toFixed(2)), node: process.version },
  quick,
  results,
  goal: best && {
    target: 'best CPU backend >= 160e6 distance evals/s at K = 10000 on 2 cores (about 30x naive)',
    best: best.backend,
    evalsPerSec: best.evalsPerSec,
    ratioToNaive: best.ratioToNaive,
    met: best.evalsPerSec >= 160e6,
  },
}, null, 2));
process.exit(0);
