/**
 * A fixture package whose every export is documented: the docs check must pass on it.
 * @packageDocumentation
 */

/**
 * Adds two numbers; see {@link Pair} for the pair form.
 * @param a - first addend
 * @param b - second addend
 * @example
 * ```ts
 * add(1, 2); // 3
 * ```
 */
export function add(a: number, b: number): number {
  return a + b;
}

/** Two numbers to add. */
export interface Pair {
  /** The first addend. */
  a: number;
  /** The second addend. */
  b: number;
}
