#!/usr/bin/env node
// Rate–distortion of the code model as a video compressor (issue 17): for each codebook (K and stride), the
// test part's codes are range-coded with the RCNN, the adaptive models of @vqvid/compress (bigram, copy,
// static), a Witten-Bell bigram counted on the training part, and compared with gzip and brotli of the raw
// codes (uint16 little-endian; zstd is not in node:zlib on Node 20) and with ffmpeg's mpeg4 and libx264 at
// the PSNR closest to the codebook's. Every coded stream is decoded back and checked bit for bit; the check
// "compressed bytes / the model's own bits" (frames 1.. by the model's logProb, frame 0 by the adaptive
// unigram; the header and the 12 bytes of framing per chunk excluded) is reported per model.
//   npm run bench:compress -- --quick                                  # synthetic clip, a few minutes
//   npm run bench:compress -- --video /work/shared/data/vtest.avi      # K 256/1024/4096, stride 8 and 4
// Writes DIR/results.json and DIR/report.md. Needs the built packages (npm run build).
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants as zc, gzipSync } from 'node:zlib';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import { CodesEncoder, decompressCodes } from '@vqvid/compress';
import { BigramModel } from '@vqvid/baselines';
import { PatchCodec } from '@vqvid/quantize';
import { initBackend } from '@vqvid/model';
import { evaluateFrames } from '@vqvid/metrics';
import { readVideo, writeVideo } from '@vqvid/video';
import {
  benchConfig, clamp, fmt, parseBenchArgs, r4, readBenchVideo, resultsHeader, splitCodes, stageTimer, trainAll, writeResults,
} from './common.mjs';

const { args, root, quick, seed, W, H, out } = parseBenchArgs(
  'npm run bench:compress --',
  'compress',
  { 'test-frames': { type: 'string' }, 'steps-per-epoch': { type: 'string' } },
  `[--test-frames N] [--steps-per-epoch N]
  --test-frames N  code at most N frames of the test part (default: quick 8, full 20; vtest's whole test part is 159 frames,
                   about 30 s more per frame on 2 cores, mostly the RCNN's K = 4096 distributions)
  --steps-per-epoch N  each RCNN trains 3 epochs (2 with --quick) of N steps, then N more on all training frames (default: quick 4, full 12)`,
);
const stepsPerEpoch = Number(args['steps-per-epoch'] ?? (quick ? 4 : 12));
const base = benchConfig({ quick, seed, video: args.video ?? 'synthetic:bouncing', W, H });
const config = {
  ...base,
  ks: quick ? [64, 256] : [256, 1024, 4096],
  strides: [8, 4],
  // a fixed, smaller step budget than the paper bench (which trains 10 x 25 + 50 steps): the RD table
  // compares coders, and six networks must train in about 12 minutes on 2 cores
  fit: { ...base.fit, epochs: quick ? 2 : 3, stepsPerEpoch: stepsPerEpoch, patience: 2 },
  refitSteps: stepsPerEpoch,
  testFrames: Number(args['test-frames'] ?? (quick ? 8 : 20)),
  mpeg4Qscales: [2, 31],
  x264Crf: [0, 51],
};
const { stage, stages, loadAtStart } = stageTimer();

const raw = await stage('read', () => readBenchVideo(args, { quick, seed, W, H }));
const nTrain = Math.floor(raw.frames * 0.8);
const nFit = Math.floor(nTrain * 0.875);
const testEnd = Math.min(raw.frames, nTrain + config.testFrames);
const truth = sliceVideo(raw, nTrain, testEnd);
const nTest = testEnd - nTrain;

// ---- codebooks and codes, then every network trained two at a time ----
const coded = new Map();
const codecs = new Map();
for (const stride of config.strides) {
  for (const k of config.ks) {
    const key = `${k}/${stride}`;
    const codec = await stage(`quantize ${key}`, () =>
      PatchCodec.fit(sliceVideo(raw, 0, nTrain), { k, stride, seed, maxIter: config.quantizeMaxIter, sample: config.quantizeSample }),
    );
    codecs.set(key, codec);
    // the frames after the coded test frames are never used: not encoded
    coded.set(key, splitCodes(await codec.encode(sliceVideo(raw, 0, testEnd)), nFit, nTrain));
  }
}
await initBackend();
const { kernel, ...shared } = config.model;
const jobs = [...coded.keys()].map((key) => {
  const k = Number(key.split('/')[0]);
  return { name: `rcnn ${key}`, k, key, model: 'rcnn', options: { k, softmax: k <= 1024 ? 'full' : 'factored', ...shared, kernel } };
});
const trained = await stage('train', () => trainAll(jobs, { coded, config, seed, root }));

