import { packContainer, unpackContainer } from './container';
import { VqvidError } from './errors';
import { checkSchema } from './schema';
import { editContainer, fixCrc, setWord, type ContainerMeta } from './test-helpers';

// Edited files that still pass the checksum: every one must be a typed E_FORMAT naming the file, never a
// TypeError or a RangeError from a typed-array constructor.
const FILE = 'hostile.vqcb';
const valid = () => packContainer('thing', { x: 1 }, { a: Float32Array.from([1, 2, 3]), b: Uint16Array.from([4, 5]) });

function errorOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

function expectFormat(bytes: Uint8Array, message?: RegExp): void {
  const e = errorOf(() => unpackContainer(bytes, 'thing', FILE));
  expect(e).toBeInstanceOf(VqvidError);
  expect((e as VqvidError).code).toBe('E_FORMAT');
  expect((e as VqvidError).message).toContain(FILE);
  if (message) expect((e as VqvidError).message).toMatch(message);
}

const arrayEdit = (field: string, value: unknown) => (m: ContainerMeta) => {
  (m.arrays as Record<string, unknown>[])[0][field] = value;
};

describe('unpackContainer on checksum-valid hostile headers', () => {
  const cases: [string, (m: ContainerMeta) => unknown, RegExp][] = [
    ['an array length of -1', arrayEdit('length', -1), /container\.arrays\[0\]\.length: expected an integer in \[0, /],
    ['an array length of 1.5', arrayEdit('length', 1.5), /got 1\.5/],
    ['an array length of 2^53', arrayEdit('length', 2 ** 53), /length/],
    ['a huge array length', arrayEdit('length', 1e15), /runs past the end/],
    ['a string array length', arrayEdit('length', '3'), /length/],
    ['dtype "toString"', arrayEdit('dtype', 'toString'), /dtype: expected one of "float32"/],
    ['dtype "constructor"', arrayEdit('dtype', 'constructor'), /dtype/],
    ['dtype "__proto__"', arrayEdit('dtype', '__proto__'), /dtype/],
    ['a name that is not a string', arrayEdit('name', 7), /name: expected a string/],
    ['an array entry that is null', (m) => void ((m.arrays as unknown[])[0] = null), /arrays\[0\]: expected an object, got null/],
    ['a null header', (m) => void (m.header = null), /container\.header: expected an object, got null/],
    ['a header that is a list', (m) => void (m.header = [1, 2]), /header: expected an object/],
    ['a header that is a string', (m) => void (m.header = 'x'), /header/],
    ['a missing header', (m) => void delete m.header, /header: expected an object, got undefined/],
    ['arrays that is not a list', (m) => void (m.arrays = { 0: { name: 'a', dtype: 'float32', length: 3 } }), /arrays: expected an array/],
    ['arrays null', (m) => void (m.arrays = null), /arrays: expected an array/],
    ['a missing arrays list', (m) => void delete m.arrays, /arrays/],
    ['JSON null', () => null, /container: expected an object, got null/],
    ['a JSON list', () => [1], /container: expected an object/],
    ['a kind that is not a string', (m) => void (m.kind = { toString: 1 }), /kind/],
    ['a name stored twice', (m) => void ((m.arrays as Record<string, unknown>[])[1].name = 'a'), /stored twice/],
    ['lengths shorter than the payload', arrayEdit('length', 1), /bytes after the last array/],
  ];
  it.each(cases)('%s is E_FORMAT naming the file', (_, edit, message) => {
    expectFormat(editContainer(valid(), edit), message);
  });

  it('header text that is not JSON or not UTF-8 is E_FORMAT', () => {
    expectFormat(editContainer(valid(), () => undefined, '{"kind": '), /not JSON/);
    const bytes = editContainer(valid(), (m) => void (m.header = { s: 'q@q' }));
    const at = bytes.findIndex((b, i) => b === 0x40 && bytes[i - 1] === 0x71); // the '@' of "q@q"
    bytes[at] = 0xff; // not UTF-8: a lenient decoder would read U+FFFD and accept the header
    expectFormat(fixCrc(bytes), /not JSON/);
  });

  it('array names of Object.prototype are stored and found as any other name, and nothing else is', () => {
    const bytes = packContainer('thing', {}, { constructor: Float32Array.from([1]), toString: Int32Array.from([2]) });
    const { arrays } = unpackContainer(bytes, 'thing', FILE);
    expect(Array.from(arrays.constructor)).toEqual([1]);
    expect(Array.from(arrays.toString)).toEqual([2]);
    const { arrays: none } = unpackContainer(packContainer('thing', {}, {}), 'thing', FILE);
    expect(none.hasOwnProperty).toBeUndefined();
    expect(none.valueOf).toBeUndefined();
  });

  it('an edited but valid layout still round-trips (the edit helper is faithful)', () => {
    const { header, arrays } = unpackContainer(editContainer(valid(), (m) => void ((m.header as Record<string, unknown>).y = 2)), 'thing', FILE);
    expect(header).toEqual({ x: 1, y: 2 });
    expect(Array.from(arrays.b)).toEqual([4, 5]);
  });
});

describe('checksum before version', () => {
  it('a flipped byte in the version field is a checksum error, not a version error', () => {
    for (const bit of [0x01, 0x10, 0x80]) {
      for (let i = 4; i < 8; i++) {
        const bad = valid();
        bad[i] ^= bit;
        expectFormat(bad, /checksum mismatch/);
      }
    }
  });

  it('a newer version with a valid checksum is E_VERSION naming the file', () => {
    const e = errorOf(() => unpackContainer(setWord(valid(), 4, 2, true), 'thing', FILE));
    expect(e).toBeInstanceOf(VqvidError);
    expect((e as VqvidError).code).toBe('E_VERSION');
    expect((e as VqvidError).message).toBe(`${FILE}: container version 2, this build reads version 1`);
  });

  it('a header length past the end, checksum fixed, is E_FORMAT', () => {
    expectFormat(setWord(valid(), 8, 0xfffffff0, true), /header runs past the end/);
  });
});

describe('checkSchema', () => {
  const schema = {
    type: 'object',
    fields: {
      k: { type: 'integer', min: 1, max: 10 },
      name: { type: 'string', oneOf: ['a', 'b'], optional: true },
      sum: { type: 'string', pattern: /^[0-9a-f]{8}$/, nullable: true, optional: true },
      xs: { type: 'array', items: { type: 'number' }, maxItems: 3, optional: true },
      flag: { type: 'boolean', optional: true },
    },
  } as const;
  const at = (v: unknown) => errorOf(() => checkSchema(v, schema, 'header', 'f.bin')) as VqvidError;

  it('accepts what fits, and extra fields', () => {
    expect(() => checkSchema({ k: 3, name: 'a', sum: null, xs: [1, 2.5], flag: true, other: {} }, schema, 'header', 'f.bin')).not.toThrow();
  });

  it('names the file, the field, what was expected and what came', () => {
    expect(at({ k: 0 }).message).toBe('f.bin: header.k: expected an integer in [1, 10], got 0');
    expect(at({ k: 2.5 }).message).toBe('f.bin: header.k: expected an integer in [1, 10], got 2.5');
    expect(at({ k: 1, name: 'toString' }).message).toBe('f.bin: header.name: expected one of "a", "b", got "toString"');
    expect(at({ k: 1, sum: 'xyz' }).message).toBe('f.bin: header.sum: expected a string matching /^[0-9a-f]{8}$/ or null, got "xyz"');
    expect(at({ k: 1, xs: [1, NaN] }).message).toBe('f.bin: header.xs[1]: expected a finite number, got NaN');
    expect(at({ k: 1, xs: [1, 2, 3, 4] }).message).toBe('f.bin: header.xs: expected an array of at most 3 items, got Array(4)');
    expect(at({ k: 1, flag: 1 }).message).toBe('f.bin: header.flag: expected a boolean, got 1');
    expect(at(null).code).toBe('E_FORMAT');
  });

  it('reads own properties only: an inherited field counts as absent', () => {
    const proto = { k: 3 };
    expect(at(Object.create(proto)).message).toMatch(/header: expected an object/);
    const parsed = JSON.parse('{"__proto__": {"k": 3}}');
    expect(at(parsed).message).toBe('f.bin: header.k: expected an integer in [1, 10], got undefined');
  });
});
