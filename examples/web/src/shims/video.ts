// Browser stand-in for `@vqvid/video` (wired by the alias in vite.config.ts). The package has one entry,
// which also exports its ffmpeg and file readers (node:child_process, node:fs, pngjs); a browser bundle
// cannot resolve those, so the page takes the portable modules from the package sources instead. Remove
// this once @vqvid/video ships a browser entry ("browser" condition in its exports map).
export { syntheticVideo } from '../../../../packages/video/src/synthetic';
export { rgbToGray, normalize, denormalize } from '../../../../packages/video/src/preprocess';
export { colorize } from '../../../../packages/video/src/png';
