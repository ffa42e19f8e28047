/**
 * @vqvid/baselines — the honest yardsticks every learned vqvid model must beat: copy-last, linear
 * interpolation/extrapolation, dense optical flow (pyramidal Farnebäck) with motion-compensated
 * interpolation/extrapolation, and n-gram language models over code volumes.
 * @packageDocumentation
 */
export { copyLast, linearInterpolate, linearExtrapolate } from './frames';
export { opticalFlow, warp } from './flow';
export type { FlowField, OpticalFlowOptions } from './flow';
export { flowInterpolate, flowExtrapolate } from './flowframes';
export type { FlowExtrapolateOptions, FlowInterpolateOptions } from './flowframes';
export { CodeNgramModel, UnigramModel, BigramModel, SpatialNgramModel } from './ngram';
export type { NgramOptions, NgramFitOptions, SpatialNgramOptions } from './ngram';
/** @deprecated the summary type lives in @vqvid/core with the CodeModel interface; this re-export keeps old imports working. */
export type { CodeEvaluation } from '@vqvid/core';
export { CopyPreviousModel } from './copyprev';
export type { CopyPreviousFitOptions } from './copyprev';
export { countedModels, scoreCodeModels } from './harness';
export type { NamedCodeModel, CodeScore } from './harness';
