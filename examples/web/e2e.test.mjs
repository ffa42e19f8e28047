// End-to-end test of the browser demo: builds the page (and the packages it imports) with turbo + vite,
// serves dist/ on 127.0.0.1 with COOP/COEP headers, drives Debian's Chromium (WebGL2 and WebGPU through
// SwiftShader) with playwright-core, and for the synthetic clip shown on load and for a WebM file picked in
// the page waits for #status = done, then checks the backend, the metrics, the backend comparison and that
// the rendered frames are not blank. Run: npm run e2e -w @vqvid/example-web
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const DIST = join(HERE, 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PAGE_TIMEOUT_MS = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 150_000);
/** Shader backends: what the quantizer must pick in a browser that has WebGL2 or WebGPU. */
const SHADER_BACKENDS = ['webgl2', 'webgl', 'webgpu'];
/** The tolerance @vqvid/quantize states for every backend against its float64 reference (see its README). */
const MAX_REL_ERROR = 1e-4;

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml' };

/** A static server for dist/ with the cross-origin isolation headers the page expects; port 0 = any free one. */
function serve(dir) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = normalize(join(dir, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(dir + sep) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cache-Control': 'no-store',
    });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** Mean and variance of the screenshot's luma: a blank (single-colour) page has variance 0. */
function lumaStats(png) {
  const { data, width, height } = PNG.sync.read(png);
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < width * height; i++) {
    const y = 0.299 * data[i * 4] + 0.587 * data[i * 4 + 1] + 0.114 * data[i * 4 + 2];
    sum += y;
    sq += y * y;
  }
  const mean = sum / (width * height);
  return { mean, variance: sq / (width * height) - mean * mean };
}

/** Browser, page and server shared by the tests, started once. */
const ctx = { server: null, browser: null, page: null, errors: [], firstPsnr: NaN, shots: mkdtempSync(join(tmpdir(), 'vqvid-e2e-')) };

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  const t0 = Date.now();
  // E2E_SKIP_BUILD=1 reuses dist/ when iterating on the test itself.
  if (!process.env.E2E_SKIP_BUILD) {
    execFileSync('npx', ['turbo', 'run', 'build', '--filter=@vqvid/example-web...', '--output-logs=errors-only'], { cwd: ROOT, stdio: 'inherit' });
  }
  console.log(`# build: ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots go to ${ctx.shots}`);
  ctx.server = await serve(DIST);
  ctx.browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      // Software WebGL2 (SwiftShader through ANGLE): a real shader backend on a machine without a GPU.
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      // Exposes a WebGPU adapter (also SwiftShader) in headless Chromium, so the webgpu backend runs too.
      '--enable-unsafe-webgpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  ctx.page = await ctx.browser.newPage({ viewport: { width: 1280, height: 1100 } });
  ctx.page.on('pageerror', (e) => ctx.errors.push(String(e)));
  ctx.page.on('console', (m) => m.type() === 'error' && ctx.errors.push(`${m.text()} ${m.location().url}`));
  ctx.page.on('response', (r) => r.status() >= 400 && ctx.errors.push(`${r.status()} ${r.url()}`));
}, { timeout: 300_000 });

after(async () => {
  await ctx.browser?.close();
  ctx.server?.close();
});

const read = (id) => ctx.page.locator(`#${id}`).textContent();

/**
 * Resolves when #status says done or error; rejects as soon as the page reports an error (an uncaught
 * exception, a console error, a failed request), which may come before this is called, e.g. a bundle that
 * fails while loading.
 */
async function untilRunEnds(page) {
  let timer;
  const failed = new Promise((_, reject) => {
    timer = setInterval(() => ctx.errors.length && reject(new Error(`the page reported: ${ctx.errors.join(' | ')}`)), 250);
  });
  try {
    const ended = () => ['done', 'error'].includes(document.getElementById('status')?.textContent ?? '');
    await Promise.race([page.waitForFunction(ended, null, { timeout: PAGE_TIMEOUT_MS }), failed]);
  } finally {
    clearInterval(timer);
  }
}

