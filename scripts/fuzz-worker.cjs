'use strict';
/**
 * The child process of the fuzzer (started by scripts/fuzz-lib.cjs): builds valid files of each kind vqvid reads,
 * then for each case i of [from, to) damages one (scripts/fuzz-mutate.cjs, seeded by seed and i) and has the
 * library read it (files go to `dir`, which the supervisor removes). It reports each case over IPC before it runs
 * ('start', with what was damaged, so a case that has to be killed is still known) and after ('done', with the
 * outcome and what it cost). It runs the built packages (dist), like the CLI tests: a case that exhausts memory
 * takes this process down, not the test runner.
 */
const fs = require('node:fs');
const path = require('node:path');
const tf = require('@tensorflow/tfjs-core');
const core = require('@vqvid/core');
const { encodeY4m, probeVideo, readVideo, syntheticVideo } = require('@vqvid/video');
const { PatchCodec, Quantizer } = require('@vqvid/quantize');
const { RCNN, RNN, initBackend } = require('@vqvid/model');
const { mutateContainer, mutateY4m } = require('./fuzz-mutate.cjs');

/** The Rng of case i: a hash of (seed, i), so any case can be replayed alone. */
function caseRng(seed, i) {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return new core.Rng((h ^ (h >>> 16)) >>> 0);
}

const quiet = () => undefined;

/** Valid files of every kind, a few variants each (deterministic). */
async function makeBases(dir) {
  const clip = (w, h, frames) => {
    const v = syntheticVideo({ kind: 'bouncing', width: w, height: h, frames, seed: 3, fps: 10 });
    return { ...v, data: v.data.map(Math.round) };
  };
  const bases = { y4m: [], container: [], codebook: [], codes: [], model: [], canary: [new Uint8Array(0)] };
  bases.y4m.push(encodeY4m(clip(8, 6, 3)), encodeY4m(clip(7, 5, 2), { colorspace: '420' }), encodeY4m(clip(6, 4, 2), { colorspace: '444', comments: ['fuzz'] }), encodeY4m(clip(8, 8, 2), { colorspace: '420jpeg', fps: 29.97 }));
  bases.container.push(
    core.packContainer('fuzz', { a: 1, list: [1, 2, 3], nested: { s: 'x', n: null } }, { f: Float32Array.of(1, 2, 3, 4, 5), i: Int32Array.of(-1, 0, 7), u16: Uint16Array.of(1, 2, 3, 4), u8: Uint8Array.of(9, 8, 7) }),
    core.packContainer('fuzz', {}, {}),
  );
  const video = clip(16, 16, 4);
  const file = (name) => path.join(dir, name);
  const read = (name) => new Uint8Array(fs.readFileSync(file(name)));
  for (const [name, normalization] of [['a.vqcb', 'per-video-std'], ['b.vqcb', 'codebook-std']]) {
    const codec = await PatchCodec.fit(video, { k: 4, patch: 4, seed: 1, maxIter: 3, backend: 'cpu', normalization, log: quiet });
    await codec.save(file(name));
    bases.codebook.push(read(name));
    const codes = await codec.encode(video);
    await core.writeCodes(file(`${name}.vqc`), codes, { fps: 10, source: 'clip.y4m' });
    bases.codes.push(read(`${name}.vqc`));
    codec.dispose();
  }
  const legacy = { rows: 2, cols: 3, frames: 2, k: 4, codes: Uint16Array.of(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3) };
  await core.writeCodes(file('legacy.vqc'), legacy, { size: 4, stride: 4, width: 12, height: 8, std: 40 });
  bases.codes.push(read('legacy.vqc'));
  const models = [
    new RCNN({ k: 4, embedDim: 4, hidden: 6, seed: 4 }),
    new RCNN({ k: 6, embedDim: 3, hidden: 4, seed: 5, softmax: 'factored', direct: true, copy: false, prior: 'none' }),
    new RNN({ k: 4, embedDim: 3, hidden: 5, seed: 6 }),
  ];
  for (const [j, m] of models.entries()) {
    await m.save(file(`m${j}`));
    m.dispose();
    bases.model.push(read(path.join(`m${j}`, 'model.vqm')));
  }
  return bases;
}

