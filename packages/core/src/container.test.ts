import { packContainer, unpackContainer, crc32 } from './container';
import { VqvidError } from './errors';
import { setWord } from './test-helpers';

describe('container', () => {
  const arrays = { a: Float32Array.from([1.5, -2, 3]), b: Uint16Array.from([1, 2, 3, 65535, 7]), c: Int32Array.from([-5]) };

  it('crc32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('round-trips header and arrays exactly', () => {
    const bytes = packContainer('thing', { x: 1, s: 'hi' }, arrays);
    const { header, arrays: out } = unpackContainer(bytes, 'thing');
    expect(header).toEqual({ x: 1, s: 'hi' });
    expect(out.a).toEqual(arrays.a);
    expect(out.b).toEqual(arrays.b);
    expect(out.c).toEqual(arrays.c);
  });

  it('detects every single-byte corruption and every truncation', () => {
    const bytes = packContainer('thing', { x: 1 }, arrays);
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i] ^= 0x41;
      expect(() => unpackContainer(bad, 'thing')).toThrow(VqvidError);
    }
    for (let n = 0; n < bytes.length; n++) {
      expect(() => unpackContainer(bytes.subarray(0, n), 'thing')).toThrow(VqvidError);
    }
  });

  it('rejects the wrong kind and a newer version with distinct codes', () => {
    const bytes = packContainer('thing', {}, {});
    expect(() => unpackContainer(bytes, 'other')).toThrow(/expected a other/);
    // a genuine newer file: its checksum is valid (a version without one is a flipped byte: E_FORMAT)
    const v2 = setWord(bytes, 4, 99, true);
    try {
      unpackContainer(v2, 'thing');
      throw new Error('no throw');
    } catch (e) {
      expect((e as VqvidError).code).toBe('E_VERSION');
    }
  });
});
