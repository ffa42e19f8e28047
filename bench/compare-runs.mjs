#!/usr/bin/env node
// Compares two results.json of bench/run.mjs figure by figure, leaving out what measures the machine (seconds,
// throughput, memory, load, dates): two runs with the same seed on the same backend must agree exactly.
//   node bench/compare-runs.mjs a/results.json b/results.json   → prints { compared, differing, diffs }, exit 1 on a difference
import { readFileSync } from 'node:fs';

const [fileA, fileB] = process.argv.slice(2);
if (!fileA || !fileB) {
  process.stderr.write('usage: node bench/compare-runs.mjs A/results.json B/results.json\n');
  process.exit(2);
}
const [a, b] = [fileA, fileB].map((p) => JSON.parse(readFileSync(p, 'utf8')));
const MACHINE = /^(seconds|fitSeconds|phase1Seconds|cellsPerSecond|peakRssMB|date|command|loadavgAtStart|loadavgAtEnd|evalsPerSec|secondsPerStep|ratioToNaive|factoredOverFull|reps|n)$/;
const SKIP = ['.speed', '.stages', '.machine'];
let compared = 0;
const diffs = [];
function walk(x, y, path) {
  if (x === null || typeof x !== 'object') {
    compared++;
    if (x !== y) diffs.push(`${path}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
    return;
  }
  for (const k of Object.keys(x)) {
    const p = `${path}.${k}`;
    if (MACHINE.test(k) || SKIP.some((s) => p.startsWith(s))) continue;
    walk(x[k], y?.[k], p);
  }
}
walk(a, b, '');
console.log(JSON.stringify({ compared, differing: diffs.length, diffs: diffs.slice(0, 20) }));
process.exit(diffs.length ? 1 : 0);