/** Codes `test` with `model`; returns sizes, the model-bits check and whether decoding gave the codes back. */
function codeWith(name, model, test, modelBitsAfterFrame0) {
  const t = performance.now();
  const enc = new CodesEncoder(model, test);
  const n = test.rows * test.cols;
  const parts = [];
  let frame0Bits = 0;
  for (let f = 0; f < test.frames; f++) {
    parts.push(enc.push(test.codes.subarray(f * n, (f + 1) * n)));
    if (f === 0) frame0Bits = enc.idealBits;
  }
  const idealBits = enc.idealBits;
  parts.push(enc.finish());
  const bytes = Buffer.concat(parts);
  const encodeSeconds = (performance.now() - t) / 1000;
  const t2 = performance.now();
  const back = decompressCodes(bytes, typeof model === 'string' ? undefined : model);
  const decodeSeconds = (performance.now() - t2) / 1000;
  const exact = back.codes.codes.length === test.codes.length && back.codes.codes.every((c, i) => c === test.codes[i]);
  const header = 8 + bytes.readUInt32LE(4);
  // framing: 12 bytes per chunk and end mark (length, frame count, CRC); the payloads (coder flushes included) are the coding
  let framing = 0;
  for (let off = header; off < bytes.length; off += 12 + bytes.readUInt32LE(off)) framing += 12;
  const stream = bytes.length - header - framing;
  const row = { coder: name, bytes: bytes.length, headerBytes: header, bytesPerFrame: r4(bytes.length / test.frames), bitsPerCode: r4((bytes.length * 8) / test.codes.length), exact, encodeSeconds: r4(encodeSeconds), decodeSeconds: r4(decodeSeconds) };
  // the model's own cost in bytes: its logProb over frames 1.., plus frame 0 under the adaptive unigram
  const ownBits = modelBitsAfterFrame0 === undefined ? idealBits : modelBitsAfterFrame0 + frame0Bits;
  row.streamVsModelBits = r4(stream / (ownBits / 8));
  row.quantizedIdealVsModelBits = r4(idealBits / ownBits);
  return row;
}

const bitsOf = (m, v) => -m.logProb(v).reduce((a, b) => a + b, 0) / Math.LN2;

/** uint16 little-endian bytes of the codes (every K here is ≤ 65536). */
const rawBytes = (v) => Buffer.from(Uint16Array.from(v.codes).buffer);

const ffmpegWork = mkdtempSync(join(os.tmpdir(), 'vqvid-rd-'));
/** ffmpeg round trip of the gray test frames with `codec` at `value` of `flag`: bytes and PSNR/SSIM as decoded. */
async function ffmpegRound(codec, flag, value) {
  const file = join(ffmpegWork, `${codec}-${value}.${codec === 'mpeg4' ? 'avi' : 'mp4'}`);
  await writeVideo(file, truth, { codec, ffmpegArgs: [flag, String(value), '-pix_fmt', 'yuv420p', ...(codec === 'libx264' ? ['-preset', 'medium'] : [])] });
  const back = await readVideo(file, { width: truth.width, height: truth.height });
  const frames = Math.min(back.frames, truth.frames);
  const m = evaluateFrames(sliceVideo(back, 0, frames), sliceVideo(truth, 0, frames));
  return { setting: `${flag} ${value}`, bytes: statSync(file).size, psnr: m.psnr, ssim: m.ssim };
}
/** The setting of `flag` in [lo, hi] (quality falls as it rises) whose PSNR is closest to `target` (bisection). */
async function matchPsnr(codec, flag, [lo, hi], target) {
  const tried = new Map();
  const at = async (v) => {
    if (!tried.has(v)) tried.set(v, await ffmpegRound(codec, flag, v));
    return tried.get(v);
  };
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await at(mid)).psnr >= target) lo = mid;
    else hi = mid;
  }
  const [a, b] = [await at(lo), await at(hi)];
  const best = Math.abs(a.psnr - target) <= Math.abs(b.psnr - target) ? a : b;
  return { codec, ...best, bytesPerFrame: r4(best.bytes / nTest), psnr: r4(best.psnr), ssim: r4(best.ssim), settingsTried: tried.size };
}

