// End-to-end test of the browser demo: builds the page (and the packages it imports) with turbo + vite,
// serves dist/ on 127.0.0.1 with COOP/COEP headers, drives Debian's Chromium (WebGL2 through SwiftShader)
// with playwright-core, waits for #status = done and checks the backend, metrics, backend comparison and a
// non-blank screenshot. Run: npm run e2e -w @vqvid/example-web
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { test } from 'node:test';
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

test('the browser demo quantizes on a shader backend, predicts, and agrees with the naive reference', { timeout: 600_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  let t0 = Date.now();
  // E2E_SKIP_BUILD=1 reuses dist/ when iterating on the test itself.
  if (!process.env.E2E_SKIP_BUILD) {
    execFileSync('npx', ['turbo', 'run', 'build', '--filter=@vqvid/example-web...', '--output-logs=errors-only'], { cwd: ROOT, stdio: 'inherit' });
  }
  console.log(`# build: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const server = await serve(DIST);
  t.after(() => server.close());
  const browser = await chromium.launch({
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
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} ${m.location().url}`));
  page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));

  t0 = Date.now();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('status')?.textContent ?? ''), null, { timeout: PAGE_TIMEOUT_MS });
  const shot = await page.screenshot({ fullPage: true });
  const file = join(mkdtempSync(join(tmpdir(), 'vqvid-e2e-')), 'page.png');
  writeFileSync(file, shot);
  const canvasShot = await page.locator('#frames').screenshot();
  writeFileSync(file.replace('page.png', 'frames.png'), canvasShot);
  console.log(`# screenshots: ${file} and frames.png beside it`);
  const read = (id) => page.locator(`#${id}`).textContent();
  const status = await read('status');
  console.log(`# page run: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.equal(status, 'done', `page ended with status ${status}: ${await read('detail')}; errors: ${errors.join(' | ')}`);
  assert.deepEqual(errors, []);
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP/COEP headers should make the page cross-origin isolated');

  const report = {
    backend: await read('backend'),
    backendReason: await page.locator('#backend').getAttribute('title'),
    psnr: Number(await read('psnr')),
    psnrPred: Number(await read('psnr-pred')),
    bits: Number(await read('bits')),
    k: Number(await read('k')),
    model: await read('model'),
    timings: JSON.parse(await read('timings')),
    compare: JSON.parse(await read('compare')),
  };
  console.log(`# ${JSON.stringify(report)}`);
  const { backend, psnr, psnrPred, bits, k, compare } = report;
  assert.ok(SHADER_BACKENDS.includes(backend), `quantizer backend ${backend} is not a shader backend (${report.backendReason})`);
  // Quantizing a textured 96x96 clip with K = 32 loses detail but keeps the picture: well above noise level.
  assert.ok(psnr > 15 && psnr < 60, `PSNR of the quantized frame ${psnr}`);
  // With non-overlapping patches the quantized frame holds the nearest centroid of every patch, so no predicted
  // code choice can get closer to the original.
  assert.ok(psnrPred > 10 && psnrPred <= psnr, `PSNR of the predicted frame ${psnrPred} (quantized: ${psnr})`);
  // A trained model must do far better than the uniform distribution over K codes (log2 K bits) on the
  // held-out frame: most cells of the clip keep their code from one frame to the next.
  assert.ok(bits > 0 && bits < Math.log2(k) / 2, `bits/code ${bits} should be below log2 K / 2 = ${Math.log2(k) / 2}`);

  // SwiftShader gives headless Chromium both WebGL2 and WebGPU, so each requested backend must run as itself.
  for (const r of compare.results) {
    assert.equal(r.backend, r.requested, `${r.requested} fell back to ${r.backend}: ${r.reason}`);
    assert.ok(r.maxRelError < MAX_REL_ERROR, `${r.backend}: max relative error ${r.maxRelError}`);
    assert.ok(r.labelAgreement >= 0.99, `${r.backend}: label agreement ${r.labelAgreement}`);
  }

  const { variance } = lumaStats(canvasShot);
  console.log(`# luma variance of the frames: ${variance.toFixed(1)}`);
  assert.ok(variance > 100, `the frames look blank (luma variance ${variance})`);
});
