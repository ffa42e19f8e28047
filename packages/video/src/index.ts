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
export { encodeY4m, decodeY4m, parseY4m, parseY4mHeader } from './y4m';
export type { Y4mHeader, Y4mIndex, Y4mFrameIndex, Y4mColorspace, Y4mInterlace, EncodeY4mOptions } from './y4m';
export { resizeVideo } from './resize';
export { rgbToGray, normalize, denormalize, BT601 } from './preprocess';
export type { Normalized } from './preprocess';
export { syntheticVideo } from './synthetic';
export type { SyntheticVideoOptions } from './synthetic';
export { encodePng, writePng, frameStrip, colorize } from './png';
export type { GrayImage, RgbImage, Colormap, ValueRange, PngOptions, StripRow, FrameStripOptions } from './png';
export { resolveFfmpeg } from './ffmpeg';
export type { FfmpegBinary } from './ffmpeg';
