import { VqvidError, fail, readCodes } from '@vqvid/core';
import type { CodeVolume, OnProgress, Video } from '@vqvid/core';
import { PatchCodec, Quantizer } from '@vqvid/quantize';
import type { BackendRequest } from '@vqvid/quantize';
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

/** The codec of a codec or of a fitted Quantizer whose codebook meta holds the patch geometry. */
export function codecOf(q: PatchCodec | Quantizer): PatchCodec {
  return q instanceof PatchCodec ? q : PatchCodec.fromQuantizer(q);
}

// What follows keeps commands/demo.ts compiling until it moves to PatchCodec; nothing else uses it.

/** @deprecated Options of {@link fitCodebook}; use `PatchCodec.fit`. */
export interface FitOptions {
  k: number;
  size: number;
  stride: number;
  seed: number;
  /** Patches drawn for k-means (all of them when the grid is smaller). */
  samples: number;
  maxIter?: number;
  backend?: BackendRequest;
  onProgress?: OnProgress;
}

/** @deprecated Geometry and provenance of codes, as `encodeVideo` returned it; codes now carry `geometry`. */
export interface CodesMeta {
  size: number;
  stride: number;
  width: number;
  height: number;
  /** Pixel standard deviation the video was divided by before patches were cut. */
  std: number;
  fps?: number;
  source?: string;
}

/** @deprecated `PatchCodec.fit(...)`, returning its quantizer (whose codebook meta holds the codec's meta). */
export async function fitCodebook(video: Video, opts: FitOptions): Promise<Quantizer> {
  const { k, size, stride, seed, samples, maxIter, backend, onProgress } = opts;
  const codec = await PatchCodec.fit(video, { k, patch: size, stride, seed, sample: samples, maxIter, backend, onProgress });
  return codec.quantizer;
}

/** @deprecated `codec.encode(video)`, plus the geometry as {@link CodesMeta}. */
export async function encodeVideo(q: PatchCodec | Quantizer, video: Video, opts: { source?: string } = {}): Promise<{ codes: CodeVolume; meta: CodesMeta }> {
  const codes = await codecOf(q).encode(video);
  const { patch, stride, width, height, std } = codes.geometry!;
  return { codes, meta: { size: patch, stride, width, height, std, ...provenanceOf(video, opts.source) } };
}

/** @deprecated `codec.decode(codes)`, taking the geometry from `meta` when the codes have none. */
export function decodeCodes(q: PatchCodec | Quantizer, codes: CodeVolume, meta?: CodesMeta): Video {
  const geometry = codes.geometry ?? (meta && { patch: meta.size, stride: meta.stride, width: meta.width, height: meta.height, std: meta.std });
  const video = codecOf(q).decode(geometry ? { ...codes, geometry } : codes);
  if (meta?.fps !== undefined) video.fps = meta.fps;
  return video;
}
