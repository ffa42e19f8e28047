// The benchmarks' input: a real video read as gray 320x240 frames, divided by its standard deviation (as the
// paper does), split 80/20 into train and test frames. Shared by fit.mjs and kmeans.mjs.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

export const width = 320, height = 240;

/** Gray frames in 0..255: through @vqvid/video when it is built, else ffmpeg directly. */
async function readGray(path, frames) {
  try {
    const { readVideo } = await import('@vqvid/video');
    return await readVideo(path, { width, height, maxFrames: frames });
  } catch (e) {
    if (!/Cannot find|ERR_MODULE_NOT_FOUND|ERR_PACKAGE_PATH/.test(String(e?.code ?? e?.message))) throw e;
  }
  const ffmpeg = createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg').path;
  const chunks = [];
  await new Promise((resolve, reject) => {
    const p = spawn(ffmpeg, ['-v', 'error', '-i', path, '-frames:v', String(frames), '-vf', `scale=${width}:${height}`, '-f', 'rawvideo', '-pix_fmt', 'gray', '-']);
    p.stdout.on('data', (c) => chunks.push(c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
  });
  const bytes = Buffer.concat(chunks);
  const count = Math.floor(bytes.length / (width * height));
  return { width, height, frames: count, data: Float32Array.from(bytes.subarray(0, count * width * height)) };
}

const slice = (v, t0, t1) => ({ width: v.width, height: v.height, frames: t1 - t0, data: v.data.slice(t0 * v.width * v.height, t1 * v.width * v.height) });

/** The first `frames` frames of `path`, std-normalised: { raw, std, train, test } (train: first 80%). */
export async function loadSplit(path, frames) {
  const raw = await readGray(path, frames);
  let mean = 0, ss = 0;
  for (const x of raw.data) mean += x;
  mean /= raw.data.length;
  for (const x of raw.data) ss += (x - mean) ** 2;
  const std = Math.sqrt(ss / raw.data.length);
  const norm = { ...raw, data: raw.data.map((x) => x / std) }; // the paper divides by the std only
  const cut = Math.round(raw.frames * 0.8);
  return { raw, std, cut, train: slice(norm, 0, cut), test: slice(norm, cut, raw.frames) };
}
