import { Rng, type Video } from '@vqvid/core';
import { extractPatches } from './extract';
import { samplePatches, PatchReservoir } from './sample';

function video(width: number, height: number, frames: number, seed: number): Video {
  const rng = new Rng(seed);
  return { width, height, frames, data: Float32Array.from({ length: width * height * frames }, () => rng.next()) };
}

function patchKeys(data: Float32Array, dim: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < data.length; i += dim) keys.push(Array.from(data.subarray(i, i + dim)).join(','));
  return keys;
}

describe('samplePatches', () => {
  const a = video(16, 12, 3, 1);
  const b = video(8, 8, 2, 2);
  const all = new Set([...patchKeys(extractPatches(a, { size: 4 }).data, 16), ...patchKeys(extractPatches(b, { size: 4 }).data, 16)]);

  it('draws distinct real patches, deterministically for a seed', () => {
    const s1 = samplePatches([a, b], { count: 30, seed: 5, size: 4 });
    const s2 = samplePatches([a, b], { count: 30, seed: 5, size: 4 });
    const s3 = samplePatches([a, b], { count: 30, seed: 6, size: 4 });
    expect(s1.count).toBe(30);
    expect(s1.data).toEqual(s2.data);
    expect(s1.data).not.toEqual(s3.data);
    const keys = patchKeys(s1.data, 16);
    expect(new Set(keys).size).toBe(30);
    for (const k of keys) expect(all.has(k)).toBe(true);
  });

  it('returns every patch once when count exceeds the total (dense path)', () => {
    const s = samplePatches([a, b], { count: 1000, seed: 1, size: 4 });
    expect(s.count).toBe(all.size);
    expect(new Set(patchKeys(s.data, 16))).toEqual(all);
  });

  it('is roughly uniform over positions', () => {
    const v = { width: 8, height: 8, frames: 1, data: Float32Array.from({ length: 64 }, (_, i) => Math.floor(i / 8) * 10 + (i % 8)) };
    const hits = new Array(64).fill(0);
    for (let s = 0; s < 400; s++) {
      const smp = samplePatches(v, { count: 4, seed: s, size: 2, stride: 1 });
      for (let i = 0; i < smp.count; i++) {
        const y = Math.floor(smp.data[i * 4] / 10), x = smp.data[i * 4] % 10;
        hits[y * 8 + x]++;
      }
    }
    const used = hits.filter((_, i) => i % 8 < 7 && i < 56); // 7x7 positions with stride 1
    const mean = 1600 / 49;
    for (const h of used) expect(Math.abs(h - mean)).toBeLessThan(mean * 0.6);
  });
});

describe('PatchReservoir', () => {
  it('keeps count real patches from a stream, deterministic for a seed', () => {
    const frames = [video(16, 12, 1, 3), video(16, 12, 1, 4), video(16, 12, 1, 5)];
    const all = new Set(frames.flatMap((f) => patchKeys(extractPatches(f, { size: 4 }).data, 16)));
    const run = (seed: number) => {
      const r = new PatchReservoir({ count: 10, seed, size: 4 });
      frames.forEach((f) => r.add(f));
      return r.result();
    };
    const s = run(9);
    expect(s.count).toBe(10);
    expect(run(9).data).toEqual(s.data);
    for (const k of patchKeys(s.data, 16)) expect(all.has(k)).toBe(true);
    // later frames get picked too (reservoir replaces, not just keeps the first 10)
    const late = new Set(patchKeys(extractPatches(frames[2], { size: 4 }).data, 16));
    const picks = [1, 2, 3, 4, 5, 6].map((sd) => patchKeys(run(sd).data, 16).filter((k) => late.has(k)).length);
    expect(picks.reduce((x, y) => x + y, 0)).toBeGreaterThan(6);
  });
});
