import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, VqvidError, assertVideo } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { FrameCollector, probeVideo, readVideo, streamVideo } from './read';
import { writeVideo } from './write';
import { decodeY4m, encodeY4m } from './y4m';
import { resizeVideo } from './resize';
import { killedFfmpegCount, liveFfmpegCount } from './ffmpeg';
import { syntheticVideo } from './synthetic';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vqvid-video-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const clip = (frames = 6, width = 24, height = 16): Video => {
  const v = syntheticVideo({ kind: 'bouncing', width, height, frames, seed: 7, fps: 10 });
  // Integer pixels so lossless round trips can be compared exactly.
  return { ...v, data: v.data.map(Math.round) };
};

async function expectError(p: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(VqvidError);
  expect((e as VqvidError).code).toBe(code);
  expect((e as Error).message).toMatch(text);
}

describe('Y4M files', () => {
  test('writeVideo .y4m then readVideo gives the pixels and fps back; file equals encodeY4m', async () => {
    const v = clip();
    const path = join(dir, 'a.y4m');
    await writeVideo(path, v);
    expect(new Uint8Array(readFileSync(path))).toEqual(encodeY4m(v));
    const r = await readVideo(path);
    assertVideo(r);
    expect(r).toMatchObject({ width: 24, height: 16, frames: 6, fps: 10 });
    expect(r.data).toEqual(v.data);
  });

  test('start, maxFrames and resize (same result as resizeVideo)', async () => {
    const v = clip(8);
    const path = join(dir, 'b.y4m');
    await writeVideo(path, v, { colorspace: '420jpeg' });
    const r = await readVideo(path, { start: 2, maxFrames: 3, width: 10, height: 7 });
    expect(r).toMatchObject({ width: 10, height: 7, frames: 3 });
    const want = resizeVideo({ ...v, frames: 3, data: v.data.slice(2 * 24 * 16, 5 * 24 * 16) }, 10, 7);
    expect(r.data).toEqual(want.data);
    const onlyWidth = await readVideo(path, { maxFrames: 1, width: 12 });
    expect([onlyWidth.width, onlyWidth.height]).toEqual([12, 8]);
  });

  test('streamVideo yields source indices; bytes input works; probe counts frames', async () => {
    const v = clip(5);
    const bytes = encodeY4m(v);
    const seen: number[] = [];
    for await (const f of streamVideo(bytes, { start: 1 })) {
      seen.push(f.index);
      expect(f.data).toEqual(v.data.subarray(f.index * 384, (f.index + 1) * 384));
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    const path = join(dir, 'c.y4m');
    writeFileSync(path, bytes);
    expect(await probeVideo(path)).toMatchObject({ width: 24, height: 16, fps: 10, frames: 5, format: 'y4m' });
    expect(await probeVideo(bytes)).toMatchObject({ frames: 5 });
  });

  test('long FRAME lines (more frames expected than present) give exactly the frames present', async () => {
    const v = clip(20, 4, 2);
    const plain = encodeY4m(v);
    const head = plain.indexOf(10) + 1;
    const parts: number[] = Array.from(plain.subarray(0, head));
    const line = Array.from(new TextEncoder().encode(`FRAME Ip X${'a'.repeat(40)}\n`));
    for (let t = 0; t < 20; t++) parts.push(...line, ...plain.subarray(head + t * 14 + 6, head + (t + 1) * 14));
    const r = await readVideo(Uint8Array.from(parts));
    expect(r.frames).toBe(20);
    expect(r.data).toEqual(v.data);
  });

  test('FrameCollector grows past a low expected count and trims a high one', () => {
    for (const expected of [1, 3, 7, 50]) {
      const c = new FrameCollector(2, expected);
      for (let t = 0; t < 7; t++) c.push(new Float32Array([t, -t]));
      expect(Array.from(c.finish())).toEqual([0, -0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6]);
    }
  });

  test('the streaming Y4M reader agrees with decodeY4m on 300 mutated byte strings', async () => {
    const rng = new Rng(77);
    const base = encodeY4m(clip(3, 5, 3), { colorspace: '420' });
    for (let i = 0; i < 300; i++) {
      let b = Uint8Array.from(base);
      if (rng.next() < 0.5) for (let k = 1 + rng.int(3); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      else b = b.subarray(0, rng.int(b.length + 1));
      const sync = (() => {
        try {
          return decodeY4m(b);
        } catch (e) {
          return e as Error;
        }
      })();
      const streamed = await readVideo(b, { format: 'y4m' }).catch((e: Error) => e);
      if (sync instanceof Error) {
        expect(streamed).toBeInstanceOf(VqvidError);
        expect((streamed as VqvidError).code).toBe((sync as VqvidError).code);
      } else {
        expect(streamed).toEqual(sync);
      }
    }
  });

  test('onProgress reports each frame', async () => {
    const events: number[] = [];
    await readVideo(encodeY4m(clip(3)), { onProgress: (e) => events.push(e.done) });
    expect(events).toEqual([1, 2, 3]);
  });

  test('errors name the file: truncated, bad magic in .y4m, missing, zero frames, start too far', async () => {
    const bytes = encodeY4m(clip(3));
    const cut = join(dir, 'cut.y4m');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    await expectError(readVideo(cut), 'E_FORMAT', /cut\.y4m.*frame 2 truncated/);
    await expectError(probeVideo(cut), 'E_FORMAT', /truncated/);
    const wrong = join(dir, 'wrong.y4m');
    writeFileSync(wrong, 'NOTY4M W2 H2\n');
    await expectError(readVideo(wrong), 'E_FORMAT', /wrong\.y4m.*magic/);
    await expectError(readVideo(join(dir, 'nope.y4m')), 'E_NOT_FOUND', /nope\.y4m/);
    await expectError(readVideo(new TextEncoder().encode('YUV4MPEG2 W2 H2 Cmono\n')), 'E_FORMAT', /zero frames/);
    await expectError(readVideo(bytes, { start: 3 }), 'E_RANGE', /start/);
    await expectError(readVideo(bytes, { maxFrames: 0 }), 'E_RANGE', /maxFrames/);
    await expectError(readVideo(bytes, { format: 'mpeg' as 'y4m' }), 'E_RANGE', /format/);
    expect(() => streamVideo(bytes, { width: -1 })).toThrow(/width/); // checked when called, before any pull
  });
});

describe('ffmpeg sources', () => {
  test.each(['mkv', 'avi'])('lossless .%s round trip (ffv1): frames, size and pixels exact', async (ext) => {
    const v = clip(6);
    const path = join(dir, `lossless.${ext}`);
    const done: number[] = [];
    await writeVideo(path, v, { onProgress: (e) => done.push(e.done) });
    expect(done).toEqual([1, 2, 3, 4, 5, 6]);
    const r = await readVideo(path);
    expect(r).toMatchObject({ width: 24, height: 16, frames: 6 });
    expect(r.fps).toBeCloseTo(10, 5);
    expect(r.data).toEqual(v.data);
    expect(await probeVideo(path, { countFrames: true })).toMatchObject({ width: 24, height: 16, frames: 6, format: 'ffmpeg', codec: 'ffv1' });
  });

  test('lossy .mp4 (odd size padded for H.264): frame count and size kept, pixels close', async () => {
    const v = clip(5, 23, 15);
    const path = join(dir, 'lossy.mp4');
    await writeVideo(path, v);
    const r = await readVideo(path);
    expect(r).toMatchObject({ width: 24, height: 16, frames: 5 });
    let err = 0;
    for (let t = 0; t < 5; t++) {
      for (let y = 0; y < 15; y++) {
        for (let x = 0; x < 23; x++) err += Math.abs(r.data[(t * 16 + y) * 24 + x] - v.data[(t * 15 + y) * 23 + x]);
      }
    }
    expect(err / (5 * 15 * 23)).toBeLessThan(4); // crf 18 on a 0..255 textured clip
    const full = await probeVideo(path);
    expect([full.width, full.height]).toEqual([24, 16]);
  });

  test('.gif through ffmpeg keeps frame count and size; gray survives its palette closely', async () => {
    const v = clip(4);
    const path = join(dir, 'strip.gif');
    await writeVideo(path, v);
    const r = await readVideo(path);
    expect(r).toMatchObject({ width: 24, height: 16, frames: 4 });
    let err = 0;
    for (let i = 0; i < r.data.length; i++) err += Math.abs(r.data[i] - v.data[i]);
    expect(err / r.data.length).toBeLessThan(3);
  });

  test('start/maxFrames and resize match the Y4M path exactly', async () => {
    const v = clip(8);
    const path = join(dir, 'range.mkv');
    await writeVideo(path, v);
    const opts = { start: 3, maxFrames: 4, width: 9, height: 5 };
    const a = await readVideo(path, opts);
    const b = await readVideo(encodeY4m(v), opts);
    expect(a.frames).toBe(4);
    expect(a.data).toEqual(b.data);
  });

  test('bytes input is piped through stdin', async () => {
    const v = clip(3);
    const path = join(dir, 'pipe.mkv');
    await writeVideo(path, v);
    const r = await readVideo(new Uint8Array(readFileSync(path)));
    expect(r.data).toEqual(v.data);
  });

  test('a slow consumer holds ffmpeg back (back-pressure); stopping early kills it', async () => {
    const killedBefore = killedFfmpegCount();
    const v = syntheticVideo({ kind: 'pan', width: 64, height: 64, frames: 120, seed: 1 });
    const path = join(dir, 'long.nut');
    await writeVideo(path, v); // 480 kB of raw frames: far more than the pipe buffers
    let n = 0;
    for await (const f of streamVideo(path)) {
      expect(f.index).toBe(n);
      n++;
      if (n === 2) {
        // Unread output would let ffmpeg finish in well under this time; blocked on the pipe it cannot.
        await new Promise((r) => setTimeout(r, 300));
        expect(liveFfmpegCount()).toBe(1);
        break;
      }
    }
    expect(n).toBe(2);
    expect(liveFfmpegCount()).toBe(0);
    expect(killedFfmpegCount()).toBe(killedBefore + 1);
  });

  test('errors: a non-video file, a missing file, a missing ffmpeg', async () => {
    const junk = join(dir, 'junk.mp4');
    writeFileSync(junk, Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251)));
    await expectError(readVideo(junk), 'E_FORMAT', /junk\.mp4.*not a video ffmpeg can decode/);
    await expectError(probeVideo(junk), 'E_FORMAT', /junk\.mp4/);
    await expectError(readVideo(join(dir, 'absent.avi')), 'E_NOT_FOUND', /absent\.avi/);
    const saved = process.env.VQVID_FFMPEG;
    process.env.VQVID_FFMPEG = join(dir, 'no-such-ffmpeg');
    try {
      await expectError(readVideo(join(dir, 'lossless.mkv')), 'E_TOOL', /VQVID_FFMPEG.*no-such-ffmpeg/);
      await expectError(writeVideo(join(dir, 'x.mkv'), clip(1)), 'E_TOOL', /VQVID_FFMPEG/);
    } finally {
      if (saved === undefined) delete process.env.VQVID_FFMPEG;
      else process.env.VQVID_FFMPEG = saved;
    }
  });

  test('an ffmpeg that cannot encode leaves no file behind', async () => {
    const out = join(dir, 'bad.mkv');
    await expectError(writeVideo(out, clip(2), { codec: 'no_such_codec' }), 'E_TOOL', /bad\.mkv/);
    expect(() => readFileSync(out)).toThrow();
  });
  test('intact ffmpeg sources read under strict without a warning', async () => {
    const warnings: string[] = [];
    for (const ext of ['avi', 'mkv', 'mp4']) {
      const path = join(dir, `intact.${ext}`);
      await writeVideo(path, clip(12));
      const r = await readVideo(path, { strict: true, onWarning: (m) => warnings.push(m) });
      expect(r.frames).toBe(12);
    }
    expect(warnings).toEqual([]);
  });
});

