import { VqvidError, assertInt, fail } from '@vqvid/core';
import type { CodeVolume, OnProgress, Video } from '@vqvid/core';
import { extractPatches, reassemble, samplePatches } from '@vqvid/patches';
import { Quantizer } from '@vqvid/quantize';
import type { BackendRequest } from '@vqvid/quantize';
import { denormalize, normalize, readVideo } from '@vqvid/video';
import { isContainer, loadCodes } from './files';

/** How a video is read: a frame range and an optional resize. */
export interface ReadOptions {
  maxFrames?: number;
  width?: number;
  height?: number;
  onProgress?: OnProgress;
}

/** Frame geometry and normalisation a code volume was made with; what decoding needs back. */
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

/** Options of {@link fitCodebook}. */
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

/**
 * Fits a k-means codebook on patches of the std-normalised video and records in its meta what encoding
 * and decoding need (patch size, stride, the std).
 */
export async function fitCodebook(video: Video, opts: FitOptions): Promise<Quantizer> {
  const { video: z, std } = normalize(video);
  const sample = samplePatches(z, { count: opts.samples, seed: opts.seed, size: opts.size, stride: opts.stride });
  const q = new Quantizer({ k: opts.k, seed: opts.seed, maxIter: opts.maxIter, backend: opts.backend, onProgress: opts.onProgress });
  await q.fit({ data: sample.data, dim: sample.dim });
  Object.assign(q.codebook.meta, { size: opts.size, stride: opts.stride, std, width: video.width, height: video.height });
  return q;
}

/** Patch size and stride a codebook was fitted with (stride overridable). */
export function codebookGeometry(q: Quantizer, stride?: number): { size: number; stride: number } {
  const { size, stride: fitted } = q.codebook.meta as { size?: unknown; stride?: unknown };
  assertInt(size, 'codebook meta.size', 1);
  const s = stride ?? fitted ?? size;
  assertInt(s, 'stride', 1, size);
  return { size, stride: s };
}

/** Codes of every patch of the video (normalised by its own std), with the meta to decode them. */
export async function encodeVideo(
  q: Quantizer,
  video: Video,
  opts: { stride?: number; source?: string } = {},
): Promise<{ codes: CodeVolume; meta: CodesMeta }> {
  const { size, stride } = codebookGeometry(q, opts.stride);
  const { video: z, std } = normalize(video);
  const codes = await q.encode(extractPatches(z, { size, stride }));
  const meta: CodesMeta = { size, stride, width: video.width, height: video.height, std };
  if (video.fps !== undefined) meta.fps = video.fps;
  if (opts.source !== undefined) meta.source = opts.source;
  return { codes: { rows: codes.rows, cols: codes.cols, frames: codes.frames, k: codes.k, codes: codes.codes }, meta };
}

/** Frames (0..255) rebuilt from codes: centroid patches, overlap-averaged, times the std. */
export function decodeCodes(q: Quantizer, codes: CodeVolume, meta: CodesMeta): Video {
  checkCodebookK(q, codes.k);
  const grid = q.decode(codes, { size: meta.size, stride: meta.stride });
  const video = denormalize(reassemble(grid, { width: meta.width, height: meta.height }), meta.std);
  if (meta.fps !== undefined) video.fps = meta.fps;
  return video;
}

/** E_SHAPE naming both sizes when codes (or a model) were made for another codebook. */
export function checkCodebookK(q: Quantizer, k: number, what = 'codes'): void {
  if (k !== q.codebook.k) fail('E_SHAPE', `${what} k`, `the codebook's K = ${q.codebook.k}`, k);
}

function asMeta(raw: Record<string, unknown>, path: string): CodesMeta {
  for (const key of ['size', 'stride', 'width', 'height'] as const) assertInt(raw[key], `${path} meta.${key}`, 1);
  if (typeof raw.std !== 'number' || !(raw.std > 0)) fail('E_FORMAT', `${path} meta.std`, 'a positive number', raw.std);
  return raw as unknown as CodesMeta;
}

/** A video or a codes file (told apart by content), as codes plus, for a video, its frames. */
export async function loadCodesOrVideo(
  path: string,
  q: Quantizer,
  opts: ReadOptions & { stride?: number } = {},
): Promise<{ codes: CodeVolume; meta: CodesMeta; video?: Video }> {
  if (await isContainer(path, 'input')) {
    const saved = await loadCodes(path, 'input');
    checkCodebookK(q, saved.codes.k);
    return { codes: saved.codes, meta: asMeta(saved.meta, path) };
  }
  const video = await loadVideo(path, opts);
  const { codes, meta } = await encodeVideo(q, video, { stride: opts.stride, source: path });
  return { codes, meta, video };
}
