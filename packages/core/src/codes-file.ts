import { packContainer, unpackContainer } from './container';
import { VqvidError, fail } from './errors';
import { readFileChecked, writeFileAtomic } from './fs';
import type { CodeGeometry, CodeVolume } from './types';
import { assertCodeVolume } from './validate';

const CODES_KIND = 'codes';

/** A code volume read from a codes file, with the provenance saved next to it. */
export interface SavedCodes {
  /** The code volume, with its {@link CodeGeometry} when the file has one (every file `writeCodes` wrote from encoded codes). */
  codes: CodeVolume;
  /** Free-form JSON provenance saved with the codes (e.g. `fps`, `source`); {} when none. */
  meta: Record<string, unknown>;
}

/**
 * Saves a code volume, with its geometry, as a checksummed vqvid container of kind 'codes' (atomic write:
 * a failed write leaves no file). `meta` is free-form JSON provenance kept beside it. Node only.
 * @param path file to write (conventionally `*.vqc`).
 * @param volume codes, validated first (E_SHAPE / E_RANGE on a malformed volume).
 * @param meta JSON-serialisable provenance such as `{ fps: 25, source: 'clip.y4m' }`.
 * @example
 * ```ts
 * await writeCodes('clip.vqc', await codec.encode(video), { fps: video.fps });
 * const { codes, meta } = await readCodes('clip.vqc'); // codes.geometry as encoded
 * ```
 */
export async function writeCodes(path: string, volume: CodeVolume, meta: Record<string, unknown> = {}): Promise<void> {
  assertCodeVolume(volume, 'volume');
  const { rows, cols, frames, k, geometry } = volume;
  const header = geometry ? { rows, cols, frames, k, geometry, meta } : { rows, cols, frames, k, meta };
  await writeFileAtomic(path, packContainer(CODES_KIND, header, { codes: volume.codes }));
}

/**
 * Reads a file written by {@link writeCodes}, or by `vqvid encode` before codes carried their geometry (whose
 * meta size/stride/width/height/std become the geometry). E_NOT_FOUND for a missing file, E_FORMAT (naming the
 * path) for a corrupt, truncated or foreign one. Node only.
 * @param path the codes file.
 * @param arg what to call the file in a "does not exist" error (e.g. a CLI option name).
 * @example
 * ```ts
 * const { codes } = await readCodes('clip.vqc');
 * const frames = codec.decode(codes);
 * ```
 */
export async function readCodes(path: string, arg = 'codes'): Promise<SavedCodes> {
  const { header, arrays } = unpackContainer(await readFileChecked(path, arg), CODES_KIND, path);
  const meta = isObject(header.meta) ? header.meta : {};
  const codes: CodeVolume = { rows: header.rows, cols: header.cols, frames: header.frames, k: header.k, codes: arrays.codes } as CodeVolume;
  if (!(codes.codes instanceof Uint16Array || codes.codes instanceof Int32Array)) fail('E_FORMAT', `${path} codes`, 'uint16 or int32 codes', codes.codes);
  const geometry = header.geometry ?? legacyGeometry(meta);
  if (geometry !== undefined) codes.geometry = geometry as CodeGeometry;
  try {
    assertCodeVolume(codes, 'codes');
  } catch (e) {
    if (e instanceof VqvidError) throw new VqvidError('E_FORMAT', `${path}: not a valid vqvid codes file (${e.message})`, { path });
    throw e;
  }
  return { codes, meta };
}

/** Files written before geometry existed kept it in meta as size/stride/width/height/std (all or none). */
function legacyGeometry(meta: Record<string, unknown>): CodeGeometry | undefined {
  const { size, stride, width, height, std } = meta;
  if (size === undefined || width === undefined || height === undefined || std === undefined) return undefined;
  return { patch: size, stride: stride ?? size, width, height, std } as CodeGeometry; // checked by assertCodeVolume
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