/** Reads damaged `bytes` as a file of `format` the way a user would; returns the bytes of tensors a model held. */
async function readAs(format, bytes, dir, rng) {
  if (format === 'canary') return canary(rng);
  if (format === 'y4m') {
    if (rng.next() < 0.7) await readVideo(bytes, { format: 'y4m' });
    else await probeVideo(bytes, { format: 'y4m' });
    return 0;
  }
  if (format === 'container') {
    core.unpackContainer(bytes, 'fuzz', 'fuzz.bin');
    return 0;
  }
  if (format === 'codes') {
    fs.writeFileSync(path.join(dir, 'case.vqc'), bytes);
    await core.readCodes(path.join(dir, 'case.vqc'));
    return 0;
  }
  if (format === 'codebook') {
    fs.writeFileSync(path.join(dir, 'case.vqcb'), bytes);
    const loaded = rng.next() < 0.7 ? await PatchCodec.load(path.join(dir, 'case.vqcb'), { backend: 'cpu', log: quiet }) : await Quantizer.load(path.join(dir, 'case.vqcb'), { backend: 'cpu', log: quiet });
    loaded.dispose();
    return 0;
  }
  fs.mkdirSync(path.join(dir, 'case-model'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'case-model', 'model.vqm'), bytes);
  const before = tf.memory().numBytes;
  const m = await RCNN.load(path.join(dir, 'case-model'));
  const held = tf.memory().numBytes - before;
  m.dispose();
  return held;
}

/**
 * The supervisor's own check (tests/fuzz.test.ts): a "reader" that fails the way a broken one would, so that a
 * fuzzer that no longer notices is itself caught. Half the cases throw a TypeError; the others allocate 32 MB
 * blocks until killed (or until 4 GB, which no bound allows).
 */
function canary(rng) {
  if (rng.next() < 0.5) throw new TypeError('canary: an untyped error');
  const held = [];
  for (let i = 0; i < 128; i++) held.push(new Uint8Array(32 * 2 ** 20).fill(1));
  return held.length;
}

/** What an error is, in one line, for the report. */
function describeError(e) {
  if (!(e instanceof Error)) return `non-Error thrown: ${String(e).slice(0, 200)}`;
  const at = (e.stack ?? '').split('\n').find((l) => /^\s+at /.test(l));
  return `${e.name}: ${e.message.slice(0, 300)}${at ? ` (${at.trim()})` : ''}`;
}

const send = (msg) => new Promise((resolve) => process.send(msg, resolve));

async function main() {
  const { seed, from, to, formats, dir } = JSON.parse(process.argv[2]);
  let current = null;
  // A loader's stray promise that rejects later is as much its failure as a throw.
  const stray = (e) => {
    if (current !== null) void send({ t: 'stray', i: current, error: describeError(e) });
  };
  process.on('unhandledRejection', stray);
  process.on('uncaughtException', stray);
  process.on('disconnect', () => process.exit(0)); // the supervisor is gone: stop, do not run on unwatched
  await initBackend(['cpu']);
  const bases = await makeBases(dir);
  await send({ t: 'ready' });
  for (let i = from; i < to; i++) {
    const format = formats[i % formats.length];
    const rng = caseRng(seed, i);
    const list = bases[format];
    const base = list[rng.int(list.length)];
    const mutate = { y4m: mutateY4m, canary: () => ({ bytes: base, what: 'canary' }) }[format] ?? mutateContainer;
    const { bytes, what } = mutate(rng, base);
    current = i;
    const m0 = process.memoryUsage();
    const tf0 = tf.memory();
    await send({ t: 'start', i, format, what: `${format} #${list.indexOf(base)}: ${what}`, rss: m0.rss });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let outcome = 'ok';
    let code;
    let error;
    let tfHeld = 0;
    try {
      tfHeld = await readAs(format, bytes, dir, rng);
    } catch (e) {
      if (e instanceof core.VqvidError) {
        outcome = 'typed';
        code = e.code;
      } else {
        outcome = 'untyped';
        error = describeError(e);
      }
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const m1 = process.memoryUsage();
    const tf1 = tf.memory();
    current = null;
    await send({
      t: 'done', i, outcome, code, error, ms, cpuMs: (cpu.user + cpu.system) / 1000,
      rssGrowth: m1.rss - m0.rss, arrayBufferGrowth: m1.arrayBuffers - m0.arrayBuffers, tfHeld,
      tfLeakBytes: tf1.numBytes - tf0.numBytes, tfLeakTensors: tf1.numTensors - tf0.numTensors,
    });
  }
  await send({ t: 'end' });
  process.disconnect();
}

main().catch((e) => {
  process.stderr.write(`fuzz worker failed: ${e.stack ?? e}\n`);
  process.exit(3);
});
