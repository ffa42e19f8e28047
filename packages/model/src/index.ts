/**
 * @vqvid/model — the rCNN video language model of Ranzato et al. 2014 (and its per-cell RNN baseline)
 * over grids of patch codes, on tfjs-core: training, exact likelihood, prediction, generation, filling,
 * per-cell features, save/load.
 * @packageDocumentation
 */
export { RCNN, RNN } from './rcnn';
export { PatchRegressor } from './regressor';
export type { PatchRenderer, RegressorEpoch, RegressorFitOptions, RegressorFitResult, RegressorOptions, RegressorConfig } from './regressor';
export type { AsyncStepper, EvaluateResult, NextDistribution, RenderOptions } from './rcnn';
export { DEFAULT_MODEL_OPTIONS, INPUT_KINDS } from './config';
export type { ModelOptions, ModelConfig, CellKind, SoftmaxKind, InputKind } from './config';
export type { AsyncSearchMemo, AsyncTopSource, ExtraCodes, LogCandidates, TopCandidates } from './output/top';
export { DEFAULT_GATE_ADAPTATION } from './output/calibrate';
export type { GateAdaptation } from './output/calibrate';
export { DEFAULT_FIT_OPTIONS } from './train';
export type { FitOptions, FitResult, EpochRecord, GateCalibration } from './train';
export type { PredictOptions } from './sample';
export type { FillOptions } from './fill';
export { FEATURE_LAYERS } from './features';
export type { CellFeatures, FeatureLayer, FeatureOptions } from './features';
export { initBackend } from './backend';
export { MODEL_FORMAT_VERSION } from './persist';
