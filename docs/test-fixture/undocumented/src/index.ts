/**
 * A fixture package with one undocumented export: the docs check must fail and name it.
 * @packageDocumentation
 */

/** Adds two numbers. */
export function add(a: number, b: number): number {
  return a + b;
}

export function undocumentedSubtract(a: number, b: number): number {
  return a - b;
}
