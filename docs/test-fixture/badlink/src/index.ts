/**
 * A fixture package whose doc comment links to a name that does not exist: the docs check must fail.
 * @packageDocumentation
 */

/** Adds two numbers, like {@link noSuchFunction} does. */
export function add(a: number, b: number): number {
  return a + b;
}
