/**
 * @vqvid/core — the shared vocabulary of vqvid: plain-data types that cross package borders, their
 * validators, the one error class, a seeded RNG, a checksummed binary container (and the codes file built on
 * it), atomic file writes and the tfjs backend helper.
 * @packageDocumentation
 */
export type {
  Video, PatchGrid, Codebook, CodeVolume, CodeGeometry, ProgressEvent, OnProgress, DecoderName, CellDistribution, CellCandidates, RenderDistributionOptions, FrameRenderer,
} from './types';
export { VqvidError, fail, describeValue } from './errors';
export type { VqvidErrorCode } from './errors';
export {
  assertVideo,
  assertPatchGrid,
  assertCodebook,
  assertCodeVolume,
  assertInt,
  assertNumber,
  assertFinite,
} from './validate';
export { Rng } from './rng';
export * as wasmBytes from './wasm-bytes';
export { goldenMin } from './search';
export { packContainer, unpackContainer, crc32, CONTAINER_VERSION } from './container';
export type { StoredArray } from './container';
export { checkSchema, isPlainObject, ownValue } from './schema';
export type { Schema } from './schema';
export { writeFileAtomic, readFileChecked } from './fs';
export { writeCodes, readCodes } from './codes-file';
export type { SavedCodes } from './codes-file';
export { selectTfBackend } from './backend';
export type { TfBackendHost, BackendChoice } from './backend';
export { sliceVideo, sliceCodes, stackFrames, transitionCells } from './slice';
export { summarizeLogProbs, evaluateLogProb } from './codemodel';
export type { CodeModel, CodeEvaluation } from './codemodel';
export type { CodeStepper, StepperIdentity, SteppableModel } from './stepper';
