// Smoke test of every example: runs each with small settings, checks its exit code, its printed output and
// the files it writes, and prints a summary. Needs the packages built (npm run build).
//   node examples/run-all.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'vqvid-examples-'));

const examples = [
  {
    name: 'quantize-video',
    args: [join('pipeline', 'quantize-video.mjs'), '--k', '16', '--frames', '8', '--out', join(out, 'q')],
    prints: /reconstruction PSNR: \d+\.\d+ dB/,
    files: ['q/codebook.png', 'q/reconstruction.png', 'q/codebook.vqcb'],
  },
  {
    name: 'predict-next',
    args: [join('pipeline', 'predict-next.mjs'), '--frames', '14', '--steps', '5', '--out', join(out, 'p')],
    prints: /PSNR of the next frame: model \d+\.\d+ dB, copy-last \d+\.\d+ dB/,
    files: ['p/prediction.png', 'p/model/model.vqm'],
  },
  {
    name: 'onnx-predict',
    args: [join('pipeline', 'onnx-predict.mjs'), '--frames', '16', '--steps', '10', '--out', join(out, 'o')],
    prints: /3 frames: tfjs \d+\.\d ms, ONNX \d+\.\d ms; largest pixel difference \d\.\d{2}e[+-]\d+/,
    files: ['o/output.onnx', 'o/step.onnx'],
  },
  {
    name: 'fill-frame',
    args: [join('pipeline', 'fill-frame.mjs'), '--frames', '12', '--steps', '5'],
    prints: /flow interpolation +\d+\.\d+ +-?\d\.\d{3}/,
    files: [],
  },
  {
    name: 'features-probe',
    args: [join('pipeline', 'features-probe.mjs'), '--frames', '24', '--steps', '10'],
    prints: /test cells: AUC 0\.\d{3}, accuracy 0\.\d{3}/,
    files: [],
  },
  {
    name: 'metrics-only',
    args: [join('metrics-only', 'index.mjs')],
    prints: /codes: \d+\.\d{3} bits\/code, perplexity \d+\.\d{3}, accuracy 0\.75/,
    files: [],
  },
];

let failed = 0;
const rows = [];
for (const ex of examples) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ex.args, { cwd: here, encoding: 'utf8', timeout: 120_000 });
  const missing = ex.files.filter((f) => !existsSync(join(out, f)));
  const problems = [];
  if (r.status !== 0) problems.push(`exit code ${r.status}${r.signal ? ` (${r.signal})` : ''}`);
  if (!ex.prints.test(r.stdout)) problems.push(`output does not match ${ex.prints}`);
  if (missing.length) problems.push(`missing ${missing.join(', ')}`);
  if (problems.length) {
    failed++;
    process.stderr.write(`--- ${ex.name}\n${r.stdout}${r.stderr}\n`);
  }
  rows.push(`${problems.length ? 'FAIL' : 'ok  '}  ${ex.name.padEnd(16)} ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s  ${problems.join('; ')}`);
}
rmSync(out, { recursive: true, force: true });
console.log(rows.join('\n'));
console.log(`examples: ${examples.length - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
