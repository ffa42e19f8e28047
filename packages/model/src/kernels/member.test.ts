import { Rng } from '@vqvid/core';
import { memberKernels } from './member';

// the kernels on a memory of their own, against float64 loops
const memory = new WebAssembly.Memory({ initial: 64 });
const kernels = memberKernels(memory)!;
const heap = () => new Float32Array(memory.buffer);
const rng = new Rng(11);
const fill = (at: number, n: number, scale = 1) => {
  const f = heap();
  for (let i = 0; i < n; i++) f[at + i] = (rng.next() * 2 - 1) * scale;
};
const maxErr = (got: (i: number) => number, want: (i: number) => number, n: number) => {
  let e = 0;
  for (let i = 0; i < n; i++) e = Math.max(e, Math.abs(got(i) - want(i)));
  return e;
};

describe('member kernels (WebAssembly SIMD)', () => {
  it('compile here', () => {
    expect(kernels).not.toBeNull();
  });

  // hidden 8 and 64; a class at column `col` of a [hidden, k] matrix; rows and padded widths that are not round
  it.each([
    [1, 16, 8, 40, 0],
    [3, 32, 8, 64, 16],
    [5, 48, 64, 100, 37],
    [2, 160, 64, 300, 101],
  ])('forward, hidden and weight gradients of %i rows x %i padded columns (hidden %i, k %i, column %i)', (rows, pad, hidden, k, col) => {
    const [h, w, b, z, dh, dw] = [16, 1024, 40000, 41000, 50000, 60000];
    fill(h, rows * hidden);
    fill(w, hidden * k);
    fill(b, k);
    kernels.fwd(4 * h, rows, 4 * (w + col), 4 * k, 4 * (b + col), 4 * z, pad / 16, 4 * hidden);
    let f = heap();
    const logit = (i: number, j: number) => {
      let s = f[b + col + j];
      for (let d = 0; d < hidden; d++) s += f[h + i * hidden + d] * f[w + d * k + col + j];
      return s;
    };
    expect(maxErr((x) => f[z + x], (x) => logit(Math.floor(x / pad), x % pad), rows * pad)).toBeLessThan(2e-5);

    fill(z, rows * pad);
    kernels.dh(4 * z, rows, 4 * (w + col), 4 * k, pad / 4, 4 * dh, hidden / 4);
    f = heap();
    const dhRef = (i: number, d: number) => {
      let s = 0;
      for (let j = 0; j < pad; j++) s += f[z + i * pad + j] * f[w + d * k + col + j];
      return s;
    };
    expect(maxErr((x) => f[dh + x], (x) => dhRef(Math.floor(x / hidden), x % hidden), rows * hidden)).toBeLessThan(5e-5);

    // the weight gradient is written into a [hidden, k] block at `col`, its other columns untouched
    f.fill(7, dw, dw + hidden * k);
    kernels.dw(4 * h, 4 * z, rows, 4 * (dw + col), 4 * k, pad / 16, hidden, 4 * hidden);
    f = heap();
    const dwRef = (d: number, j: number) => {
      let s = 0;
      for (let i = 0; i < rows; i++) s += f[h + i * hidden + d] * f[z + i * pad + j];
      return s;
    };
    expect(maxErr((x) => f[dw + Math.floor(x / pad) * k + col + (x % pad)], (x) => dwRef(Math.floor(x / pad), x % pad), hidden * pad)).toBeLessThan(2e-5);
    let untouched = 0;
    for (let d = 0; d < hidden; d++) for (let j = 0; j < k; j++) if ((j < col || j >= col + pad) && f[dw + d * k + j] === 7) untouched++;
    expect(untouched).toBe(hidden * (k - pad));
  });

  it('softmax rows in place, with each row\'s maximum and sum of exponentials, against Math.exp', () => {
    const [rows, n4, z, st] = [6, 12, 64, 4096];
    const width = 4 * n4;
    fill(z, rows * width, 30);
    const f = heap();
    // a row far below its maximum (exp underflows), one constant row, one with −∞ entries (a class's padding)
    for (let j = 0; j < width; j++) f[z + 2 * width + j] = j === 5 ? 20 : -120;
    f.fill(1.5, z + 3 * width, z + 4 * width);
    for (let j = 40; j < width; j++) f[z + 4 * width + j] = -Infinity;
    const before = f.slice(z, z + rows * width);
    kernels.smax(4 * z, rows, n4, 4 * st);
    const g = heap();
    for (let i = 0; i < rows; i++) {
      const row = Array.from(before.subarray(i * width, (i + 1) * width));
      const m = Math.max(...row);
      const sum = row.reduce((s, v) => s + Math.exp(v - m), 0);
      expect(g[st + 2 * i]).toBe(Math.fround(m));
      expect(Math.abs(g[st + 2 * i + 1] - sum) / sum).toBeLessThan(1e-6);
      for (let j = 0; j < width; j++) {
        const want = Math.exp(row[j] - m) / sum;
        // float32 z − max is off by up to half an ulp of the difference, which exp turns into a relative error
        const argument = Number.isFinite(row[j]) ? Math.abs(row[j] - m) * 2 ** -24 : 0;
        expect(Math.abs(g[z + i * width + j] - want)).toBeLessThanOrEqual((1e-6 + argument) * want + 1e-37);
      }
    }
  });
});
