import { goldenMin } from './search';

describe('goldenMin', () => {
  it('finds the minimum of unimodal functions to the bracket width it shrinks to, at either end too', () => {
    const width = (iters: number, span: number) => span * ((Math.sqrt(5) - 1) / 2) ** iters;
    expect(Math.abs(goldenMin((x) => (x - 2) ** 2, 0, 5, 40) - 2)).toBeLessThan(width(40, 5) * 2);
    expect(Math.abs(goldenMin((x) => Math.abs(x + 1.3), -4, 4, 30) + 1.3)).toBeLessThan(width(30, 8) * 2);
    // a minimum at the edge of the bracket: the search ends next to it
    expect(goldenMin((x) => x, 0, 1, 40)).toBeLessThan(1e-6);
    // a slow reference: the best of a fine grid
    const f = (x: number) => Math.exp(x) - 3 * x;
    let best = 0;
    for (let x = 0; x <= 3; x += 1e-5) if (f(x) < f(best)) best = x;
    expect(Math.abs(goldenMin(f, 0, 3, 50) - best)).toBeLessThan(2e-5);
  });
});
