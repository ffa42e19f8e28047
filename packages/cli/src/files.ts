import { open } from 'node:fs/promises';
import {
  VqvidError,
  assertCodeVolume,
  fail,
  packContainer,
  readFileChecked,
  unpackContainer,
  writeFileAtomic,
} from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';

const MAGIC = 'VQVD';
const CODES_KIND = 'codes';

/** A code volume as saved by `vqvid encode`, with where it came from (patch size, stride, frame size). */
export interface SavedCodes {
  /** The code volume: a rows x cols grid of codes per frame. */
  codes: CodeVolume;
  /** JSON metadata saved with the codes (`vqvid encode` writes patch size, stride, frame width/height in pixels, std, fps, source); {} when none. */
  meta: Record<string, unknown>;
}

/**
 * Saves a code volume in the checksummed vqvid container, kind 'codes' (atomic write), with `meta`
 * (JSON: patch size, stride, frame size in pixels, std) that decoding needs.
 * @example
 * ```ts
 * await saveCodes('clip.vqc', codes, { size: 8, stride: 8, width: 96, height: 96, std: 41.2 });
 * ```
 */
export async function saveCodes(path: string, codes: CodeVolume, meta: Record<string, unknown>): Promise<void> {
  assertCodeVolume(codes, 'codes');
  const header = { rows: codes.rows, cols: codes.cols, frames: codes.frames, k: codes.k, meta };
  await writeFileAtomic(path, packContainer(CODES_KIND, header, { codes: codes.codes }));
}

/**
 * Loads a file written by {@link saveCodes} (or `vqvid encode`); E_NOT_FOUND / E_FORMAT name the path.
 * @example
 * ```ts
 * const { codes, meta } = await loadCodes('clip.vqc');
 * ```
 */
export async function loadCodes(path: string, arg = 'codes'): Promise<SavedCodes> {
  const { header, arrays } = unpackContainer(await readFileChecked(path, arg), CODES_KIND, path);
  const codes = {
    rows: header.rows,
    cols: header.cols,
    frames: header.frames,
    k: header.k,
    codes: arrays.codes,
  } as CodeVolume;
  if (!(codes.codes instanceof Uint16Array || codes.codes instanceof Int32Array)) {
    fail('E_FORMAT', path, 'uint16 or int32 codes', codes.codes);
  }
  assertCodeVolume(codes, path);
  return { codes, meta: (header.meta as Record<string, unknown>) ?? {} };
}

/** The first bytes of a file, to tell a vqvid container from a video without reading all of it. */
async function peek(path: string, arg: string, n: number): Promise<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const buf = new Uint8Array(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new VqvidError('E_NOT_FOUND', `${arg}: file ${path} does not exist`, { path });
    if (err.code === 'EISDIR') throw new VqvidError('E_FORMAT', `${arg}: ${path} is a directory, expected a file`, { path });
    throw new VqvidError('E_IO', `${arg}: could not read ${path} (${err.message})`, { path });
  } finally {
    await handle?.close();
  }
}

/** Whether `path` is a vqvid container (codes, codebook, model) rather than a video. */
export async function isContainer(path: string, arg: string): Promise<boolean> {
  const head = await peek(path, arg, 4);
  return new TextDecoder().decode(head) === MAGIC;
}
