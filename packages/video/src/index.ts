/**
 * @vqvid/video — gray-scale video in and out: Y4M read and written natively, every other container
 * through ffmpeg (streamed, with back-pressure), area-averaging resize, BT.601 gray conversion, std
 * normalisation, deterministic synthetic clips, and PNG frame strips for reports.
 * @packageDocumentation
 */
export { readVideo, streamVideo, probeVideo } from './read';
export type { ReadVideoOptions, VideoFrame, VideoInfo, VideoFormat, ProbeVideoOptions } from './read';
export { writeVideo, defaultCodecArgs } from './write';
export type { WriteVideoOptions } from './write';
export { encodePng, writePng } from './png';
export * from './browser';
export { resolveFfmpeg } from './ffmpeg';
export type { FfmpegBinary } from './ffmpeg';
