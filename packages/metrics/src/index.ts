/**
 * @vqvid/metrics — how good is a video prediction: cross-entropy, bits per code, perplexity, entropy and
 * accuracy of predicted codes; MSE, PSNR, SSIM (scikit-image compatible) and the gradient-difference
 * sharpness of predicted gray frames; motion masks to judge moving pixels only; linear probes (ridge and
 * logistic regression, ROC AUC, R²) to score learned features.
 * @packageDocumentation
 */
export { crossEntropy, bitsPerCode, perplexity, entropy, topKAccuracy, codeAccuracy, topKCodes } from './codes';
export type { CodeArray } from './codes';
export type { PixelMask, PixelMetricOptions } from './frames';
export { mse, msePerFrame, psnr, psnrPerFrame, psnrFromMse } from './pixel';
export { ssim, ssimPerFrame, ssimMap } from './ssim';
export { sharpness, sharpnessPerFrame, gradientEnergy, gradientEnergyPerFrame } from './sharpness';
export { motionMask, flowMagnitudeMask, dilateMask } from './motion';
export type { MotionMaskOptions, FlowMaskOptions } from './motion';
export { evaluateFrames } from './evaluate';
export type { FrameMetrics, PerFrameMetrics } from './evaluate';
export { fitRidge, fitLogistic, predictProbe, rocAuc, binaryAccuracy, rSquared, DEFAULT_PROBE_OPTIONS } from './probe';
export type { SampleMatrix, LinearProbe, ProbeOptions } from './probe';