/** Offsets of the chunks in an AVI's 'movi' list (the frames), walked by their sizes. */
function aviFrameChunks(b: Uint8Array): number[] {
  const text = Buffer.from(b).toString('latin1');
  const movi = text.indexOf('movi');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let p = movi + 4; p + 8 <= b.length && /^\d\d(dc|db)$/.test(text.slice(p, p + 4)); p += 8 + dv.getUint32(p + 4, true) + (dv.getUint32(p + 4, true) & 1)) out.push(p);
  return out;
}

/** Offsets of the Matroska Cluster elements (ID 1F 43 B6 75). */
function mkvClusters(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.length; i++) if (b[i] === 0x1f && b[i + 1] === 0x43 && b[i + 2] === 0xb6 && b[i + 3] === 0x75) out.push(i);
  return out;
}

describe('truncated and damaged videos (ffmpeg sources)', () => {
  const STATS = /frame=|fps=|bitrate=|speed=|Lsize/;
  let avi: Uint8Array;
  beforeAll(async () => {
    const path = join(dir, 'whole.avi');
    await writeVideo(path, clip(30)); // FFV1 in AVI: the header lists 30 frames
    avi = new Uint8Array(readFileSync(path));
  });

  async function read(path: string, strict: boolean): Promise<{ video?: Video; error?: VqvidError; warnings: string[] }> {
    const warnings: string[] = [];
    try {
      return { video: await readVideo(path, { strict, onWarning: (m) => warnings.push(m) }), warnings };
    } catch (e) {
      expect(e).toBeInstanceOf(VqvidError);
      return { error: e as VqvidError, warnings };
    }
  }

  test('a cut inside a frame: the damaged frame is dropped, a warning names the file and the counts; strict fails', async () => {
    const chunks = aviFrameChunks(avi);
    expect(chunks.length).toBe(30);
    const path = join(dir, 'cut-mid.avi');
    writeFileSync(path, avi.subarray(0, chunks[18] + 20)); // 18 whole frames, then 12 bytes of the 19th
    const lenient = await read(path, false);
    expect(lenient.video!.frames).toBe(18); // ffmpeg would otherwise decode the cut 19th from damaged data
    expect(lenient.warnings).toHaveLength(1);
    expect(lenient.warnings[0]).toMatch(/cut-mid\.avi: video is truncated or damaged: decoded 18 frames \(1\.80 s\), but the AVI header states 30 frames \(3\.00 s\)/);
    expect(lenient.warnings[0]).toMatch(/ffmpeg: \[avi\] Dropped corrupted packet/);
    const strict = await read(path, true);
    expect(strict.error!.code).toBe('E_FORMAT');
    // strict stops at the first sign of damage: the frame counts at the end, or ffmpeg's own error about the cut
    // packet when its stderr line arrives before the last frame (a race between ffmpeg's two output streams)
    expect(strict.error!.message).toMatch(/cut-mid\.avi: video is (truncated or damaged: decoded 18 frames.*states 30 frames|damaged: ffmpeg reported errors after \d+ frames; ffmpeg: \[avi\] Dropped corrupted packet)/);
    expect(strict.error!.message).not.toMatch(STATS);
    expect(strict.warnings).toEqual([]);
  });

  test('a cut between frames (ffmpeg says nothing): the AVI header length alone tells', async () => {
    const chunks = aviFrameChunks(avi);
    const path = join(dir, 'cut-clean.avi');
    writeFileSync(path, avi.subarray(0, chunks[25]));
    const lenient = await read(path, false);
    expect(lenient.video!.frames).toBe(25);
    expect(lenient.warnings.join('\n')).toMatch(/cut-clean\.avi: .*decoded 25 frames \(2\.50 s\), but the AVI header states 30 frames/);
    expect((await read(path, true)).error!.code).toBe('E_FORMAT');
  });

  test("without an AVI header, ffmpeg's stated duration is the reference", async () => {
    const path = join(dir, 'clusters.mkv');
    await writeVideo(path, clip(30), { ffmpegArgs: ['-cluster_size_limit', '1'] }); // one frame per cluster
    const bytes = new Uint8Array(readFileSync(path));
    const clusters = mkvClusters(bytes);
    expect(clusters.length).toBe(30);
    const cut = join(dir, 'clusters-cut.mkv');
    writeFileSync(cut, bytes.subarray(0, clusters[15]));
    const lenient = await read(cut, false);
    expect(lenient.video!.frames).toBe(15);
    expect(lenient.warnings.join('\n')).toMatch(/clusters-cut\.mkv: .*decoded 15 frames \(1\.50 s\), but the container states 3\.00 s \(about 30 frames at 10 fps\)/);
    const strict = await read(cut, true);
    expect(strict.error!.message).toMatch(/clusters-cut\.mkv/);
  });

  test("ffmpeg's read errors are surfaced even when the counts agree; maxFrames skips the length check", async () => {
    const path = join(dir, 'whole.mkv');
    await writeVideo(path, clip(30));
    const bytes = new Uint8Array(readFileSync(path));
    const cut = join(dir, 'cut-tail.mkv');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 40));
    const lenient = await read(cut, false);
    // the last frame's packet lost its end: all 30 frames decode, but ffmpeg says so
    expect(lenient.video!.frames).toBe(30);
    expect(lenient.warnings.join('\n')).toMatch(/cut-tail\.mkv: video is damaged: ffmpeg reported errors while decoding its 30 frames; ffmpeg: Truncating packet of size \d+ to \d+/);
    expect(lenient.warnings.join('\n')).not.toMatch(STATS);
    const strict = await read(cut, true);
    expect(strict.error!.message).toMatch(/cut-tail\.mkv.*Truncating packet/);
    const first = join(dir, 'cut-start.avi');
    writeFileSync(first, avi.subarray(0, aviFrameChunks(avi)[25]));
    const warnings: string[] = [];
    const r = await readVideo(first, { maxFrames: 10, strict: true, onWarning: (m) => warnings.push(m) });
    expect([r.frames, warnings]).toEqual([10, []]);
  });

  test('damage inside the stream: a warning with the decoder errors; strict stops at the first one', async () => {
    const path = join(dir, 'whole.mp4');
    await writeVideo(path, clip(40, 64, 48)); // H.264: one key frame, then predicted frames
    const bytes = new Uint8Array(readFileSync(path));
    // the key frame follows x264's settings note (a NUL-terminated text at the start of the stream)
    const at = bytes.indexOf(0, Buffer.from(bytes).indexOf('x264 - core')) + 40;
    for (let i = at; i < at + 30; i++) bytes[i] ^= 0x5a;
    const damaged = join(dir, 'damaged.mp4');
    writeFileSync(damaged, bytes);
    const lenient = await read(damaged, false);
    expect(lenient.video!.frames).toBe(40);
    expect(lenient.warnings).toHaveLength(1);
    expect(lenient.warnings[0]).toMatch(/damaged\.mp4: video is damaged: ffmpeg reported errors while decoding its 40 frames; ffmpeg: \[h264\] /);
    let seen = 0;
    const stopped = await (async () => {
      for await (const f of streamVideo(damaged, { strict: true })) seen = f.index + 1;
    })().then(() => null, (e: unknown) => e);
    expect(stopped).toBeInstanceOf(VqvidError);
    expect((stopped as VqvidError).message).toMatch(/damaged\.mp4: video is damaged: ffmpeg reported errors after \d+ frames; ffmpeg: \[h264\] /);
    expect(seen).toBeLessThan(40);
  });

  test('strict and onWarning are checked', async () => {
    expect(() => streamVideo(avi, { strict: 'yes' as unknown as boolean })).toThrow(/strict: expected a boolean/);
    expect(() => streamVideo(avi, { onWarning: 1 as unknown as () => void })).toThrow(/onWarning/);
  });
});
