import { VqvidError, fail, readCodes } from '@vqvid/core';
import type { CodeVolume, OnProgress, Video } from '@vqvid/core';
import type { PatchCodec } from '@vqvid/quantize';
import { readVideo } from '@vqvid/video';
import { isContainer } from './files';

/** How a video is read: a frame range and an optional resize. */
export interface ReadOptions {
  maxFrames?: number;
  width?: number;
  height?: number;
  onProgress?: OnProgress;
}

/** Reads a video file (gray, 0..255), turning "wrong format" into a readable E_FORMAT. */
export async function loadVideo(path: string, opts: ReadOptions = {}): Promise<Video> {
  if (await isContainer(path, 'video')) {
    throw new VqvidError('E_FORMAT', `${path}: is a vqvid container (codebook, codes or model), expected a video`, { path });
  }
  const read: Parameters<typeof readVideo>[1] = {};
  if (opts.maxFrames !== undefined) read.maxFrames = opts.maxFrames;
  if (opts.width !== undefined) read.width = opts.width;
  if (opts.height !== undefined) read.height = opts.height;
  if (opts.onProgress) read.onProgress = opts.onProgress;
  return readVideo(path, read);
}

/** Where codes came from, saved beside them in codes files: `fps` (of the video) and `source` (its path). */
export type Provenance = Record<string, unknown>;

/** The provenance of codes made from `video` read from `source`. */
export function provenanceOf(video: Video, source?: string): Provenance {
  const out: Provenance = {};
  if (video.fps !== undefined) out.fps = video.fps;
  if (source !== undefined) out.source = source;
  return out;
}

/** An input given as a video or a codes file: its codes (with geometry), and for a video its frames. */
export interface CodesInput {
  codes: CodeVolume;
  video?: Video;
  meta: Provenance;
}

/** A video (encoded with the codec) or a codes file (checked against the codec's K), told apart by content. */
export async function loadCodesOrVideo(path: string, codec: PatchCodec, opts: ReadOptions = {}): Promise<CodesInput> {
  if (await isContainer(path, 'input')) {
    const { codes, meta } = await readCodes(path, 'input');
    checkCodebookK(codec, codes.k);
    return { codes, meta };
  }
  const video = await loadVideo(path, opts);
  return { codes: await codec.encode(video), video, meta: provenanceOf(video, path) };
}

/** E_SHAPE naming both sizes when codes (or a model) were made for another codebook. */
export function checkCodebookK(book: { codebook: { k: number } }, k: number, what = 'codes'): void {
  if (k !== book.codebook.k) fail('E_SHAPE', `${what} k`, `the codebook's K = ${book.codebook.k}`, k);
}
