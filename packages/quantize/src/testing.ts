/**
 * @vqvid/quantize/testing — fixtures for tests and benchmarks of assignment backends (seeded clustered
 * problems). Not covered by semver.
 * @packageDocumentation
 */
export { clusteredProblem } from './compare';
