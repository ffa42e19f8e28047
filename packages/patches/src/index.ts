/**
 * @vqvid/patches — cut frames into patches on a grid (with stride and documented edge handling), rebuild
 * frames by averaging overlapping patches, and sample patches for k-means without building whole grids.
 * @packageDocumentation
 */
export { extractPatches, reassemble } from './extract';
export type { ReassembleOptions } from './extract';
export { gridShape } from './grid';
export type { PatchOptions, EdgeMode } from './grid';
export { samplePatches, PatchReservoir } from './sample';
export type { PatchSample, SampleOptions } from './sample';
export { patchView } from './view';
