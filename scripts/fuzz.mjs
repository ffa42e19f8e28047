#!/usr/bin/env node
/**
 * The long fuzz run: `npm run fuzz -- --cases 100000 [--seed 1] [--from 0] [--formats y4m,model]`, or one case
 * with `--case N` (its damage and outcome printed). Same cases and bounds as the CI test (tests/fuzz.test.ts), on
 * the built packages (`npm run fuzz` builds first). Prints JSON figures: cases, accepted files, typed errors by
 * code and by format, every untyped error or case over a bound (with the command that replays it), the largest
 * memory growth and the slowest case. Exits 1 when anything but a typed error was found.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { runFuzz, failures, FORMATS } = require('./fuzz-lib.cjs');

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    from: { type: 'string', default: '0' },
    case: { type: 'string' },
    formats: { type: 'string', default: FORMATS.join(',') },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('Usage: npm run fuzz -- [--cases N] [--seed S] [--from I] [--case I] [--formats y4m,container,codebook,codes,model]\n');
  process.exit(0);
}

const int = (name, v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`fuzz: --${name}: expected an integer >= 0, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
};
const formats = values.formats.split(',');
const unknown = formats.filter((f) => !FORMATS.includes(f));
if (unknown.length) {
  process.stderr.write(`fuzz: --formats: expected some of ${FORMATS.join(',')}, got ${unknown.join(',')}\n`);
  process.exit(2);
}
const one = values.case !== undefined;
const cases = one ? 1 : int('cases', values.cases);
const from = one ? int('case', values.case) : int('from', values.from);

let last = Date.now();
const report = await runFuzz({
  seed: int('seed', values.seed),
  cases,
  from,
  // --formats keeps case numbers meaningful only with the default list; a subset cycles through its own.
  formats,
  onCase: (done, r) => {
    if (one) process.stderr.write(`case ${done.i}: ${done.outcome}${done.code ? ` ${done.code}` : ''}${done.error ? ` ${done.error}` : ''}\n`);
    if (Date.now() - last > 10000) {
      last = Date.now();
      process.stderr.write(`fuzz: ${r.cases}/${cases} cases, ${failures(r).length} failures\n`);
    }
  },
});
const { untyped, overMemory, overTime, crashes, ...figures } = report;
const found = failures(report);
process.stdout.write(JSON.stringify({ ...figures, failures: found.length, untypedErrors: untyped.length, overMemory: overMemory.length, overTime: overTime.length, crashes: crashes.length, firstFailures: found.slice(0, 20) }, null, 2) + '\n');
process.exit(found.length ? 1 : 0);
