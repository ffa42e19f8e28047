#!/usr/bin/env node
// Reading benchmark and check: streams a real video at full size (peak RSS must stay bounded, the issue
// asks < 300 MB for vtest.avi), reads it whole at 320x240, and times synthetic clip generation.
// Usage: npm run bench -w @vqvid/video -- --video ../shared/data/vtest.avi   (needs `npm run build` first)
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { probeVideo, readVideo, resolveFfmpeg, streamVideo, syntheticVideo } from '../dist/index.mjs';

const { values } = parseArgs({ options: { video: { type: 'string' }, width: { type: 'string', default: '320' }, height: { type: 'string', default: '240' } } });
if (!values.video) {
  console.error('usage: node bench/read.mjs --video PATH [--width 320 --height 240]');
  process.exit(2);
}
const video = resolve(process.env.INIT_CWD ?? process.cwd(), values.video);
const mb = (b) => Math.round((b / 2 ** 20) * 10) / 10;

/** Runs `fn` while sampling RSS every 10 ms; returns its result, seconds taken and the peak RSS in MB. */
async function measured(fn) {
  globalThis.gc?.();
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const t0 = performance.now();
  const result = await fn(() => (peak = Math.max(peak, process.memoryUsage().rss)));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  return { ...result, peakRssMB: mb(Math.max(peak, process.memoryUsage().rss)), seconds: Math.round(seconds * 1000) / 1000 };
}

const baselineRssMB = mb(process.memoryUsage().rss);
const info = await probeVideo(video);

const stream = await measured(async (sample) => {
  let frames = 0;
  let width = 0;
  let height = 0;
  for await (const f of streamVideo(video)) {
    frames++;
    ({ width, height } = f);
    sample();
  }
  return { frames, width, height };
});

const whole = await measured(async () => {
  const v = await readVideo(video, { width: Number(values.width), height: Number(values.height) });
  return { frames: v.frames, width: v.width, height: v.height, MB: mb(v.data.byteLength) };
});

const synthetic = {};
for (const kind of ['bouncing', 'pan', 'translate']) {
  syntheticVideo({ kind, width: 64, height: 64, frames: 20, seed: 0 }); // warm-up
  const reps = 20;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) syntheticVideo({ kind, width: 64, height: 64, frames: 20, seed: i });
  synthetic[kind] = { msPer64x64x20: Math.round(((performance.now() - t0) / reps) * 100) / 100 };
}

const report = {
  video,
  ffmpeg: await resolveFfmpeg(),
  probe: info,
  baselineRssMB,
  stream,
  [`read${values.width}x${values.height}`]: whole,
  synthetic,
  checks: {
    streamUnder300MB: stream.peakRssMB < 300,
    // Rate of the streaming pass relative to the resized whole read, both measured here.
    streamVsWholeReadTimeRatio: Math.round((stream.seconds / whole.seconds) * 100) / 100,
    syntheticUnder100ms: Object.values(synthetic).every((s) => s.msPer64x64x20 < 100),
  },
};
console.log(JSON.stringify(report, null, 2));
