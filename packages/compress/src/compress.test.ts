import { crc32, Rng, VqvidError } from '@vqvid/core';
import type { CodeVolume, SteppableModel } from '@vqvid/core';
import { BigramModel, CopyPreviousModel, SpatialNgramModel, UnigramModel } from '@vqvid/baselines';
import { unigramFrame0Bits } from './test-helpers';
import { AdaptiveCoder, DecodeIO, EncodeIO } from './models';
import { RangeDecoder, RangeEncoder } from './rangecoder';
import { CodesDecoder, CodesEncoder, compressCodes, decompressCodes, readCompressedHeader } from './index';

/** A clip of codes with motion: blocks of several codes drifting over a noisy background, seeded. */
function movingCodes(frames: number, rows: number, cols: number, k: number, seed: number): CodeVolume {
  const rng = new Rng(seed);
  const codes = new Uint16Array(frames * rows * cols);
  const bg = Array.from({ length: rows * cols }, () => rng.int(Math.max(1, k >> 2)));
  for (let t = 0; t < frames; t++) {
    for (let i = 0; i < rows * cols; i++) codes[t * rows * cols + i] = rng.next() < 0.05 ? rng.int(k) : bg[i];
    for (let b = 0; b < 3; b++) {
      const r0 = (b * 3 + Math.floor(t / (b + 1))) % rows;
      const c0 = (t * (b + 1)) % cols;
      for (let dr = 0; dr < 2; dr++) for (let dc = 0; dc < 2; dc++) codes[t * rows * cols + ((r0 + dr) % rows) * cols + ((c0 + dc) % cols)] = k - 1 - b * 2 - dr;
    }
  }
  return { rows, cols, frames, k, codes, geometry: { patch: 8, stride: 8, width: cols * 8, height: rows * 8, std: 40, codebook: '0badc0de' } };
}

function expectError(f: () => unknown, code: string, text?: string): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(VqvidError);
  expect((err as VqvidError).code).toBe(code);
  if (text) expect((err as VqvidError).message).toContain(text);
}

const clip = movingCodes(12, 9, 11, 32, 3);
const train = movingCodes(20, 9, 11, 32, 4);

