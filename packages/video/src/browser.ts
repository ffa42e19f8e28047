/**
 * The portable part of @vqvid/video (no Node modules): in-memory Y4M, resize, gray conversion and std
 * normalisation, synthetic clips, colormaps and frame strips. Bundlers pick it through the `browser`
 * condition of the package's exports map; in Node the full entry re-exports all of it.
 * @packageDocumentation
 */
export { encodeY4m, decodeY4m, parseY4m, parseY4mHeader } from './y4m';
export type { Y4mHeader, Y4mIndex, Y4mFrameIndex, Y4mColorspace, Y4mInterlace, EncodeY4mOptions } from './y4m';
export { resizeVideo } from './resize';
export { rgbToGray, normalize, denormalize, BT601 } from './preprocess';
export type { Normalized } from './preprocess';
export { syntheticVideo } from './synthetic';
export type { SyntheticVideoOptions } from './synthetic';
export { frameStrip, colorize } from './image';
export type { GrayImage, RgbImage, Colormap, ValueRange, PngOptions, StripRow, FrameStripOptions } from './image';
