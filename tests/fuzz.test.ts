/**
 * Bounded, seeded fuzzing of every file format vqvid reads: Y4M, the container, codebooks, codes files and
 * models. Each case damages a valid file (scripts/fuzz-mutate.cjs: flipped bytes, truncations, length words,
 * JSON header edits, resized arrays, with and without the CRC-32 recomputed) and reads it with the library. The
 * cases run in a child process on the built packages (`npm test` builds first), watched by scripts/fuzz-lib.cjs,
 * so a case that allocates without bound is killed at the bound instead of exhausting the machine. Asserts:
 * only VqvidError is thrown; no case grows memory (resident, ArrayBuffers or tensors held) past 256 MB or uses
 * more than 2 s of CPU; a failed or disposed model load leaves no tensor behind. A failure prints the case and
 * the command that replays it (`npm run fuzz -- --seed S --case N`); `npm run fuzz -- --cases 100000` is the long run.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

interface Failure {
  kind: string;
  case: number;
  format: string;
  what: string;
  error: string;
  replay: string;
}
interface Report {
  cases: number;
  accepted: number;
  typedErrors: number;
  byFormat: Record<string, { cases: number; accepted: number; typed: Record<string, number>; untyped: number }>;
  untyped: unknown[];
  overMemory: unknown[];
  maxRssGrowthBytes: number;
  maxArrayBufferGrowthBytes: number;
  maxTfHeldBytes: number;
  tensorLeakCases: number;
  tensorLeakExample: unknown;
  slowestCpu: { cpuMs: number } | null;
}
interface FuzzLib {
  runFuzz(opts: { seed?: number; cases?: number; from?: number; formats?: string[] }): Promise<Report>;
  failures(report: Report): Failure[];
  FORMATS: string[];
  BOUNDS: { memoryBytes: number; cpuMs: number; hangMs: number };
}
// The supervisor is CommonJS shared with scripts/fuzz.mjs, so that the long run and this test are the same code.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runFuzz, failures, FORMATS, BOUNDS } = require('../scripts/fuzz-lib.cjs') as FuzzLib;

const root = resolve(__dirname, '..');
/** About 15 s on a busy 2-core machine (8 s idle), for a CI bound of 60 s; FUZZ_SEED / FUZZ_CASES explore further. */
const CASES = Number(process.env.FUZZ_CASES ?? 15000);
const SEED = Number(process.env.FUZZ_SEED ?? 20240601);

beforeAll(() => {
  const missing = ['core', 'video', 'quantize', 'model'].filter((p) => !existsSync(join(root, 'packages', p, 'dist', 'index.js')));
  if (missing.length) throw new Error(`the fuzz test runs the built packages: build first (npm run build); missing dist of ${missing.join(', ')}`);
});

describe('fuzzing the readers', () => {
  test(`${CASES} damaged files (seed ${SEED}): only VqvidError, within the memory and time bounds`, async () => {
    const report = await runFuzz({ seed: SEED, cases: CASES });
    expect(report.cases).toBe(CASES);
    // each failure names its case, the damage, the error and the command that replays it
    expect(failures(report)).toEqual([]);
    expect(report.maxRssGrowthBytes).toBeLessThanOrEqual(BOUNDS.memoryBytes);
    expect(report.maxArrayBufferGrowthBytes).toBeLessThanOrEqual(BOUNDS.memoryBytes);
    expect(report.maxTfHeldBytes).toBeLessThanOrEqual(BOUNDS.memoryBytes);
    expect(report.slowestCpu!.cpuMs).toBeLessThanOrEqual(BOUNDS.cpuMs);
    expect([report.tensorLeakCases, report.tensorLeakExample]).toEqual([0, null]);
    // the damage is neither always fatal nor always harmless, in every format
    for (const format of FORMATS) {
      const f = report.byFormat[format];
      expect(f.cases).toBeGreaterThanOrEqual(Math.floor(CASES / FORMATS.length));
      expect(f.accepted).toBeGreaterThan(0);
      expect(Object.values(f.typed).reduce((a, b) => a + b, 0)).toBeGreaterThan(f.cases / 2);
    }
  }, 110_000);

  test('the supervisor reports an untyped error and kills a case that allocates without bound', async () => {
    const report = await runFuzz({ seed: 3, cases: 6, formats: ['canary'] });
    const found = failures(report);
    const kinds = found.map((f) => f.kind).sort();
    expect(kinds).toContain('untyped error');
    expect(kinds).toContain('over the memory bound');
    expect(kinds.every((k) => k === 'untyped error' || k === 'over the memory bound')).toBe(true);
    expect(found.find((f) => f.kind === 'untyped error')).toMatchObject({ error: expect.stringMatching(/^TypeError: canary/), replay: expect.stringMatching(/^npm run fuzz -- --seed 3 --case \d$/) });
    expect(report.cases).toBe(6);
  }, 60_000);
});