describe('compressCodes / decompressCodes', () => {
  const fitted: Array<[string, SteppableModel]> = [
    ['unigram', new UnigramModel().fit(train)],
    ['bigram', new BigramModel().fit(train)],
    ['spatial', new SpatialNgramModel({ neighbours: 8 }).fit(train)],
    ['copy-previous', new CopyPreviousModel().fit(train)],
  ];

  it.each(['static', 'copy', 'bigram'] as const)('round-trips exactly with the adaptive %s model (no model needed to decode)', (name) => {
    const bytes = compressCodes(clip, name, { meta: { fps: 25 } });
    const back = decompressCodes(bytes);
    expect(back.codes.codes).toEqual(clip.codes);
    expect(back.codes.geometry).toEqual(clip.geometry);
    expect(back.meta).toEqual({ fps: 25 });
    expect(back.header.model.kind).toBe(`adaptive-${name}`);
    const stream = bytes.length - 8 - new DataView(bytes.buffer).getUint32(4, true);
    expect(stream).toBeLessThan((clip.codes.length * 4) / 8); // under 4 of log2(32) = 5 bits per code
  });

  it.each(fitted.map(([n]) => n))('round-trips exactly with the fitted %s model, within 1%% + header of its own bits', (name) => {
    const model = fitted.find(([n]) => n === name)![1] as SteppableModel & { logProb(v: CodeVolume): Float64Array };
    const bytes = compressCodes(clip, model);
    const back = decompressCodes(bytes, model);
    expect(back.codes.codes).toEqual(clip.codes);
    // the model's own cost: frames 1..T−1 by its logProb, frame 0 by the adaptive unigram
    const modelBits = -model.logProb(clip).reduce((a, b) => a + b, 0) / Math.LN2 + unigramFrame0Bits(clip);
    const headerBytes = 8 + new DataView(bytes.buffer).getUint32(4, true);
    const streamBytes = bytes.length - headerBytes;
    // framing: 19 bytes per chunk (a 7-byte coder flush, length, frame count, CRC) and a 12-byte end mark
    expect(streamBytes).toBeLessThanOrEqual((modelBits / 8) * 1.01 + 19 + 12);
    expect(streamBytes).toBeGreaterThanOrEqual(Math.floor(modelBits / 8) * 0.99);
  });

  it('gives back int32 codes as int32, and codes of K = 1 in a few bytes', () => {
    const v: CodeVolume = { rows: 3, cols: 4, frames: 5, k: 1, codes: new Int32Array(60) };
    const bytes = compressCodes(v, 'bigram');
    const back = decompressCodes(bytes).codes;
    expect(back.codes).toBeInstanceOf(Int32Array);
    expect(back.codes).toEqual(v.codes);
  });

  it('refuses another model (E_FORMAT naming the checksums), a missing one and another backend (E_STATE)', () => {
    const bigram = new BigramModel().fit(train);
    const other = new BigramModel().fit(clip);
    const bytes = compressCodes(clip, bigram);
    expectError(() => decompressCodes(bytes, other), 'E_FORMAT', 'checksum');
    expectError(() => decompressCodes(bytes, new CopyPreviousModel().fit(train)), 'E_FORMAT', 'bigram');
    expectError(() => decompressCodes(bytes, 'bigram'), 'E_FORMAT', 'adaptive-bigram');
    expectError(() => decompressCodes(bytes), 'E_STATE', 'model');
    // the same model claiming another backend
    const elsewhere: SteppableModel = {
      k: bigram.k,
      stepper: (r, c) => {
        const s = bigram.stepper(r, c);
        return { ...s, next: s.next, identity: { ...s.identity, backend: 'webgl' } };
      },
    };
    expectError(() => decompressCodes(bytes, elsewhere), 'E_STATE', 'webgl');
    expect(decompressCodes(bytes, bigram).codes.codes).toEqual(clip.codes);
  });

  it('reports every flipped byte and every cut as a typed error, never as wrong codes', () => {
    const bytes = compressCodes(clip, 'bigram', { chunkBytes: 64 });
    for (let at = 0; at < bytes.length; at += 7) {
      const bad = bytes.slice();
      bad[at] ^= 0x10;
      expectError(() => decompressCodes(bad), 'E_FORMAT');
    }
    for (const cut of [0, 5, 40, bytes.length - 30, bytes.length - 1]) expectError(() => decompressCodes(bytes.subarray(0, cut)), 'E_FORMAT', 'truncated');
    expectError(() => decompressCodes(new Uint8Array([...bytes, 0])), 'E_FORMAT', 'after the end');
  });

  it('reads a header of a future format version as E_VERSION', () => {
    const bytes = compressCodes(clip, 'static');
    const h = readCompressedHeader(bytes);
    expect(h.rows).toBe(9);
    const text = new TextDecoder().decode(bytes);
    const at = text.indexOf('"formatVersion":1');
    const edited = bytes.slice();
    edited[at + '"formatVersion":'.length] = '7'.charCodeAt(0);
    // fix the container's CRC so only the version differs
    const n = new DataView(edited.buffer).getUint32(4, true);
    new DataView(edited.buffer).setUint32(8 + n - 4, crc32(edited.subarray(8, 8 + n - 4)), true);
    expectError(() => decompressCodes(edited), 'E_VERSION', 'version 7');
  });
});

