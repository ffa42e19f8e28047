import { VqvidError } from './errors';
import { checkSchema, type Schema } from './schema';

/**
 * vqvid's binary container: magic "VQVD", format version, a JSON header and typed-array payloads, with a
 * CRC-32 over everything so truncation and bit flips are detected. Codebooks and models are saved in it.
 *
 * Layout (little-endian): "VQVD" | u32 version | u32 headerBytes | header JSON | pad to 4 |
 *   for each array: bytes as described by header.arrays[i] | u32 crc32 of all preceding bytes.
 */
export const CONTAINER_VERSION = 1;
const MAGIC = [0x56, 0x51, 0x56, 0x44]; // "VQVD"

/** Typed arrays the container stores. */
export type StoredArray = Float32Array | Int32Array | Uint16Array | Uint8Array;

interface ArrayInfo {
  name: string;
  dtype: 'float32' | 'int32' | 'uint16' | 'uint8';
  length: number;
}

const CTORS = { float32: Float32Array, int32: Int32Array, uint16: Uint16Array, uint8: Uint8Array } as const;

function dtypeOf(a: StoredArray): ArrayInfo['dtype'] {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint16Array) return 'uint16';
  return 'uint8';
}

let crcTable: Uint32Array | null = null;
/**
 * CRC-32 (IEEE 802.3) of `bytes`.
 * @example
 * ```ts
 * crc32(new TextEncoder().encode('123456789')) === 0xcbf43926;
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// arithmetic, not bitwise: lengths read from a file may exceed 32 bits
const pad4 = (n: number) => Math.ceil(n / 4) * 4;

/**
 * Packs a kind tag, a JSON header and named typed arrays into one checksummed byte buffer.
 * @example
 * ```ts
 * const bytes = packContainer('codebook', { k: 2 }, { centroids: new Float32Array(8) });
 * const { header, arrays } = unpackContainer(bytes, 'codebook');
 * ```
 */
export function packContainer(kind: string, header: Record<string, unknown>, arrays: Record<string, StoredArray>): Uint8Array {
  const infos: ArrayInfo[] = Object.entries(arrays).map(([name, a]) => ({ name, dtype: dtypeOf(a), length: a.length }));
  const json = new TextEncoder().encode(JSON.stringify({ kind, header, arrays: infos }));
  let size = 12 + pad4(json.length);
  for (const [, a] of Object.entries(arrays)) size += pad4(a.byteLength);
  const out = new Uint8Array(size + 4);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint32(4, CONTAINER_VERSION, true);
  dv.setUint32(8, json.length, true);
  out.set(json, 12);
  let off = 12 + pad4(json.length);
  for (const a of Object.values(arrays)) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), off);
    off += pad4(a.byteLength);
  }
  dv.setUint32(size, crc32(out.subarray(0, size)), true);
  return out;
}

/** What the container's own JSON holds: the kind tag, the caller's header, and the layout of the arrays. */
const META_SCHEMA: Schema = {
  type: 'object',
  fields: {
    kind: { type: 'string' },
    header: { type: 'object' },
    arrays: {
      type: 'array',
      items: {
        type: 'object',
        fields: {
          name: { type: 'string' },
          dtype: { type: 'string', oneOf: Object.keys(CTORS) },
          length: { type: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
        },
      },
    },
  },
};

/**
 * Reads bytes written by {@link packContainer}; throws E_FORMAT on a wrong magic, checksum (checked before
 * anything else is read, so a flipped byte anywhere is reported as such), kind, a malformed layout or one that
 * does not match the bytes, and E_VERSION on a checksum-valid file of another container version.
 * @example
 * ```ts
 * const { header, arrays } = unpackContainer(bytes, 'codebook', 'codebook.vqcb');
 * ```
 */
export function unpackContainer(
  bytes: Uint8Array,
  kind: string,
  source = 'input',
): {
  /** The JSON header given to {@link packContainer} (a plain object). */
  header: Record<string, unknown>;
  /**
   * The stored typed arrays by name, with the dtype and length they were packed with (an object without a
   * prototype, so only stored names are found).
   */
  arrays: Record<string, StoredArray>;
} {
  const bad = (why: string): never => {
    throw new VqvidError('E_FORMAT', `${source}: not a valid vqvid ${kind} file (${why})`, { source });
  };
  if (!(bytes instanceof Uint8Array)) bad('expected bytes');
  if (bytes.length < 16) bad(`only ${bytes.length} bytes`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) bad('wrong magic, expected "VQVD"');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.length - 4;
  // the checksum first: a flipped byte in the version field must read as corruption, not as a future version
  if (crc32(bytes.subarray(0, size)) !== dv.getUint32(size, true)) bad('checksum mismatch: truncated or corrupt');
  const version = dv.getUint32(4, true);
  if (version !== CONTAINER_VERSION) {
    throw new VqvidError('E_VERSION', `${source}: container version ${version}, this build reads version ${CONTAINER_VERSION}`, { source });
  }
  const jsonLen = dv.getUint32(8, true);
  if (12 + pad4(jsonLen) > size) bad('header runs past the end');
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + jsonLen)));
  } catch {
    return bad('header is not JSON');
  }
  checkSchema(meta, META_SCHEMA, 'container', source);
  const { kind: found, header, arrays: infos } = meta as { kind: string; header: Record<string, unknown>; arrays: ArrayInfo[] };
  if (found !== kind) bad(`holds a ${JSON.stringify(found)}, expected a ${kind}`);
  // lengths first, against the bytes there are: nothing is allocated for a layout the file cannot hold
  let off = 12 + pad4(jsonLen);
  const names = new Set<string>();
  for (const info of infos) {
    if (names.has(info.name)) bad(`array ${JSON.stringify(info.name)} stored twice`);
    names.add(info.name);
    const nbytes = info.length * CTORS[info.dtype].BYTES_PER_ELEMENT;
    if (off + nbytes > size) bad(`array ${JSON.stringify(info.name)} runs past the end`);
    off += pad4(nbytes);
  }
  if (off !== size) bad(`${size - off} bytes after the last array`);
  off = 12 + pad4(jsonLen);
  const arrays: Record<string, StoredArray> = Object.create(null);
  for (const info of infos) {
    const Ctor = CTORS[info.dtype];
    const nbytes = info.length * Ctor.BYTES_PER_ELEMENT;
    // copy so the result is aligned and independent of the input buffer
    const copy = new Uint8Array(nbytes);
    copy.set(bytes.subarray(off, off + nbytes));
    arrays[info.name] = new Ctor(copy.buffer);
    off += pad4(nbytes);
  }
  return { header, arrays };
}
