/**
 * @vqvid/quantize/testing — fixtures for tests and benchmarks of assignment backends (seeded clustered
 * problems). Not covered by semver.
 * @packageDocumentation
 */
export { clusteredProblem } from './compare';
export { lloyd, seedKMeansPP } from './kmeans';
export { hamerly } from './kmeans-hamerly';
export { yinyang, groupCentroids } from './kmeans-yinyang';