const rows = [];
for (const r of trained) {
  const { key } = r;
  const codec = codecs.get(key);
  const { train, all } = coded.get(key);
  const test = sliceCodes(all, nTrain, testEnd);
  const result = await stage(`code ${key}`, async () => {
    const decoded = evaluateFrames(clamp(codec.decode(test)), truth);
    const psnr = decoded.psnr;
    const counted = new BigramModel().fit(train);
    const coders = [
      codeWith('rcnn', r.model, test, bitsOf(r.model, test)),
      codeWith('bigram (counted on train)', counted, test, bitsOf(counted, test)),
      codeWith('adaptive bigram', 'bigram', test),
      codeWith('adaptive copy', 'copy', test),
      codeWith('adaptive static', 'static', test),
    ];
    const generic = [
      { coder: 'gzip -9 of uint16 codes', bytes: gzipSync(rawBytes(test), { level: 9 }).length },
      { coder: 'brotli q11 of uint16 codes', bytes: brotliCompressSync(rawBytes(test), { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: test.codes.length * 2 } }).length },
    ].map((g) => ({ ...g, bytesPerFrame: r4(g.bytes / test.frames), bitsPerCode: r4((g.bytes * 8) / test.codes.length) }));
    const video = [await matchPsnr('mpeg4', '-q:v', config.mpeg4Qscales, psnr), await matchPsnr('libx264', '-crf', config.x264Crf, psnr)];
    return { key, k: codec.codebook.k, stride: test.geometry.stride, grid: [test.rows, test.cols], frames: test.frames, psnr: r4(psnr), ssim: r4(decoded.ssim), rcnnTraining: r.train, coders, generic, video };
  });
  rows.push(result);
  r.model.dispose();
}
rmSync(ffmpegWork, { recursive: true, force: true });

const results = { ...resultsHeader('compress', 'npm run bench:compress --', root, loadAtStart), config, frames: { total: raw.frames, train: nTrain, test: [nTrain, testEnd] }, rows, stages };
const rdRows = rows.map((r) => {
  const by = (name) => r.coders.find((c) => c.coder === name) ?? r.generic.find((c) => c.coder === name);
  return [
    `${r.k}`, `${r.stride}`, r.psnr, r.ssim,
    by('rcnn').bytesPerFrame, by('bigram (counted on train)').bytesPerFrame, by('adaptive bigram').bytesPerFrame, by('adaptive copy').bytesPerFrame, by('adaptive static').bytesPerFrame,
    by('gzip -9 of uint16 codes').bytesPerFrame, by('brotli q11 of uint16 codes').bytesPerFrame,
    `${r.video[0].bytesPerFrame} (${r.video[0].psnr} dB)`, `${r.video[1].bytesPerFrame} (${r.video[1].psnr} dB)`,
    r.coders.every((c) => c.exact) ? 'yes' : 'NO',
  ];
});
/** A markdown table of a header and rows of cells. */
const mdTable = (head, body) => [head, head.map(() => '---'), ...body.map((r) => r.map(fmt))].map((r) => `| ${r.join(' | ')} |`).join('\n') + '\n';
const checkRows = rows.flatMap((r) => r.coders.map((c) => [`${r.k}/${r.stride}`, c.coder, c.bitsPerCode, c.streamVsModelBits, c.quantizedIdealVsModelBits, c.encodeSeconds, c.decodeSeconds]));
const report = `# Compression: rate–distortion of the code models

${results.command} (${results.date}, ${results.commit}); ${config.video} at ${W}x${H}, test frames ${nTrain}..${testEnd - 1}
(${nTest} frames). Bytes per frame of the test part; PSNR/SSIM of the codebook's decoding (the codes are
lossless, so every code coder has the same distortion); mpeg4 and libx264 (yuv420p, gray content) at the
setting whose PSNR is closest to the codebook's, measured with @vqvid/metrics on the decoded gray frames.
RCNN: ${config.model.embedDim}/${config.model.hidden}, ${config.fit.epochs} x ${config.fit.stepsPerEpoch} + ${config.refitSteps} steps.

${mdTable(['K', 'stride', 'PSNR', 'SSIM', 'RCNN', 'bigram (train)', 'adaptive bigram', 'adaptive copy', 'adaptive static', 'gzip', 'brotli', 'mpeg4 (PSNR)', 'libx264 (PSNR)', 'exact'], rdRows)}

## Compressed size vs the model's own bits

stream/model: coded bytes without the header and the 12-byte chunk framing (the coder's 7-byte flush per chunk
included) over the model's bits/8 (frames 1.. by its
logProb, frame 0 by the adaptive unigram); the adaptive models are their own reference (their ideal under the
quantized counts). ideal/model: the ideal size under the quantized frequencies over the model's bits.

${mdTable(['codebook', 'coder', 'bits/code', 'stream/model', 'ideal/model', 'encode s', 'decode s'], checkRows)}
`;
writeResults(out, results, report);
process.stdout.write(report);
