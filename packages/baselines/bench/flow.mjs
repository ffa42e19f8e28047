#!/usr/bin/env node
// Speed and accuracy of the flow baselines on 320x240 frames. Prints one JSON object.
//   node bench/flow.mjs [--video PATH] [--frames N] [--runs N]
// Needs the built package (npm run build -w @vqvid/baselines).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  copyLast, flowExtrapolate, flowInterpolate, linearExtrapolate, linearInterpolate, opticalFlow,
} from '../dist/index.mjs';

const W = 320;
const H = 240;
const require = createRequire(import.meta.url);

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** Deterministic smooth texture: a few sinusoids with 1/f-like amplitudes (LCG-seeded). */
function texture(seed) {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const waves = Array.from({ length: 16 }, () => {
    const lambda = 6 * (128 / 6) ** rand();
    const th = rand() * Math.PI;
    return { kx: (2 * Math.PI * Math.cos(th)) / lambda, ky: (2 * Math.PI * Math.sin(th)) / lambda, ph: rand() * 7, a: Math.sqrt(lambda) };
  });
  const total = waves.reduce((t, w) => t + w.a, 0);
  return (x, y) => 127.5 + (127.5 * waves.reduce((t, w) => t + w.a * Math.sin(w.kx * x + w.ky * y + w.ph), 0)) / total;
}

function frameOf(tex, dx, dy) {
  const data = new Float32Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = tex(x - dx, y - dy);
  return { width: W, height: H, frames: 1, data };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median wall time and median CPU time (user+system; the code is single-threaded, so this is one core's time). */
function timeMs(fn, runs) {
  const wall = [];
  const cpu = [];
  let out;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    out = fn();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    wall.push(performance.now() - t0);
  }
  return { ms: { wall: +median(wall).toFixed(1), cpu: +median(cpu).toFixed(1) }, out };
}

/** MSE over the interior (a 16 px border is excluded: content entering the frame is unknowable). */
function mse(a, b, margin = 16) {
  let s = 0;
  let n = 0;
  for (let y = margin; y < H - margin; y++) for (let x = margin; x < W - margin; x++) {
    const i = y * W + x;
    s += (a.data[i] - b.data[i]) ** 2;
    n++;
  }
  return s / n;
}

function synthetic(runs) {
  const tex = texture(12345);
  const [dx, dy] = [3.5, -2.25];
  const a = frameOf(tex, 0, 0);
  const b = frameOf(tex, dx, dy);
  const flow = timeMs(() => opticalFlow(a, b), runs);
  let aee = 0;
  let n = 0;
  for (let y = 16; y < H - 16; y++) for (let x = 16; x < W - 16; x++) {
    const i = y * W + x;
    aee += Math.hypot(flow.out.u[i] - dx, flow.out.v[i] - dy);
    n++;
  }
  const interp = timeMs(() => flowInterpolate(a, b), runs);
  const extrap = timeMs(() => flowExtrapolate(a, b), runs);
  const mid = frameOf(tex, dx / 2, dy / 2);
  const next = frameOf(tex, 2 * dx, 2 * dy);
  const linMse = mse(linearInterpolate(a, b), mid);
  const flowMse = mse(interp.out, mid);
  return {
    motion: [dx, dy],
    opticalFlowMs: flow.ms,
    flowInterpolateMs: interp.ms,
    flowExtrapolateMs: extrap.ms,
    aeePx: +(aee / n).toFixed(4),
    interpolationMse: { linear: +linMse.toFixed(3), flow: +flowMse.toFixed(3), ratio: +(flowMse / linMse).toFixed(5) },
    extrapolationMse: {
      copyLast: +mse(copyLast(b), next).toFixed(3),
      linear: +mse(linearExtrapolate(a, b), next).toFixed(3),
      flow: +mse(extrap.out, next).toFixed(3),
    },
  };
}

function readGray(path, frames) {
  const ffmpeg = require('@ffmpeg-installer/ffmpeg').path;
  return new Promise((resolve, reject) => {
    // -vsync 0: decoded frames only; without it ffmpeg repeats frames of variable-rate files (tree.avi: 68 → 449).
    const p = spawn(ffmpeg, ['-v', 'error', '-i', path, '-vsync', '0', '-frames:v', String(frames), '-vf', `scale=${W}:${H}`, '-f', 'rawvideo', '-pix_fmt', 'gray', '-']);
    const chunks = [];
    p.stdout.on('data', (c) => chunks.push(c));
    p.stderr.on('data', (c) => process.stderr.write(c));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited with ${code}`));
      const buf = Buffer.concat(chunks);
      const n = Math.floor(buf.length / (W * H));
      resolve(Array.from({ length: n }, (_, t) => ({ width: W, height: H, frames: 1, data: Float32Array.from(buf.subarray(t * W * H, (t + 1) * W * H)) })));
    });
  });
}

async function real(path, frames) {
  const f = await readGray(path, frames);
  const flowMs = { wall: [], cpu: [] };
  const interp = { linear: 0, flow: 0 };
  const extrap = { copyLast: 0, linear: 0, flow: 0 };
  let triplets = 0;
  for (let t = 1; t + 1 < f.length; t++) {
    const { ms } = timeMs(() => opticalFlow(f[t - 1], f[t + 1]), 1);
    flowMs.wall.push(ms.wall);
    flowMs.cpu.push(ms.cpu);
    interp.linear += mse(linearInterpolate(f[t - 1], f[t + 1]), f[t]);
    interp.flow += mse(flowInterpolate(f[t - 1], f[t + 1]), f[t]);
    extrap.copyLast += mse(copyLast(f[t]), f[t + 1]);
    extrap.linear += mse(linearExtrapolate(f[t - 1], f[t]), f[t + 1]);
    extrap.flow += mse(flowExtrapolate(f[t - 1], f[t]), f[t + 1]);
    triplets++;
  }
  const avg = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, +(v / triplets).toFixed(3)]));
  const psnr = (o) => Object.fromEntries(Object.entries(avg(o)).map(([k, v]) => [k, +(10 * Math.log10((255 * 255) / v)).toFixed(2)]));
  return { path, frames: f.length, triplets, opticalFlowMs: { wall: median(flowMs.wall), cpu: median(flowMs.cpu) }, interpolationMse: avg(interp), interpolationPsnrOfMeanMse: psnr(interp), extrapolationMse: avg(extrap), extrapolationPsnrOfMeanMse: psnr(extrap) };
}

const runs = Number(arg('runs', 5));
const result = { size: [W, H], node: process.version, runs, synthetic: synthetic(runs) };
const video = arg('video', null);
if (video) result.video = await real(video, Number(arg('frames', 30)));
console.log(JSON.stringify(result, null, 2));
