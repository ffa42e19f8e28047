/**
 * The minimiser of a unimodal f on [lo, hi] by golden-section search: `iters` shrinks of the bracket by the
 * golden ratio, then the better of the two inner points. Used to tune smoothing strengths on a log scale.
 * @example
 * ```ts
 * goldenMin((x) => (x - 2) ** 2, 0, 5, 40); // ≈ 2
 * ```
 */
export function goldenMin(f: (u: number) => number, lo: number, hi: number, iters: number): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let x1 = b - g * (b - a);
  let x2 = a + g * (b - a);
  let f1 = f(x1);
  let f2 = f(x2);
  for (let i = 0; i < iters; i++) {
    if (f1 <= f2) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - g * (b - a);
      f1 = f(x1);
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + g * (b - a);
      f2 = f(x2);
    }
  }
  return f1 <= f2 ? x1 : x2;
}
