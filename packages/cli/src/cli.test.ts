/**
 * End-to-end tests of the built `vqvid` binary (dist/bin.js): each test spawns node on it, as a user's shell
 * would, and checks exit codes, stdout/stderr and the files written. Sizes are tiny so the suite stays fast.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readCodes } from '@vqvid/core';
import { decodeY4m, encodeY4m, syntheticVideo } from '@vqvid/video';
import { BIN as bin, ensureBuilt, expectOneLineError, spawnCli, type SpawnRun } from './spawn-helpers';

let dir: string;

beforeAll(() => {
  ensureBuilt(); // `npm test` builds first; a bare `jest packages/cli` builds the CLI and what it imports here
  dir = mkdtempSync(join(tmpdir(), 'vqvid-cli-'));
  const clip = syntheticVideo({ kind: 'bouncing', width: 32, height: 24, frames: 10, seed: 3 });
  writeFileSync(join(dir, 'clip.y4m'), encodeY4m(clip));
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Run = SpawnRun;

const vqvid = (...args: string[]): Run => spawnCli(dir, ...args);


const TINY_MODEL = ['--hidden', '8', '--embed', '4', '--epochs', '2', '--steps-per-epoch', '2', '--batch', '2', '--crop', '4'];

describe('vqvid --help', () => {
  it('lists every command, and each command has its own help', () => {
    const top = vqvid('--help');
    expect(top.code).toBe(0);
    const names = ['demo', 'quantize', 'encode', 'train', 'predict', 'fill', 'generate', 'eval'];
    for (const n of names) expect(top.stdout).toMatch(new RegExp(`^  ${n} `, 'm'));
    for (const n of names) {
      const r = vqvid(n, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: vqvid ${n}`));
      expect(r.stdout).toContain('--json');
    }
    expect(vqvid('quantize', '--help').stdout).toMatch(/--k <int> +number of codes K \(default 128\)/);
    expect(vqvid('demo', '--help').stdout).not.toContain('--tiny');
  });

  it('without a command prints the help on stderr and exits 2', () => {
    const r = vqvid();
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: vqvid <command>/);
  });

  it('prints the package version', () => {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, '..', 'package.json'), 'utf8'));
    expect(vqvid('--version').stdout.trim()).toBe(pkg.version);
  });
});

describe('options come from the libraries', () => {
  it("offers every quantize backend (tfjs-wasm included), the library's defaults, and --plain for the paper's output", async () => {
    const help = vqvid('quantize', '--help').stdout;
    for (const name of ['tfjs-wasm', 'webasm', 'cpu', 'headlessgl']) expect(help).toContain(name);
    expect(help).toMatch(/--max-iter <n>[^\n]*\(default 50\)/);
    expect(vqvid('train', '--help').stdout).toMatch(/--hidden <n>[^\n]*\(default 128\)/);
    let r = vqvid('quantize', 'clip.y4m', '--k', '4', '--backend', 'tfjs-wasm', '-o', 'cb-tfjs.vqcb', '--json', '-q');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).backend).toBe('tfjs-wasm');
    r = vqvid('encode', 'clip.y4m', '--codebook', 'cb-tfjs.vqcb', '-o', 'codes-tfjs.vqc', '-q');
    expect(r.code).toBe(0);
    r = vqvid('train', 'codes-tfjs.vqc', '-o', 'model-plain', '--plain', ...TINY_MODEL, '-q');
    expect(r.code).toBe(0);
    const { RCNN, initBackend } = await import('@vqvid/model');
    await initBackend(['cpu']);
    const plain = await RCNN.load(join(dir, 'model-plain'));
    expect([plain.config.copy, plain.config.prior]).toEqual([false, 'none']);
    plain.dispose();
  });
});

describe('vqvid demo --tiny', () => {
  it('writes the report folder and prints where it is', () => {
    const out = join(dir, 'demo');
    const r = vqvid('demo', '--tiny', '-o', out, '--json', '--quiet');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const data = JSON.parse(r.stdout);
    expect(data.report).toBe(join(out, 'index.html'));
    for (const f of ['index.html', 'report.json', 'next.png', 'fill.png', 'codebook.png']) expect(existsSync(join(out, f))).toBe(true);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const bits = Object.fromEntries(report.bitsPerCode.map((s: { name: string; bitsPerCode: number }) => [s.name, s.bitsPerCode]));
    expect(Object.keys(bits)).toEqual(['rcnn', 'rnn', 'spatial n-gram', 'bigram', 'copy-previous', 'unigram', 'uniform']);
    expect(bits.uniform).toBe(Math.log2(16));
    for (const v of Object.values(bits)) expect(v).toBeGreaterThan(0);
    const names = report.nextFrame.map((s: { name: string }) => s.name);
    // each network twice: its argmax codes, and its distribution through the decoder chosen on training frames
    const { decoder, alpha } = report.decoder;
    expect(['centroid', 'skip', 'mbr', 'mean']).toContain(decoder);
    const rendered = (n: string) => `${n} ${decoder}${decoder === 'centroid' ? '' : ` (alpha ${alpha})`}`;
    expect(names).toEqual(['rcnn', rendered('rcnn'), 'rnn', rendered('rnn'), 'codebook ceiling', 'copy-last', 'linear extrapolation', 'flow extrapolation']);
    expect(Object.keys(report.decoder.scores)).toEqual(['centroid', 'skip', 'mbr', 'mean']);
    expect(report.fill.scores.map((s: { name: string }) => s.name)).toContain('flow interpolation');
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('src="codebook.png"');
    expect(html).toMatch(/<td>rcnn<\/td>/);
  });
});

describe('quantize, encode, train, predict, fill, generate, eval on a small .y4m', () => {
  it('runs the pipeline file to file', async () => {
    let r = vqvid('quantize', 'clip.y4m', '--k', '8', '--patch', '8', '-o', 'cb.vqcb', '--json', '-q');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ k: 8, dim: 64, frames: 10, width: 32, height: 24, normalization: 'per-video-std', checksum: expect.stringMatching(/^[0-9a-f]{8}$/) });

    r = vqvid('encode', 'clip.y4m', '--codebook', 'cb.vqcb', '-o', 'codes.vqc', '-q');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('10 frames x 3 x 4 cells, K = 8');

    r = vqvid('train', 'codes.vqc', '-o', 'model', ...TINY_MODEL, '--json', '-q');
    expect(r.code).toBe(0);
    const trained = JSON.parse(r.stdout);
    expect(trained).toMatchObject({ arch: 'rcnn', k: 8, epochs: 2, steps: 4, stopped: 'completed' });
    expect(existsSync(join(dir, 'model', 'model.vqm'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'model', 'train.json'), 'utf8')).history.epochs).toHaveLength(2);

    r = vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--steps', '3', '-o', 'next.y4m', '-q');
    expect(r.code).toBe(0);
    const next = decodeY4m(new Uint8Array(readFileSync(join(dir, 'next.y4m'))));
    expect([next.frames, next.width, next.height]).toEqual([3, 32, 24]);
    // the mean decoder at alpha 0 renders every cell as the frame before it: both frames copy the last input frame
    r = vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--steps', '2', '--decoder', 'mean', '--alpha', '0', '-o', 'still.y4m', '--json', '-q');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).decoder).toEqual({ decoder: 'mean', alpha: 0 });
    const still = decodeY4m(new Uint8Array(readFileSync(join(dir, 'still.y4m'))));
    const clip = decodeY4m(new Uint8Array(readFileSync(join(dir, 'clip.y4m'))));
    const size = 32 * 24;
    const lastIn = clip.data.subarray((clip.frames - 1) * size, clip.frames * size);
    for (const f of [0, 1]) for (let i = 0; i < size; i++) expect(Math.abs(still.data[f * size + i] - lastIn[i])).toBeLessThanOrEqual(1);
    r = vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--alpha', '2', '-q');
    expect(r.code).toBe(1); // an out-of-range value, as for every other option
    expect(r.stderr).toContain('--alpha');
    // the motion search is one more decoder setting, echoed in the report; beyond 16 pixels it is refused
    r = vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--steps', '1', '--decoder', 'mbr', '--search', '2', '--json', '-q');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).decoder).toEqual({ decoder: 'mbr', alpha: 1, search: 2 });
    // the default, --decoder auto: fitted on the context's last 3 frames (each predicted from those before it)
    r = vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--steps', '1', '--json', '-q');
    expect(r.code).toBe(0);
    const auto = JSON.parse(r.stdout);
    expect(auto.decoderFit.frames).toEqual([7, 8, 9]);
    expect(Object.keys(auto.decoderFit.scores)).toEqual(['centroid', 'skip', 'mbr', 'mean']);
    expect(auto.decoder).toEqual({ decoder: expect.any(String), alpha: auto.decoderFit.scores[auto.decoder.decoder].alpha });
    const errors = Object.values(auto.decoderFit.scores).map((x) => (x as { mse: number }).mse);
    expect(auto.decoderFit.scores[auto.decoder.decoder].mse).toBe(Math.min(...errors));
    expectOneLineError(vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--alpha', '0.5', '-q'), 2, /--alpha: give it with an explicit --decoder/);
    r = vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--search', '17', '-q');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--search');
    // --onnx: the same frames through onnxruntime-node (the output search and the recurrent step), to 8-bit rounding
    r = vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--steps', '2', '--decoder', 'mbr', '-o', 'tfjs.y4m', '-q');
    expect(r.code).toBe(0);
    r = vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--steps', '2', '--decoder', 'mbr', '--onnx', '-o', 'onnx.y4m', '--json', '-q');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ onnx: true, steps: 2 });
    const viaTfjs = decodeY4m(new Uint8Array(readFileSync(join(dir, 'tfjs.y4m'))));
    const viaOnnx = decodeY4m(new Uint8Array(readFileSync(join(dir, 'onnx.y4m'))));
    expect(viaOnnx.frames).toBe(2);
    let onnxDiff = 0;
    for (let i = 0; i < viaTfjs.data.length; i++) onnxDiff = Math.max(onnxDiff, Math.abs(viaTfjs.data[i] - viaOnnx.data[i]));
    expect(onnxDiff).toBeLessThanOrEqual(1);
    expectOneLineError(vqvid('predict', 'clip.y4m', '--model', 'model', '--codebook', 'cb.vqcb', '--mode', 'sample', '--onnx', '-q'), 2, /--onnx: the ONNX path renders the most likely frames/);

    r = vqvid('fill', 'codes.vqc', '-m', 'model', '-c', 'cb.vqcb', '--frame', '4', '-o', 'fill.png', '--json', '-q');
    expect(r.code).toBe(0);
    const filled = JSON.parse(r.stdout);
    expect(filled.frame).toBe(4);
    expect(filled.methods.map((m: { name: string }) => m.name)).toEqual(['rcnn', 'rcnn mbr (alpha 1)', 'codebook ceiling', 'linear interpolation', 'flow interpolation']);
    r = vqvid('fill', 'codes.vqc', '-m', 'model', '-c', 'cb.vqcb', '--frame', '4', '--search', '1', '--json', '-q');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).methods.map((m: { name: string }) => m.name)).toContain('rcnn mbr (alpha 1, search 1)');
    expect(readFileSync(join(dir, 'fill.png')).subarray(1, 4).toString()).toBe('PNG');

    // the paper's protocol: frames 4, 5, 6 missing between frames 3 and 7, written as a 3-frame video
    r = vqvid('fill', 'clip.y4m', '-m', 'model', '-c', 'cb.vqcb', '--frame', '4', '--missing', '3', '-o', 'gap.y4m', '--json', '-q');
    expect(r.code).toBe(0);
    const gap = JSON.parse(r.stdout);
    expect([gap.frame, gap.missing]).toEqual([4, 3]);
    // a video input: --decoder auto fits the decoder on one-frame fills of frames 1 and 2, before the gap
    expect(gap.decoderFit.frames).toEqual([1, 2]);
    expect(gap.decoder.alpha).toBe(gap.decoderFit.scores[gap.decoder.decoder].alpha);
    const gapRow = gap.decoder.decoder === 'centroid' ? 'rcnn centroid' : `rcnn ${gap.decoder.decoder} (alpha ${gap.decoder.alpha})`;
    expect(gap.methods.map((m: { name: string }) => m.name)).toEqual(['rcnn', gapRow, 'codebook ceiling', 'linear interpolation', 'flow interpolation']);
    const gapVideo = decodeY4m(readFileSync(join(dir, 'gap.y4m')));
    expect([gapVideo.frames, gapVideo.width, gapVideo.height]).toEqual([3, 32, 24]);
    r = vqvid('fill', 'codes.vqc', '-m', 'model', '-c', 'cb.vqcb', '--frame', '4', '--missing', '3', '-o', 'gap.vqc', '-q');
    expect(r.code).toBe(0);
    expect((await readCodes(join(dir, 'gap.vqc'))).codes.frames).toBe(3);
    expectOneLineError(vqvid('fill', 'clip.y4m', '-m', 'model', '-c', 'cb.vqcb', '--frame', '7', '--missing', '3', '-q'), 1, /--frame: expected an integer in \[1, 6\], got 7/);
    expect(vqvid('fill', 'clip.y4m', '-m', 'model', '-c', 'cb.vqcb', '--missing', '0', '-q').code).toBe(2);

    r = vqvid('generate', 'codes.vqc', '-m', 'model', '-c', 'cb.vqcb', '--steps', '5', '--seed', '7', '-o', 'gen.vqc', '-q');
    expect(r.code).toBe(0);
    return readCodes(join(dir, 'gen.vqc')).then(({ codes, meta }) => {
      expect([codes.frames, codes.rows, codes.cols, codes.k]).toEqual([5, 3, 4, 8]);
      expect(codes.geometry).toMatchObject({ patch: 8, stride: 8, width: 32, height: 24 });
      expect(meta).toMatchObject({ fps: 25, source: 'clip.y4m' });

      r = vqvid('eval', 'clip.y4m', '-m', 'model', '-c', 'cb.vqcb', '--test-frames', '4', '--json', '-q');
      expect(r.code).toBe(0);
      const ev = JSON.parse(r.stdout);
      expect(ev.split).toBe(6);
      expect(ev.bitsPerCode.map((s: { name: string }) => s.name)).toEqual(['rcnn', 'spatial n-gram', 'bigram', 'copy-previous', 'unigram', 'uniform']);
      expect(ev.nextFrame).toHaveLength(5);
      const table = vqvid('eval', 'clip.y4m', '-m', 'model', '-c', 'cb.vqcb', '--test-frames', '4', '-q');
      expect(table.stdout).toMatch(/^bigram +\d+\.\d{3} +\d+\.\d{2}$/m);
    });
  });
});

describe('errors', () => {
  beforeAll(() => {
    // a codebook of another K, to check the model/codebook K mismatch
    if (!existsSync(join(dir, 'cb.vqcb'))) vqvid('quantize', 'clip.y4m', '--k', '8', '-o', 'cb.vqcb', '-q');
    vqvid('quantize', 'clip.y4m', '--k', '4', '-o', 'cb4.vqcb', '-q');
    if (!existsSync(join(dir, 'model', 'model.vqm'))) vqvid('train', 'clip.y4m', '-c', 'cb.vqcb', '-o', 'model', ...TINY_MODEL, '-q');
  });

  it('a missing file: exit 1, one line naming it', () => {
    expectOneLineError(vqvid('quantize', 'nope.y4m', '-q'), 1, /nope\.y4m does not exist/);
    expectOneLineError(vqvid('encode', 'clip.y4m', '--codebook', 'missing.vqcb', '-q'), 1, /missing\.vqcb does not exist/);
  });

  it('a wrong format: exit 1', () => {
    expectOneLineError(vqvid('encode', 'clip.y4m', '--codebook', 'clip.y4m', '-q'), 1, /clip\.y4m: not a valid vqvid codebook file/);
    writeFileSync(join(dir, 'junk.y4m'), 'this is not a video');
    expectOneLineError(vqvid('quantize', 'junk.y4m', '-q'), 1, /junk\.y4m/);
    expectOneLineError(vqvid('quantize', 'cb.vqcb', '-q'), 1, /cb\.vqcb: is a vqvid container .* expected a video/);
  });

  it("a codebook whose K differs from the model's: exit 1", () => {
    expectOneLineError(vqvid('predict', 'clip.y4m', '-m', 'model', '-c', 'cb4.vqcb', '-q'), 1, /model k: expected the codebook's K = 4, got 8/);
  });

  it('a model or codes made with another codebook: exit 1, naming the mismatch', () => {
    expect(vqvid('quantize', 'clip.y4m', '--k', '8', '--stride', '4', '-o', 'cb-s4.vqcb', '-q').code).toBe(0);
    if (!existsSync(join(dir, 'codes.vqc'))) vqvid('encode', 'clip.y4m', '-c', 'cb.vqcb', '-o', 'codes.vqc', '-q');
    // the model was trained on cb.vqcb's codes: another codebook (here of another stride) is refused first, by checksum
    expectOneLineError(vqvid('fill', 'codes.vqc', '-m', 'model', '-c', 'cb-s4.vqcb', '--frame', '4', '-q'), 1, /model: .* was trained with codebook [0-9a-f]{8}, but --codebook is [0-9a-f]{8}/);
    // codes of one codebook decoded with another of the same K and grid: refused by the codec, naming the checksums
    expect(vqvid('quantize', 'clip.y4m', '--k', '8', '--seed', '5', '-o', 'cb-seed5.vqcb', '-q').code).toBe(0);
    expectOneLineError(vqvid('predict', 'codes.vqc', '-m', 'model', '-c', 'cb-seed5.vqcb', '-q'), 1, /model: .* was trained with codebook [0-9a-f]{8}, but --codebook is [0-9a-f]{8}/);
  });

  it('bad options: exit 2 for usage errors, 1 for out-of-range values', () => {
    expectOneLineError(vqvid('quantize', 'clip.y4m', '--k', 'abc'), 2, /--k: expected an integer, got "abc" \(see 'vqvid quantize --help'\)/);
    expectOneLineError(vqvid('quantize', 'clip.y4m', '--bogus'), 2, /Unknown option '--bogus'/);
    expectOneLineError(vqvid('quantize'), 2, /expected 1 argument\(s\), got 0/);
    expectOneLineError(vqvid('frobnicate'), 2, /unknown command "frobnicate"/);
    expectOneLineError(vqvid('encode', 'clip.y4m'), 2, /missing required option --codebook/);
    expectOneLineError(vqvid('quantize', 'clip.y4m', '--k', '0', '-q'), 1, /k: expected an integer in \[1, /);
    expectOneLineError(vqvid('fill', 'clip.y4m', '-m', 'model', '-c', 'cb.vqcb', '--frame', '9', '-q'), 1, /--frame: expected an integer in \[1, 8\], got 9/);
  });

  it('--verbose adds the stack trace', () => {
    const r = vqvid('quantize', 'nope.y4m', '-q', '--verbose');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vqvid: error: .*nope\.y4m does not exist\n/);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

describe('the published binary runs no repository scripts', () => {
  it("has no bench command: a bench/run.mjs in a parent folder is never executed", () => {
    const repo = mkdtempSync(join(tmpdir(), 'vqvid-bench-'));
    try {
      mkdirSync(join(repo, 'bench'));
      writeFileSync(join(repo, 'bench', 'run.mjs'), "require('node:fs').writeFileSync('ran', 'x');");
      const r = spawnSync(process.execPath, [bin, 'bench'], { cwd: repo, encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/unknown command/i);
      expect(existsSync(join(repo, 'ran'))).toBe(false);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe('Ctrl-C during training', () => {
  it('exits 130 after saving a checkpoint, and --resume finishes the run', async () => {
    const args = ['train', 'codes.vqc', '-o', 'model-int', '--hidden', '8', '--embed', '4', '--epochs', '40', '--steps-per-epoch', '1', '--batch', '2', '--crop', '4'];
    if (!existsSync(join(dir, 'codes.vqc'))) vqvid('encode', 'clip.y4m', '-c', 'cb.vqcb', '-o', 'codes.vqc', '-q');
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir });
    let stderr = '';
    const code = await new Promise<number | null>((done) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        // the first progress line means training has started
        if (/^train /m.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => done(c));
    });
    expect(code).toBe(130);
    expect(stderr).toMatch(/^vqvid: interrupted: training stopped after \d+ steps; checkpoint saved in model-int\/checkpoint, continue with --resume$/m);
    expect(existsSync(join(dir, 'model-int', 'checkpoint', 'checkpoint.vqm'))).toBe(true);
    expect(existsSync(join(dir, 'model-int', 'model.vqm'))).toBe(false);
    const r = vqvid(...args, '--resume', '--json', '-q');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ epochs: 40, steps: 40, stopped: 'completed' });
  });
});
