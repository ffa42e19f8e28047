import { rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { VqvidError, assertNumber, assertVideo, fail, writeFileAtomic } from '@vqvid/core';
import type { OnProgress, Video } from '@vqvid/core';
import { ffmpegEncode } from './ffmpeg';
import { frameToBytes } from './pixels';
import { encodeY4m } from './y4m';
import type { Y4mColorspace } from './y4m';

/** Options of {@link writeVideo}. */
export interface WriteVideoOptions {
  /** Frames per second; default video.fps, else 25. */
  fps?: number;
  /** 'auto' writes `.y4m` natively and everything else through ffmpeg. */
  format?: 'auto' | 'y4m' | 'ffmpeg';
  /** Y4M colour space (chroma written neutral). Default 'mono'. */
  colorspace?: Y4mColorspace;
  /** ffmpeg video codec (e.g. 'ffv1', 'libx264'); default chosen by extension, see {@link defaultCodecArgs}. */
  codec?: string;
  /** Extra ffmpeg output arguments, placed before the output path. */
  ffmpegArgs?: string[];
  /** Called after each frame handed to ffmpeg (stage 'write'). */
  onProgress?: OnProgress;
}

/**
 * Output arguments used when no codec is given: lossless FFV1 for .avi/.mkv/.nut, H.264 (even-padded,
 * yuv420p so players accept it) for .mp4/.mov, VP9 for .webm, ffmpeg's own choice otherwise (.gif...).
 * @param ext the output extension, lower case with its dot.
 * @example
 * ```ts
 * defaultCodecArgs('.mkv'); // ['-c:v', 'ffv1']
 * ```
 */
export function defaultCodecArgs(ext: string): string[] {
  const even = ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-pix_fmt', 'yuv420p'];
  switch (ext) {
    case '.avi':
    case '.mkv':
    case '.nut':
      return ['-c:v', 'ffv1'];
    case '.mp4':
    case '.mov':
      return ['-c:v', 'libx264', '-crf', '18', ...even];
    case '.webm':
      return ['-c:v', 'libvpx-vp9', '-pix_fmt', 'yuv420p'];
    default:
      return [];
  }
}

/**
 * Writes a gray video to `path`; values are rounded and clamped to 0..255. `.y4m` is written natively
 * (mono by default), anything else by piping raw gray frames into ffmpeg. The file appears atomically
 * (written under a temporary name, then renamed).
 * @example
 * ```ts
 * await writeVideo('out.y4m', video);
 * await writeVideo('out.mkv', video, { codec: 'ffv1' }); // lossless
 * await writeVideo('out.mp4', video, { fps: 10 });
 * ```
 */
export async function writeVideo(path: string, video: Video, opts: WriteVideoOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path === '') fail('E_SHAPE', 'path', 'a file path', path);
  assertVideo(video, 'video');
  const ext = extname(path).toLowerCase();
  const format = opts.format ?? 'auto';
  if (!['auto', 'y4m', 'ffmpeg'].includes(format)) fail('E_RANGE', 'format', "'auto', 'y4m' or 'ffmpeg'", format);
  if (format === 'y4m' || (format === 'auto' && ext === '.y4m')) {
    await writeFileAtomic(path, encodeY4m(video, { colorspace: opts.colorspace, fps: opts.fps }));
    return;
  }
  const fps = opts.fps ?? video.fps ?? 25;
  assertNumber(fps, 'fps', 1e-3, 1e6);
  const codec = opts.codec ? ['-c:v', opts.codec] : defaultCodecArgs(ext);
  // Same extension on the temporary name: ffmpeg picks the muxer from it.
  const tmp = join(dirname(path), `.${basename(path, extname(path))}.tmp-${process.pid}-${Date.now().toString(36)}${extname(path)}`);
  const args = ['-y', '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${video.width}x${video.height}`, '-r', String(fps), '-i', 'pipe:0'];
  args.push(...codec, ...(opts.ffmpegArgs ?? []), `file:${tmp}`);
  const n = video.width * video.height;
  function* frames() {
    for (let t = 0; t < video.frames; t++) {
      yield frameToBytes(video.data, t * n, n);
      opts.onProgress?.({ stage: 'write', done: t + 1, total: video.frames, fraction: (t + 1) / video.frames });
    }
  }
  try {
    await ffmpegEncode(args, path, frames);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    if (e instanceof VqvidError) throw e;
    throw new VqvidError('E_IO', `${path}: could not write (${(e as Error).message})`, { path });
  }
}
