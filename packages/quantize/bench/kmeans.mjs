#!/usr/bin/env node
// k-means fit, plain Lloyd vs Hamerly's and Yinyang's bounds vs the faiss twin (bench/twins/faiss_kmeans.py), on
// the same vtest patches, K, iterations (tol 0) and k-means++ start. Prints one JSON: seconds of each, ratios
// (vqvid / faiss), whether each bounded loop's labels, centroids and inertia history equal Lloyd's, the
// skipped share per iteration.
// Usage: node bench/kmeans.mjs [--video PATH] [--k 1024,10000] [--n 200000] [--frames 200] [--maxIter 20]
//        [--backend auto] [--methods yinyang] (add hamerly: slow at large K) [--seed 1] [--no-twin] [--quick]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@vqvid/core';
import { samplePatches } from '@vqvid/patches';
import { createBackend } from '../dist/index.mjs';
import { hamerly, lloyd, seedKMeansPP, yinyang } from '../dist/testing.mjs';
import { runTwin } from '../../../bench/twins/twin.mjs';
import { opt, quick } from './args.mjs';
import { loadSplit } from './video.mjs';

const video = opt('video', '/work/shared/data/vtest.avi');
const ks = opt('k', '1024,10000').split(',').map(Number);
const n = Number(opt('n', quick ? 20000 : 200000));
const frames = Number(opt('frames', quick ? 40 : 200));
const maxIter = Number(opt('maxIter', quick ? 5 : 20));
const seed = Number(opt('seed', 1));
const twin = !process.argv.includes('--no-twin');
const methods = opt('methods', 'yinyang').split(',').filter(Boolean);

const { train } = await loadSplit(video, frames);
const sample = samplePatches(train, { size: 8, stride: 4, count: n, seed });
const dim = 64;
const rows = { data: sample.data, n: sample.data.length / dim, dim };
const { backend } = await createBackend(opt('backend', 'auto'));
const assign = (data, m, c, k) => backend.assign(data, m, c, k, dim);
const dir = mkdtempSync(join(tmpdir(), 'vqvid-kmeans-'));
const dataPath = join(dir, 'points.f32');
writeFileSync(dataPath, Buffer.from(rows.data.buffer, rows.data.byteOffset, rows.data.byteLength));

const top2 = backend.top2?.bind(backend); // yinyang's blocked search; the float64 reference where the backend has none
const loops = { lloyd, hamerly, yinyang: (r, init, k, o, a) => yinyang(r, init, k, o, a, top2) };

/** Seconds of one loop, and the seconds of each iteration from its progress events. */
async function timed(loop, init, k) {
  const marks = [];
  const t0 = performance.now();
  const r = await loops[loop](rows, init, k, { maxIter, tol: 0, onProgress: () => marks.push(performance.now()) }, assign);
  const seconds = (performance.now() - t0) / 1000;
  const perIteration = marks.map((m, i) => +((m - (i ? marks[i - 1] : t0)) / 1000).toFixed(3));
  return { r, seconds, perIteration };
}

const same = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
const round = (v, d = 3) => +v.toFixed(d);
const results = [];
for (const k of ks) {
  if (k >= rows.n) {
    results.push({ k, skipped: `k must be below the ${rows.n} points` });
    continue;
  }
  const init = await seedKMeansPP(rows, k, new Rng(seed), assign);
  const plain = await timed('lloyd', init, k);
  const row = { k, lloyd: { seconds: round(plain.seconds), perIteration: plain.perIteration, inertia: plain.r.inertia } };
  for (const m of methods) {
    const fast = await timed(m, init, k);
    row[m] = {
      seconds: round(fast.seconds), perIteration: fast.perIteration, skipped: fast.r.skipped.map((v) => round(v)),
      identicalLabels: same(plain.r.labels, fast.r.labels), identicalCentroids: same(plain.r.centroids, fast.r.centroids),
      identicalInertiaHistory: same(plain.r.inertiaHistory, fast.r.inertiaHistory),
      overLloyd: round(fast.seconds / plain.seconds),
    };
  }
  if (twin) {
    const initPath = join(dir, `init-${k}.f32`);
    writeFileSync(initPath, Buffer.from(init.buffer, init.byteOffset, init.byteLength));
    const f = await runTwin('faiss_kmeans.py', [dataPath, rows.n, dim, k, maxIter, initPath]);
    row.faiss = f;
    if (!f.skipped) {
      row.lloydOverFaiss = round(plain.seconds / f.seconds);
      for (const m of methods) row[m].overFaiss = round(row[m].seconds / f.seconds);
      row.inertiaRelDiff = round((plain.r.inertia - f.inertia) / f.inertia, 5); // + : vqvid's is higher
    }
  }
  results.push(row);
}
backend.dispose();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({
  bench: 'quantize/kmeans', video, points: rows.n, dim, maxIter, seed, backend: backend.name,
  loadavg: loadavg().map((v) => round(v, 2)),
  note: 'vqvid runs maxIter updates and maxIter + 1 full assignments (the last gives the final labels); faiss runs maxIter assignments + updates, its final inertia comes from one extra untimed search',
  results,
}, null, 2));
process.exit(0);
