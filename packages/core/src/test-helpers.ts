/* Shared builders for tests of stored files (not exported from index): hostile edits that still pass the checksum. */
import { crc32 } from './container';

/** The container's own JSON as stored: the kind tag, the caller's header and the array layout. */
export type ContainerMeta = Record<string, unknown> & { arrays?: unknown; header?: unknown };

/**
 * A copy of container `bytes` whose JSON is replaced by `edit(meta)` (or by `edit`'s mutation of meta), with
 * the header length and the CRC-32 recomputed so the file gets past the checksum. `rawJson` replaces the JSON
 * text outright (for text that is not an edit of an object).
 */
export function editContainer(bytes: Uint8Array, edit: (meta: ContainerMeta) => unknown, rawJson?: string): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLen = dv.getUint32(8, true);
  const pad4 = (n: number) => (n + 3) & ~3;
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLen))) as ContainerMeta;
  const edited = edit(meta);
  const text = rawJson ?? JSON.stringify(edited === undefined ? meta : edited);
  const json = new TextEncoder().encode(text);
  const payload = bytes.subarray(12 + pad4(jsonLen), bytes.length - 4);
  const size = 12 + pad4(json.length) + payload.length;
  const out = new Uint8Array(size + 4);
  out.set(bytes.subarray(0, 8), 0);
  const odv = new DataView(out.buffer);
  odv.setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(payload, 12 + pad4(json.length));
  odv.setUint32(size, crc32(out.subarray(0, size)), true);
  return out;
}

/** Recomputes the trailing CRC-32 of container `bytes` in place (after an edit of its bytes); returns them. */
export function fixCrc(bytes: Uint8Array): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
}

/** A copy of container `bytes` with one 32-bit field set (e.g. the version at offset 4), the CRC-32 recomputed or not. */
export function setWord(bytes: Uint8Array, offset: number, value: number, withCrc: boolean): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  dv.setUint32(offset, value, true);
  return withCrc ? fixCrc(out) : out;
}
