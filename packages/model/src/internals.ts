/**
 * @vqvid/model/internals — the plumbing under the public API, for this package's tests and for people
 * extending the model: a model's inside ({@link partsOf}), the output layers, the im2col convolution and the
 * extra wasm kernels. Not covered by semver: it may change in any release.
 * @packageDocumentation
 */
export { partsOf } from './rcnn';
export type { ModelParts } from './parts';
export { im2colConv } from './im2col';
export { createOutputLayer, topCandidates, topCandidatesAsync, assignClasses, MixtureOutput, SparseBigram, SpatialPrior, spatialContext, emGateWeights, fitGateOffsets, gateOffsetObjective, MAX_GATE_OFFSET, OnlineGateOffsets, DEFAULT_GATE_ADAPTATION } from './output';
export { calibrateGates, withPriorCountedOn } from './train';
export type { OutputLayer, OutputLayerOptions, ClassAssignment, MixtureComponent, CountedPrior, GateOffsets } from './output';
export { registerWasmKernels } from './kernels';