describe('the adaptive bigram', () => {
  it('round-trips when its context tables reach the memory bound (codes changing from many previous codes)', () => {
    const v = movingCodes(6, 12, 12, 500, 8);
    for (let i = 144; i < v.codes.length; i++) if (i % 3 === 0) v.codes[i] = (i * 7919) % 500;
    const n = v.rows * v.cols;
    const code = (maxSlots: number) => {
      const io = new EncodeIO(new RangeEncoder());
      const coder = new AdaptiveCoder('bigram', v.k, v.rows, v.cols, maxSlots);
      for (let t = 0; t < v.frames; t++) {
        io.frame = v.codes.subarray(t * n, (t + 1) * n);
        coder.codeFrame(io, t);
      }
      const bytes = io.enc.finish();
      const back = new AdaptiveCoder('bigram', v.k, v.rows, v.cols, maxSlots);
      const dec = new DecodeIO(new RangeDecoder(bytes));
      const frames = Array.from({ length: v.frames }, (_, t) => Array.from(back.codeFrame(dec, t)));
      expect(frames.flat()).toEqual(Array.from(v.codes));
      return { bytes: bytes.length, contexts: (back as unknown as { contexts: Map<number, unknown> }).contexts.size };
    };
    const bounded = code(10 * 501);
    const free = code(2 ** 25);
    expect(bounded.contexts).toBe(10);
    expect(free.contexts).toBeGreaterThan(10);
  });
});

describe('CodesEncoder / CodesDecoder (streaming)', () => {
  it('gives the same frames fed one byte at a time, each frame as soon as its chunk is in', () => {
    const enc = new CodesEncoder('copy', clip, { chunkBytes: 0 });
    const n = clip.rows * clip.cols;
    const pieces: Uint8Array[] = [];
    for (let t = 0; t < clip.frames; t++) {
      pieces.push(enc.push(clip.codes.subarray(t * n, (t + 1) * n)));
      expect(pieces[t].length).toBeGreaterThan(0); // a chunk per frame: bytes come out frame by frame
    }
    pieces.push(enc.finish());
    const all = Uint8Array.from(pieces.flatMap((p) => Array.from(p)));
    expect(decompressCodes(all).codes.codes).toEqual(clip.codes);
    const dec = new CodesDecoder();
    const frames: Int32Array[] = [];
    let read = 0;
    const framesAt: number[] = [];
    for (const b of all) {
      frames.push(...dec.push(new Uint8Array([b])));
      read++;
      framesAt[frames.length] ??= read;
    }
    dec.finish();
    expect(frames.length).toBe(clip.frames);
    frames.forEach((f, t) => expect(Array.from(f)).toEqual(Array.from(clip.codes.subarray(t * n, (t + 1) * n))));
    // frame t was out once the bytes of the first t + 1 pieces had arrived
    let upTo = 0;
    for (let t = 0; t < clip.frames; t++) {
      upTo += pieces[t].length;
      expect(framesAt[t + 1]).toBeLessThanOrEqual(upTo + (t === clip.frames - 1 ? pieces[clip.frames].length : 0));
    }
  });

  it('holds no more than one chunk: output comes out as chunks fill', () => {
    const big = movingCodes(40, 16, 16, 64, 9);
    const enc = new CodesEncoder('static', big, { chunkBytes: 256 });
    const n = big.rows * big.cols;
    let emitted = 0;
    let calls = 0;
    for (let t = 0; t < big.frames; t++) {
      const out = enc.push(big.codes.subarray(t * n, (t + 1) * n));
      if (out.length > 0) calls++;
      emitted += out.length;
    }
    const last = enc.finish();
    expect(calls).toBeGreaterThan(10);
    expect(last.length).toBeLessThan(256 + n * 2 + 64);
    expect(emitted + last.length).toBeGreaterThan(0);
    expectError(() => enc.push(big.codes.subarray(0, n)), 'E_STATE');
  });

  it('checks frames and options', () => {
    expectError(() => new CodesEncoder('gzip' as 'static', clip), 'E_RANGE', 'model');
    expectError(() => new CodesEncoder('static', clip, { totalBits: 4 }), 'E_RANGE', 'totalBits');
    const enc = new CodesEncoder('static', clip);
    expectError(() => enc.push(new Int32Array(3)), 'E_SHAPE', 'frame.length');
    expectError(() => enc.push(new Int32Array(clip.rows * clip.cols).fill(99)), 'E_RANGE', 'frame[0]');
    expectError(() => compressCodes(clip, new BigramModel().fit({ ...movingCodes(3, 2, 2, 8, 1) })), 'E_SHAPE', 'model.k');
  });
});
