/**
 * The CLI's streamed reading (quantize, encode, eval, predict) against the in-memory path it replaced: a
 * synthetic clip written to a Y4M file, read frame by frame, must give the codes (and, when every patch fits in
 * the sample, the codebook) that reading it whole gives.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VqvidError, sliceVideo } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { PatchCodec } from '@vqvid/quantize';
import { encodeY4m, normalize, readVideo, syntheticVideo } from '@vqvid/video';
import { PixelStd, encodeSource, encodeVideo, fitSource, loadCodesOrVideo, loadVideo, openVideo } from './pipeline';

let dir: string;
let clipPath: string;
// 44 x 36 frames do not tile by 8 (the last cells hang over the edge); 12 frames hold 6 x 5 x 12 = 360 patches
const clip = syntheticVideo({ kind: 'bouncing', width: 44, height: 36, frames: 12, seed: 5 });
const fit = { k: 8, seed: 3, maxIter: 8, backend: 'cpu', log: () => undefined } as const;
const codecs: PatchCodec[] = [];
async function fitted(video: Video, opts: { stride?: number; normalization?: 'per-video-std' | 'codebook-std' } = {}): Promise<PatchCodec> {
  const codec = await PatchCodec.fit(video, { ...fit, patch: 8, ...opts });
  codecs.push(codec);
  return codec;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vqvid-stream-'));
  clipPath = join(dir, 'clip.y4m');
  writeFileSync(clipPath, encodeY4m(clip));
});
afterAll(() => {
  codecs.forEach((c) => c.dispose());
  rmSync(dir, { recursive: true, force: true });
});

describe('PixelStd', () => {
  it('is exactly the std normalize computes, frame by frame', async () => {
    const whole = await readVideo(clipPath);
    const s = new PixelStd();
    for (let t = 0; t < whole.frames; t++) s.addToMean(sliceVideo(whole, t).data);
    for (let t = 0; t < whole.frames; t++) s.addToDeviation(sliceVideo(whole, t).data);
    expect(s.std()).toBe(normalize(whole).std);
  });

  it('refuses a flat video as normalize does, and passes that saw different pixels', () => {
    const flat = new PixelStd();
    flat.addToMean(new Float32Array(4).fill(7));
    flat.addToDeviation(new Float32Array(4).fill(7));
    expect(() => flat.std()).toThrow('video: expected pixels that are not all equal (standard deviation > 0), got 0');
    const changed = new PixelStd();
    changed.addToMean(Float32Array.from([1, 2]));
    changed.addToDeviation(Float32Array.from([1]));
    expect(() => changed.std('clip.y4m')).toThrow(/clip\.y4m: read 2 then 1 pixels/);
  });
});

describe('streamed encode', () => {
  it.each([
    ['per-video-std, stride 8', { normalization: 'per-video-std' as const }],
    ['per-video-std, stride 4', { normalization: 'per-video-std' as const, stride: 4 }],
    ['codebook-std, stride 8', { normalization: 'codebook-std' as const }],
  ])('%s: the codes of the whole video read into memory, whatever the frames per encode call', async (_, opts) => {
    const whole = await readVideo(clipPath);
    const codec = await fitted(whole, opts);
    const expected = await codec.encode(whole);
    for (const perCall of [1, 5, 12, 100]) {
      expect(await encodeSource(await openVideo(clipPath), codec, { perCall })).toEqual(expected);
      expect(await encodeVideo(whole, codec, undefined, perCall)).toEqual(expected);
    }
    // resized on the way in, as --width/--height do
    const small = await readVideo(clipPath, { width: 30 });
    expect(await encodeSource(await openVideo(clipPath, { width: 30 }), codec, { perCall: 5 })).toEqual(await codec.encode(small));
  });

  it('keeps only the frames asked for, and where they start', async () => {
    const whole = await readVideo(clipPath);
    const codec = await fitted(whole);
    const codes = await codec.encode(whole);
    const last = await loadCodesOrVideo(clipPath, codec, {}, { last: 4, end: 7 });
    expect(last.codes).toEqual(codes);
    expect(last.videoStart).toBe(3);
    expect(last.video).toEqual({ ...sliceVideo(whole, 3, 7), fps: 25 });
    const tail = await loadCodesOrVideo(clipPath, codec, {}, { last: 3 });
    expect([tail.videoStart, tail.video!.data]).toEqual([9, sliceVideo(whole, 9, 12).data]);
    const none = await loadCodesOrVideo(clipPath, codec, {}, { last: 0 });
    expect(none.video).toBeUndefined();
    expect(none.meta).toEqual({ fps: 25, source: clipPath });
    const all = await loadCodesOrVideo(clipPath, codec);
    expect([all.codes, all.video, all.videoStart]).toEqual([codes, whole, 0]);
  });
});

describe('streamed fit', () => {
  it('draws every patch when the sample is larger, giving the codebook PatchCodec.fit gives', async () => {
    const whole = await readVideo(clipPath);
    for (const stride of [8, 4]) {
      const expected = await fitted(whole, { stride });
      const { codec, frames } = await fitSource(await openVideo(clipPath), { ...fit, patch: 8, stride, sample: 100_000 });
      codecs.push(codec);
      expect(frames).toBe(12);
      expect(codec.checksum).toBe(expected.checksum);
      expect(codec.meta).toEqual(expected.meta);
    }
  });

  it('with fewer patches than the video holds: a valid codebook, the same for the same seed', async () => {
    const source = await openVideo(clipPath);
    const run = async (seed: number) => {
      const { codec } = await fitSource(source, { ...fit, seed, patch: 8, sample: 100 });
      codecs.push(codec);
      return codec;
    };
    const [a, b, c] = [await run(3), await run(3), await run(4)];
    expect(a.k).toBe(8);
    expect(a.codebook.centroids.every(Number.isFinite)).toBe(true);
    expect(a.meta.std).toBe(normalize(await readVideo(clipPath)).std);
    expect(b.checksum).toBe(a.checksum);
    expect(c.checksum).not.toBe(a.checksum);
  });

  it('checks the patch options and the sample size before reading', async () => {
    const source = await openVideo(clipPath);
    let passes = 0;
    const counting = { ...source, pass: (stage: string) => (passes++, source.pass(stage)) };
    await expect(fitSource(counting, { ...fit, patch: 300, sample: 10 })).rejects.toThrow('patch: expected an integer in [1, 256], got 300');
    await expect(fitSource(counting, { ...fit, patch: 8, stride: 9, sample: 10 })).rejects.toThrow('stride: expected an integer in [1, 8], got 9');
    await expect(fitSource(counting, { ...fit, patch: 8, sample: 1e7 }, 2 ** 30)).rejects.toThrow(/^--max-memory: k-means on 10000000 patches of 8x8 from frames of 44x36 needs about \d+ MB, more than the 1024 MB allowed/);
    expect(passes).toBe(0);
  });
});

describe('the memory guards before reading', () => {
  it('refuse a whole read, or a streamed encode, above --max-memory, naming the frames', async () => {
    // 12 frames of 44 x 36 float32 pixels: 76 KB
    await expect(loadVideo(clipPath, { maxMemory: 50_000 })).rejects.toMatchObject({ code: 'E_RANGE', message: expect.stringMatching(/^--max-memory: holding all 12 frames of 44x36 needs about 0\.07 MB, more than the 0\.05 MB allowed; raise --max-memory or read fewer frames \(--max-frames\)/) });
    await expect(loadVideo(clipPath, { maxMemory: 100_000 })).resolves.toMatchObject({ frames: 12 });
    const codec = await fitted(clip);
    await expect(loadCodesOrVideo(clipPath, codec, { maxMemory: 1000 }, { last: 2 })).rejects.toThrow(/^--max-memory: encoding 12 frames of 44x36 needs about/);
  });

  it('refuse an upscale beyond 4x the pixels unless it is allowed, and only when asked to check', async () => {
    const upscale = { width: 100, height: 80, allowUpscale: false };
    const error = await openVideo(clipPath, upscale).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VqvidError);
    expect(error).toMatchObject({ code: 'E_RANGE', message: expect.stringMatching(/^--width\/--height: 100x80 enlarges the 44x36 frames 5\.1 times; .* needs --allow-upscale$/) });
    await expect(openVideo(clipPath, { ...upscale, allowUpscale: true })).resolves.toMatchObject({ width: 100, height: 80 });
    await expect(openVideo(clipPath, { width: 88, allowUpscale: false })).resolves.toMatchObject({ width: 88, height: 72, frames: 12 });
    await expect(loadVideo(clipPath, upscale)).rejects.toThrow(/needs --allow-upscale/);
  });

  it('refuse a container given as a video', async () => {
    const codec = await fitted(clip);
    const book = join(dir, 'book.vqcb');
    await codec.save(book);
    await expect(openVideo(book)).rejects.toThrow(/book\.vqcb: is a vqvid container .* expected a video/);
  });
});
