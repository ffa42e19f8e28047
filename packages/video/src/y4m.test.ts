import { Rng, VqvidError, assertVideo } from '@vqvid/core';
import type { Video } from '@vqvid/core';
import { decodeY4m, encodeY4m, parseY4m, parseY4mHeader } from './y4m';
import { fpsToRatio } from './pixels';

const enc = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

function ramp(width: number, height: number, frames: number): Video {
  const data = new Float32Array(width * height * frames);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
  return { width, height, frames, fps: 25, data };
}

function expectFormatError(f: () => unknown, text: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(VqvidError);
    expect((e as VqvidError).code).toBe('E_FORMAT');
    expect((e as Error).message).toMatch(text);
    return;
  }
  throw new Error('expected an E_FORMAT VqvidError');
}

describe('Y4M', () => {
  test.each(['mono', '420jpeg', '420', '444'] as const)('encode → decode → encode is byte-exact (%s)', (cs) => {
    const v = ramp(5, 3, 4); // odd sizes exercise the rounded-up 4:2:0 chroma planes
    const a = encodeY4m(v, { colorspace: cs });
    const d = decodeY4m(a);
    expect(d.width).toBe(5);
    expect(d.height).toBe(3);
    expect(d.frames).toBe(4);
    expect(d.fps).toBe(25);
    expect(Array.from(d.data)).toEqual(Array.from(v.data));
    expect(encodeY4m(d, { colorspace: cs })).toEqual(a);
  });

  test('encoded header and layout are what the format specifies', () => {
    const bytes = encodeY4m({ width: 2, height: 2, frames: 1, data: new Float32Array([0, 1.4, 254.6, 300]) }, { colorspace: '420jpeg', fps: 30000 / 1001 });
    const head = 'YUV4MPEG2 W2 H2 F30000:1001 Ip A1:1 C420jpeg\nFRAME\n';
    expect(new TextDecoder().decode(bytes.subarray(0, head.length))).toBe(head);
    expect(Array.from(bytes.subarray(head.length))).toEqual([0, 1, 255, 255, 128, 128]);
  });

  test('a hand-built 4:2:0 file decodes to its Y plane only', () => {
    const y0 = [10, 20, 30, 40, 50, 60, 70, 80]; // 4x2
    const y1 = [1, 2, 3, 4, 5, 6, 7, 8];
    const uv = [200, 201, 202, 203]; // 2x1 U then 2x1 V
    const bytes = cat(enc('YUV4MPEG2 W4 H2 F10:1 C420paldv\n'), enc('FRAME\n'), Uint8Array.from([...y0, ...uv]), enc('FRAME\n'), Uint8Array.from([...y1, ...uv]));
    const v = decodeY4m(bytes);
    expect(v).toMatchObject({ width: 4, height: 2, frames: 2, fps: 10 });
    expect(Array.from(v.data)).toEqual([...y0, ...y1]);
  });

  test('header parameters: interlace, aspect, comments, fps ratio, default colour space', () => {
    const h = parseY4mHeader(enc('YUV4MPEG2 W8 H6 F30000:1001 It A128:117 Xkey=val XYSCSS=420JPEG\n'));
    expect(h).toMatchObject({ width: 8, height: 6, fpsRatio: [30000, 1001], interlace: 't', aspect: [128, 117], colorspace: '420jpeg', comments: ['key=val', 'YSCSS=420JPEG'] });
    expect(h.fps).toBeCloseTo(29.97003, 5);
    expect(h.frameBytes).toBe(48 + 2 * 12);
    const unknownRate = parseY4mHeader(enc('YUV4MPEG2 W2 H2 I? F0:0 Cmono\n'));
    expect(unknownRate).toMatchObject({ interlace: '?', frameBytes: 4 });
    expect('fps' in unknownRate).toBe(false);
  });

  test('FRAME parameters are parsed per frame', () => {
    const bytes = cat(enc('YUV4MPEG2 W2 H1 Cmono Im\n'), enc('FRAME Ib Xa=1\n'), Uint8Array.from([1, 2]), enc('FRAME\n'), Uint8Array.from([3, 4]));
    const { header, frames } = parseY4m(bytes);
    expect(header.interlace).toBe('m');
    expect(frames.map((f) => f.params)).toEqual([['Ib', 'Xa=1'], []]);
    expect(Array.from(decodeY4m(bytes).data)).toEqual([1, 2, 3, 4]);
  });

  test('fps ratios are exact for integers and NTSC rates', () => {
    expect(fpsToRatio(25)).toEqual([25, 1]);
    expect(fpsToRatio(30000 / 1001)).toEqual([30000, 1001]);
    expect(fpsToRatio(24000 / 1001)).toEqual([24000, 1001]);
    expect(fpsToRatio(12.5)).toEqual([25, 2]);
  });

  const good = () => encodeY4m(ramp(4, 2, 2));
  test('wrong magic', () => expectFormatError(() => decodeY4m(enc('RIFF1234 W2 H2\n')), /magic/));
  test('unsupported chroma', () => {
    expectFormatError(() => decodeY4m(enc('YUV4MPEG2 W2 H2 C422p10\nFRAME\n12345678')), /C422p10/);
    expectFormatError(() => decodeY4m(enc('YUV4MPEG2 W2 H2 C420p10\nFRAME\n12345678')), /unsupported colour space/);
  });
  test('truncated frame', () => expectFormatError(() => decodeY4m(good().subarray(0, good().length - 1)), /frame 1 truncated/));
  test('truncated FRAME line', () => expectFormatError(() => decodeY4m(cat(good(), enc('FRA'))), /truncated FRAME/));
  test('garbage instead of a FRAME', () => expectFormatError(() => decodeY4m(cat(good(), enc('JUNK\n'))), /expected FRAME/));
  test('zero frames', () => expectFormatError(() => decodeY4m(enc('YUV4MPEG2 W2 H2 Cmono\n')), /zero frames/));
  test('missing size, bad numbers, unknown parameter', () => {
    expectFormatError(() => parseY4mHeader(enc('YUV4MPEG2 W2 Cmono\n')), /W or H/);
    expectFormatError(() => parseY4mHeader(enc('YUV4MPEG2 W-2 H2\n')), /width/);
    expectFormatError(() => parseY4mHeader(enc('YUV4MPEG2 W2 H2 F25\n')), /frame rate/);
    expectFormatError(() => parseY4mHeader(enc('YUV4MPEG2 W2 H2 Iz\n')), /interlace/);
    expectFormatError(() => parseY4mHeader(enc('YUV4MPEG2 W2 H2 Q1\n')), /unknown header parameter/);
    expectFormatError(() => parseY4mHeader(enc('YUV4MPEG2 W2 H2')), /not terminated/);
  });
  test('encode validates its options', () => {
    expect(() => encodeY4m(ramp(2, 2, 1), { colorspace: '422' as never })).toThrow(/colorspace/);
    expect(() => encodeY4m(ramp(2, 2, 1), { comments: ['has space'] })).toThrow(/comments/);
    expect(() => encodeY4m({ width: 2, height: 2, frames: 1, data: new Float32Array(3) })).toThrow(VqvidError);
  });

  test('fuzz: 3000 mutated streams only ever give a valid Video or a VqvidError', () => {
    const rng = new Rng(20261129);
    const seeds = [encodeY4m(ramp(4, 3, 3)), encodeY4m(ramp(3, 2, 2), { colorspace: '420jpeg', comments: ['x=1'] }), encodeY4m(ramp(2, 2, 2), { colorspace: '444', interlace: 't' })];
    const headerEdits = ['W', 'H', 'F', 'C', 'I', 'A', 'X', ' ', '\n', '0', '9', ':', 'mono', '420', '-', 'FRAME', 'YUV4MPEG2 '];
    const counts = { ok: 0, error: 0 };
    for (let i = 0; i < 3000; i++) {
      const base = seeds[rng.int(seeds.length)];
      let b = Uint8Array.from(base);
      const kind = rng.int(5);
      if (kind === 0) for (let k = 1 + rng.int(4); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      else if (kind === 1) b = b.subarray(0, rng.int(b.length + 1));
      else if (kind === 2) {
        const at = rng.int(Math.min(b.length, 48));
        const ins = enc(headerEdits[rng.int(headerEdits.length)]);
        b = cat(b.subarray(0, at), ins, b.subarray(at + rng.int(3)));
      } else if (kind === 3) b = Uint8Array.from({ length: rng.int(80) }, () => rng.int(256));
      else b = cat(enc('YUV4MPEG2 '), Uint8Array.from({ length: rng.int(60) }, () => (rng.next() < 0.5 ? 32 + rng.int(90) : rng.int(256))));
      try {
        const v = decodeY4m(b);
        assertVideo(v);
        for (const x of v.data) if (!(x >= 0 && x <= 255 && Number.isInteger(x))) throw new Error(`bad pixel ${x}`);
        counts.ok++;
      } catch (e) {
        if (!(e instanceof VqvidError)) throw new Error(`case ${i}: ${String(e)}`);
        counts.error++;
      }
    }
    // Both outcomes must occur, or the mutations are not exercising the parser.
    expect(counts.ok).toBeGreaterThan(100);
    expect(counts.error).toBeGreaterThan(1000);
  });
});
