import type { Plane } from './pyramid';

/** Channels per pixel of a polynomial expansion: f ≈ c + rx·x + ry·y + rxx·x² + ryy·y² + rxy·x·y. */
export const POLY_CHANNELS = 5;

interface PolyBasis {
  /** Gaussian applicability, taps 0..radius (symmetric), summing to 1 over −radius..radius. */
  g: Float64Array;
  /** Inverse Gram matrix of the basis [1, x, y, x², y², xy] under the applicability, row-major 6x6. */
  inv: Float64Array;
}

const basisCache = new Map<string, PolyBasis>();

/** Gaussian taps and the inverse Gram matrix for a (2r+1)² window; cached because every level reuses it. */
function polyBasis(radius: number, sigma: number): PolyBasis {
  const key = `${radius}/${sigma}`;
  const hit = basisCache.get(key);
  if (hit) return hit;
  const g = new Float64Array(radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) sum += Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let k = 0; k <= radius; k++) g[k] = Math.exp(-(k * k) / (2 * sigma * sigma)) / sum;
  const gram = new Float64Array(36);
  for (let y = -radius; y <= radius; y++) {
    for (let x = -radius; x <= radius; x++) {
      const w = g[Math.abs(x)] * g[Math.abs(y)];
      const b = [1, x, y, x * x, y * y, x * y];
      for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) gram[i * 6 + j] += w * b[i] * b[j];
    }
  }
  const basis = { g, inv: invert(gram, 6) };
  basisCache.set(key, basis);
  return basis;
}

/** Gauss–Jordan inverse with partial pivoting of an n x n row-major matrix. */
export function invert(m: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(m);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]) > Math.abs(a[piv * n + col])) piv = r;
    if (piv !== col) {
      for (let j = 0; j < n; j++) {
        [a[col * n + j], a[piv * n + j]] = [a[piv * n + j], a[col * n + j]];
        [inv[col * n + j], inv[piv * n + j]] = [inv[piv * n + j], inv[col * n + j]];
      }
    }
    const d = a[col * n + col];
    for (let j = 0; j < n; j++) {
      a[col * n + j] /= d;
      inv[col * n + j] /= d;
    }
    for (let r = 0; r < n; r++) {
      const f = a[r * n + col];
      if (r === col || f === 0) continue;
      for (let j = 0; j < n; j++) {
        a[r * n + j] -= f * a[col * n + j];
        inv[r * n + j] -= f * inv[col * n + j];
      }
    }
  }
  return inv;
}

/**
 * Farnebäck's polynomial expansion: at every pixel, the weighted least-squares fit of a quadratic
 * polynomial over a Gaussian (σ = `sigma`) window of radius `radius`, replicate border.
 * The weighted moments Σ g·b·f are separable, so they are built from one vertical pass (weights g, y·g, y²·g)
 * and one horizontal pass; the fit is the inverse Gram matrix times those moments.
 * @returns interleaved [rx, ry, rxx, ryy, rxy] per pixel (the constant term is not needed for flow).
 */
export function polyExpand(p: Plane, radius: number, sigma: number): Float32Array {
  const { width: w, height: h, data } = p;
  const { g, inv } = polyBasis(radius, sigma);
  const out = new Float32Array(w * h * POLY_CHANNELS);
  const pw = w + 2 * radius;
  const c0 = new Float64Array(pw);
  const c1 = new Float64Array(pw);
  const c2 = new Float64Array(pw);
  const b = new Float64Array(6);
  for (let y = 0; y < h; y++) {
    verticalMoments(data, w, h, y, radius, g, c0, c1, c2);
    for (let x = 0; x < w; x++) {
      const c = x + radius;
      b[0] = g[0] * c0[c]; b[1] = 0; b[2] = g[0] * c1[c]; b[3] = 0; b[4] = g[0] * c2[c]; b[5] = 0;
      for (let k = 1; k <= radius; k++) {
        const gk = g[k];
        const s0 = c0[c + k] + c0[c - k];
        const d0 = c0[c + k] - c0[c - k];
        b[0] += gk * s0;
        b[1] += k * gk * d0;
        b[3] += k * k * gk * s0;
        b[2] += gk * (c1[c + k] + c1[c - k]);
        b[5] += k * gk * (c1[c + k] - c1[c - k]);
        b[4] += gk * (c2[c + k] + c2[c - k]);
      }
      const o = (y * w + x) * POLY_CHANNELS;
      for (let j = 1; j < 6; j++) {
        let s = 0;
        for (let i = 0; i < 6; i++) s += inv[j * 6 + i] * b[i];
        out[o + j - 1] = s;
      }
    }
  }
  return out;
}

/** Row y's column moments Σ_k w(k)·f(y+k, x) for w = g, k·g, k²·g, padded by `radius` replicated columns. */
function verticalMoments(
  data: Float32Array, w: number, h: number, y: number, radius: number, g: Float64Array,
  c0: Float64Array, c1: Float64Array, c2: Float64Array,
): void {
  const row = y * w;
  for (let x = 0; x < w; x++) {
    c0[x + radius] = g[0] * data[row + x];
    c1[x + radius] = 0;
    c2[x + radius] = 0;
  }
  for (let k = 1; k <= radius; k++) {
    const up = Math.max(y - k, 0) * w;
    const dn = Math.min(y + k, h - 1) * w;
    const gk = g[k];
    for (let x = 0; x < w; x++) {
      const s = data[dn + x] + data[up + x];
      c0[x + radius] += gk * s;
      c1[x + radius] += k * gk * (data[dn + x] - data[up + x]);
      c2[x + radius] += k * k * gk * s;
    }
  }
  for (let i = 0; i < radius; i++) {
    c0[i] = c0[radius]; c1[i] = c1[radius]; c2[i] = c2[radius];
    const r = radius + w + i;
    c0[r] = c0[radius + w - 1]; c1[r] = c1[radius + w - 1]; c2[r] = c2[radius + w - 1];
  }
}
