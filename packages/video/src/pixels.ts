import { assertNumber } from '@vqvid/core';

/** Rounds and clamps a pixel value to a byte (NaN becomes 0). */
export function toByte(v: number): number {
  if (!(v > 0)) return 0;
  return v >= 255 ? 255 : Math.round(v);
}

/** Gray bytes (rounded, clamped) of the `n` values of `data` from `offset`, written into `out`. */
export function frameToBytes(data: Float32Array, offset: number, n: number, out = new Uint8Array(n)): Uint8Array {
  for (let i = 0; i < n; i++) out[i] = toByte(data[offset + i]);
  return out;
}

/**
 * A frame rate as an integer ratio, exact for integers and for the NTSC family (30000:1001),
 * otherwise the best continued-fraction approximation with denominator <= 1_000_000.
 */
export function fpsToRatio(fps: number): [number, number] {
  assertNumber(fps, 'fps', 1e-6, 1e6);
  let [h0, h1, k0, k1] = [0, 1, 1, 0];
  let x = fps;
  for (let i = 0; i < 64; i++) {
    const a = Math.floor(x);
    const h2 = a * h1 + h0;
    const k2 = a * k1 + k0;
    if (k2 > 1_000_000) break;
    [h0, h1, k0, k1] = [h1, h2, k1, k2];
    if (Math.abs(h1 / k1 - fps) <= 1e-12 * fps || x === a) break;
    x = 1 / (x - a);
  }
  return [h1, k1];
}