/** Waits for the run to end, saves screenshots (page and frames) under `name`, and returns the page's results. */
async function finishedRun(name) {
  const { page } = ctx;
  const t0 = Date.now();
  await untilRunEnds(page);
  console.log(`# ${name}: page run ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(join(ctx.shots, `${name}-page.png`), await page.screenshot({ fullPage: true }));
  const frames = await page.locator('#frames').screenshot();
  writeFileSync(join(ctx.shots, `${name}-frames.png`), frames);
  const status = await read('status');
  assert.equal(status, 'done', `page ended with status ${status}: ${await read('detail')}; errors: ${ctx.errors.join(' | ')}`);
  assert.deepEqual(ctx.errors, []);
  const report = {
    input: await read('input-desc'),
    backend: await read('backend'),
    backendReason: await page.locator('#backend').getAttribute('title'),
    psnr: Number(await read('psnr')),
    psnrPred: Number(await read('psnr-pred')),
    bits: Number(await read('bits')),
    entropyChanging: Number(await read('entropy-changing')),
    entropySteady: Number(await read('entropy-steady')),
    k: Number(await read('k')),
    model: await read('model'),
    timings: JSON.parse(await read('timings')),
  };
  console.log(`# ${name}: ${JSON.stringify(report)}`);
  assert.ok(SHADER_BACKENDS.includes(report.backend), `quantizer backend ${report.backend} is not a shader backend (${report.backendReason})`);
  // With non-overlapping patches the quantized frame holds the nearest centroid of every patch, so no predicted
  // code choice can get closer to the original.
  assert.ok(report.psnrPred > 10 && report.psnrPred <= report.psnr, `PSNR of the predicted frame ${report.psnrPred} (quantized: ${report.psnr})`);
  const { variance } = lumaStats(frames);
  assert.ok(variance > 100, `the frames look blank (luma variance ${variance})`);
  return report;
}

test('on load, the synthetic clip is quantized on a shader backend and predicted, and every backend agrees with the naive reference', { timeout: 300_000 }, async () => {
  const { page } = ctx;
  await page.goto(`http://127.0.0.1:${ctx.server.address().port}/`);
  const report = await finishedRun('synthetic');
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP/COEP headers should make the page cross-origin isolated');
  assert.match(report.input, /^synthetic clip: 96x96, 24 frames$/);
  ctx.firstPsnr = report.psnr;
  // Quantizing the textured clip with K = 32 loses detail but keeps the picture: well above noise level.
  assert.ok(report.psnr > 20 && report.psnr < 60, `PSNR of the quantized frame ${report.psnr}`);
  // A trained model must do far better than the uniform distribution over K codes (log2 K bits) on the
  // held-out frame: most cells of the clip keep their code from one frame to the next.
  assert.ok(report.bits > 0 && report.bits < Math.log2(report.k) / 2, `bits/code ${report.bits} should be below log2 K / 2`);
  // The heat map's point (and the paper's): the model is unsure where things move, sure where they stay.
  assert.ok(report.entropyChanging > 2 * report.entropySteady, `entropy of changing cells ${report.entropyChanging} vs steady ${report.entropySteady}`);

  const compare = JSON.parse(await read('compare'));
  console.log(`# compare: ${JSON.stringify(compare)}`);
  assert.deepEqual(compare.results.map((r) => r.requested), ['webgpu', 'webgl2', 'webasm', 'wasm-simd']);
  // SwiftShader gives headless Chromium both WebGL2 and WebGPU, so each requested backend must run as itself.
  for (const r of compare.results) {
    assert.equal(r.backend, r.requested, `${r.requested} fell back to ${r.backend}: ${r.reason}`);
    assert.ok(r.maxRelError < MAX_REL_ERROR, `${r.backend}: max relative error ${r.maxRelError}`);
    assert.ok(r.labelAgreement >= 0.99, `${r.backend}: label agreement ${r.labelAgreement}`);
  }
});

test('a video file picked in the page is decoded by the browser and runs through the same pipeline', { timeout: 300_000 }, async () => {
  // A WebM (VP9) written by @vqvid/video through ffmpeg: 160x120, 12 frames at 5 fps (2.4 s).
  const { syntheticVideo, writeVideo } = await import('@vqvid/video'); // built by before()
  const file = join(ctx.shots, 'clip.webm');
  await writeVideo(file, syntheticVideo({ kind: 'bouncing', width: 160, height: 120, frames: 12, seed: 2, fps: 5 }));
  await ctx.page.setInputFiles('#file', file);
  const report = await finishedRun('file');
  // The page samples every 0.2 s at 128 pixels wide: 12 frames of 128x96.
  assert.match(report.input, /^clip\.webm: 128x96, 1[12] frames$/);
  assert.ok(report.psnr > 15, `PSNR of the quantized frame ${report.psnr}`);
  assert.ok(Number.isFinite(report.bits) && report.bits > 0, `bits/code ${report.bits}`);
});

test('a file the browser cannot decode ends in status error with a message; the synthetic clip then runs again', { timeout: 200_000 }, async () => {
  const file = join(ctx.shots, 'not-a-video.webm');
  writeFileSync(file, 'this is text, not a video');
  const before = ctx.errors.length;
  await ctx.page.setInputFiles('#file', file);
  await ctx.page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('status')?.textContent ?? ''), null, { timeout: 30_000 });
  assert.equal(await read('status'), 'error');
  assert.match(await read('detail'), /cannot decode this file/);
  // The page logs the failure to the console, and nothing else goes wrong.
  assert.deepEqual(ctx.errors.slice(before).map((e) => /cannot decode this file/.test(e)), [true]);
  ctx.errors.length = before;
  // The button runs the synthetic clip again; same seed, same result as on load.
  await ctx.page.click('#synthetic');
  const report = await finishedRun('again');
  assert.match(report.input, /^synthetic clip: 96x96, 24 frames$/);
  assert.equal(report.psnr, ctx.firstPsnr);
});
