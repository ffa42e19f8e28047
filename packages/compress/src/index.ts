/**
 * @vqvid/compress — a code model as an entropy coder: range coding of code volumes with a model's per-cell
 * distributions (an RCNN, a fitted n-gram, or the adaptive models built into the format), in a checksummed,
 * streamable file.
 * @packageDocumentation
 */
export { compressCodes, decompressCodes, readCompressedHeader, CodesEncoder, CodesDecoder, COMPRESS_FORMAT_VERSION, DEFAULT_CHUNK_BYTES } from './format';
export type { CompressionModel, CompressedHeader, CompressOptions, CodeGrid, DecompressOptions, DecompressedCodes } from './format';
export { ADAPTIVE_MODELS } from './models';
export type { AdaptiveModelName } from './models';
export { quantizeRow, DEFAULT_TOTAL_BITS } from './quantize';
export { RangeEncoder, RangeDecoder } from './rangecoder';
