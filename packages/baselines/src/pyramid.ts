/** A gray image plane, row-major. Internal to the flow code. */
export interface Plane {
  width: number;
  height: number;
  data: Float32Array;
}

const BINOMIAL = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];

function clamp(i: number, n: number): number {
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/**
 * Halves a plane: 5-tap binomial blur (anti-aliasing, σ ≈ 1) sampled at even pixels, replicate border.
 * Output pixel (x, y) sits at input (2x, 2y), which is the mapping {@link upsampleFlow} inverts.
 */
export function downsample(p: Plane): Plane {
  const { width: w, height: h, data } = p;
  const w2 = Math.ceil(w / 2);
  const h2 = Math.ceil(h / 2);
  const tmp = new Float32Array(w2 * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w2; x++) {
      let s = 0;
      for (let k = -2; k <= 2; k++) s += BINOMIAL[k + 2] * data[row + clamp(2 * x + k, w)];
      tmp[y * w2 + x] = s;
    }
  }
  const out = new Float32Array(w2 * h2);
  for (let y = 0; y < h2; y++) {
    for (let k = -2; k <= 2; k++) {
      const src = clamp(2 * y + k, h) * w2;
      const wk = BINOMIAL[k + 2];
      for (let x = 0; x < w2; x++) out[y * w2 + x] += wk * tmp[src + x];
    }
  }
  return { width: w2, height: h2, data: out };
}

/** Gaussian pyramid, finest first; `levels` planes in all. */
export function buildPyramid(p: Plane, levels: number): Plane[] {
  const out = [p];
  for (let l = 1; l < levels; l++) out.push(downsample(out[l - 1]));
  return out;
}

/** Bilinear sample of a plane at real coordinates, clamped to the border. */
export function sampleBilinear(data: Float32Array, w: number, h: number, fx: number, fy: number): number {
  const x = fx < 0 ? 0 : fx > w - 1 ? w - 1 : fx;
  const y = fy < 0 ? 0 : fy > h - 1 ? h - 1 : fy;
  const x0 = Math.min(Math.floor(x), w - 2 < 0 ? 0 : w - 2);
  const y0 = Math.min(Math.floor(y), h - 2 < 0 ? 0 : h - 2);
  const ax = x - x0;
  const ay = y - y0;
  const x1 = Math.min(x0 + 1, w - 1);
  const y1 = Math.min(y0 + 1, h - 1);
  const top = data[y0 * w + x0] * (1 - ax) + data[y0 * w + x1] * ax;
  const bottom = data[y1 * w + x0] * (1 - ax) + data[y1 * w + x1] * ax;
  return top * (1 - ay) + bottom * ay;
}

/**
 * Brings a coarse flow component to the next finer level: sample at (x/2, y/2) and scale the
 * displacement by the size ratio.
 */
export function upsampleFlow(c: Float32Array, cw: number, ch: number, fw: number, fh: number, ratio: number): Float32Array {
  const out = new Float32Array(fw * fh);
  for (let y = 0; y < fh; y++) {
    for (let x = 0; x < fw; x++) out[y * fw + x] = ratio * sampleBilinear(c, cw, ch, x / 2, y / 2);
  }
  return out;
}

/**
 * Normalised box filter of a `channels`-interleaved plane over a (2r+1)² window, replicate border,
 * by running sums (cost independent of r).
 */
export function boxBlur(src: Float32Array, w: number, h: number, channels: number, r: number): Float32Array {
  const rowLen = w * channels;
  const tmp = new Float32Array(src.length);
  const acc = new Float64Array(rowLen);
  const norm = 1 / (2 * r + 1);
  for (let k = -r; k <= r; k++) addRow(acc, src, clamp(k, h) * rowLen, 1);
  for (let y = 0; y < h; y++) {
    for (let i = 0; i < rowLen; i++) tmp[y * rowLen + i] = acc[i] * norm;
    addRow(acc, src, clamp(y + r + 1, h) * rowLen, 1);
    addRow(acc, src, clamp(y - r, h) * rowLen, -1);
  }
  const out = new Float32Array(src.length);
  const a = new Float64Array(channels);
  for (let y = 0; y < h; y++) {
    const base = y * rowLen;
    a.fill(0);
    for (let k = -r; k <= r; k++) for (let c = 0; c < channels; c++) a[c] += tmp[base + clamp(k, w) * channels + c];
    for (let x = 0; x < w; x++) {
      const add = base + clamp(x + r + 1, w) * channels;
      const sub = base + clamp(x - r, w) * channels;
      for (let c = 0; c < channels; c++) {
        out[base + x * channels + c] = a[c] * norm;
        a[c] += tmp[add + c] - tmp[sub + c];
      }
    }
  }
  return out;
}

function addRow(acc: Float64Array, src: Float32Array, offset: number, sign: number): void {
  for (let i = 0; i < acc.length; i++) acc[i] += sign * src[offset + i];
}

/**
 * Normalised separable Gaussian filter (σ in pixels, taps to ±3σ) of a `channels`-interleaved plane,
 * replicate border.
 */
export function gaussianBlur(src: Float32Array, w: number, h: number, channels: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const taps = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = taps.reduce((a, b) => a + b, 0);
  const g = taps.map((x) => x / sum);
  const rowLen = w * channels;
  const tmp = new Float32Array(src.length);
  for (let y = 0; y < h; y++) {
    for (let k = -r; k <= r; k++) {
      const from = clamp(y + k, h) * rowLen;
      const wk = g[k + r];
      for (let i = 0; i < rowLen; i++) tmp[y * rowLen + i] += wk * src[from + i];
    }
  }
  const out = new Float32Array(src.length);
  // Rows are copied into a replicate-padded buffer so the inner loop needs no clamping.
  const padded = new Float64Array((w + 2 * r) * channels);
  for (let y = 0; y < h; y++) {
    const base = y * rowLen;
    for (let x = -r; x < w + r; x++) {
      const from = base + clamp(x, w) * channels;
      for (let c = 0; c < channels; c++) padded[(x + r) * channels + c] = tmp[from + c];
    }
    for (let k = 0; k <= 2 * r; k++) {
      const wk = g[k];
      const off = k * channels;
      for (let i = 0; i < rowLen; i++) out[base + i] += wk * padded[off + i];
    }
  }
  return out;
}
