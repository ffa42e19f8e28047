/**
 * @vqvid/quantize — k-means vector quantization of patches: k-means++ seeding, Lloyd and mini-batch
 * k-means, with the nearest-centroid search on interchangeable backends (gpu.js webgpu / webgl2 /
 * headlessgl / webasm kernels, tfjs-backend-wasm's XNNPACK GEMM as 'tfjs-wasm', and the hand-written
 * WebAssembly SIMD 'wasm-simd' kernel, formerly 'cpu'), all checked against a naive reference.
 * @packageDocumentation
 */
export { Quantizer, DEFAULT_QUANTIZER_OPTIONS } from './quantizer';
export type { QuantizerOptions, QuantizerJSON, PatchInput, EncodedCodes, ResolvedQuantizerOptions } from './quantizer';
export { assignNaive } from './assign';
export type { AssignBackend, AssignResult, BackendName, BackendRequest, Top2Task, Top2Result } from './assign';
export type { FitAlgorithm } from './kmeans-yinyang';
export { createBackend, autoOrder, BACKENDS, BACKEND_NAMES, BACKEND_ALIASES } from './backends';
export type { BackendChoiceResult, CreateBackendOptions, BackendInfo } from './backends';
export { assign, compareBackends, maxRelativeError } from './compare';
export type { AssignOutput, BackendComparison } from './compare';
export type { GpuConstructor } from './gpujs';
export { DECODERS, DEFAULT_DECODER, decodeCells, fitDecoderAlpha, fitDecoder } from './decoders';
export type { DecoderName, DecodeCellsOptions, DecoderAlphaSample, DecoderAlphaFit, DecoderFit, DecoderScore } from './decoders';
export { PatchCodec, NORMALIZATIONS, DEFAULT_CODEC_OPTIONS } from './codec';
export type { CodebookMeta, Normalization, PatchCodecOptions, EncodeOptions, DecodeOptions, DecodeDistributionOptions, MotionPatches } from './codec';
export { codebookAtlas } from './atlas';
