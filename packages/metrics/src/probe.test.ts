import { Rng, VqvidError } from '@vqvid/core';
import { binaryAccuracy, fitLogistic, fitRidge, predictProbe, rocAuc, rSquared } from './index';
import type { SampleMatrix } from './index';

/** A [count, dims] matrix of standard normals (column j scaled by scales[j], shifted by j). */
function normals(count: number, dims: number, seed: number, scales: number[] = []): SampleMatrix {
  const rng = new Rng(seed);
  const data = Float64Array.from({ length: count * dims }, (_, i) => rng.normal() * (scales[i % dims] ?? 1) + (i % dims));
  return { data, count, dims };
}

/** Solves A x = b ([d, d] and [d]) by Gaussian elimination with partial pivoting: the slow, independent reference. */
function gaussSolve(a: number[][], b: number[]): number[] {
  const d = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < d; c++) {
    const p = m.reduce((best, row, r) => (r >= c && Math.abs(row[c]) > Math.abs(m[best][c]) ? r : best), c);
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < d; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= d; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array<number>(d).fill(0);
  for (let r = d - 1; r >= 0; r--) x[r] = (m[r][d] - m[r].slice(r + 1, d).reduce((s, v, k) => s + v * x[r + 1 + k], 0)) / m[r][r];
  return x;
}

/** Ridge with an unpenalised intercept in closed form: ([X 1]ᵀ[X 1] + diag(λ, …, λ, 0)) β = [X 1]ᵀ y. */
function ridgeReference(x: SampleMatrix, y: number[], lambda: number): number[] {
  const d = x.dims + 1;
  const row = (s: number) => [...Array.from({ length: x.dims }, (_, i) => x.data[s * x.dims + i]), 1];
  const a = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j && i < d - 1 ? lambda : 0)));
  const b = new Array<number>(d).fill(0);
  for (let s = 0; s < x.count; s++) {
    const r = row(s);
    for (let i = 0; i < d; i++) {
      b[i] += r[i] * y[s];
      for (let j = 0; j < d; j++) a[i][j] += r[i] * r[j];
    }
  }
  return gaussSolve(a, b);
}

function expectVqvid(f: () => unknown, code: string, arg: string): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(VqvidError);
  expect((error as VqvidError).code).toBe(code);
  expect((error as VqvidError).message).toContain(arg);
}

describe('fitRidge', () => {
  // more samples than one block of the Gram product, and a width that is not a multiple of its unrolling
  const x = normals(300, 6, 1, [1, 3, 0.5, 2, 1, 4]);
  const rng = new Rng(2);
  const targets = (w: number[], b: number) =>
    Array.from({ length: x.count }, (_, s) => b + w.reduce((acc, wi, i) => acc + wi * x.data[s * x.dims + i], 0) + 0.3 * rng.normal());
  const y1 = targets([1, -2, 0.5, 0, 0.2, 1], 3);
  const y2 = targets([0, 1, 1, -1, 0, -0.3], -1);
  const y: SampleMatrix = { data: Float64Array.from(y1.flatMap((v, s) => [v, y2[s]])), count: x.count, dims: 2 };

  it.each([0, 0.5, 20])('equals the closed-form normal equations with an unpenalised intercept (lambda %p, two targets)', (lambda) => {
    const probe = fitRidge(x, y, { lambda, standardize: false });
    const yHat = predictProbe(probe, x);
    [y1, y2].forEach((target, o) => {
      const beta = ridgeReference(x, target, lambda);
      for (let i = 0; i < x.dims; i++) expect(probe.weights[i * 2 + o]).toBeCloseTo(beta[i], 9);
      for (let s = 0; s < x.count; s++) {
        const ref = beta[x.dims] + beta.slice(0, x.dims).reduce((acc, b, i) => acc + b * x.data[s * x.dims + i], 0);
        expect(yHat[s * 2 + o]).toBeCloseTo(ref, 9);
      }
    });
  });

  it('recovers noiseless linear targets exactly without a penalty; standardising changes nothing then', () => {
    const exact = { data: Float64Array.from({ length: x.count }, (_, s) => 2 - x.data[s * x.dims] + 4 * x.data[s * x.dims + 3]), count: x.count, dims: 1 };
    for (const standardize of [false, true]) {
      const yHat = predictProbe(fitRidge(x, exact, { lambda: 0, standardize }), x);
      yHat.forEach((v, s) => expect(v).toBeCloseTo(exact.data[s], 9));
      expect(rSquared(yHat, exact.data)).toBeCloseTo(1, 12);
    }
  });

  it('with standardising, rescaling a feature leaves the predictions unchanged (lambda > 0)', () => {
    const scaled = { ...x, data: x.data.map((v, i) => (i % x.dims === 1 ? v * 1000 : v)) };
    const a = predictProbe(fitRidge(x, y, { lambda: 5 }), x);
    const b = predictProbe(fitRidge(scaled, y, { lambda: 5 }), scaled);
    a.forEach((v, i) => expect(b[i]).toBeCloseTo(v, 8));
  });

  it('refuses mismatched sizes, a negative penalty and collinear features without one', () => {
    expectVqvid(() => fitRidge(x, { ...y, count: 299, data: y.data.subarray(0, 598) }), 'E_SHAPE', 'y.count');
    expectVqvid(() => fitRidge({ ...x, dims: 5 }, y), 'E_SHAPE', 'x.data.length');
    expectVqvid(() => fitRidge(x, y, { lambda: -1 }), 'E_RANGE', 'opts.lambda');
    const twice = { data: Float64Array.from({ length: 600 }, (_, i) => x.data[Math.floor(i / 2) * x.dims]), count: 300, dims: 2 };
    expectVqvid(() => fitRidge(twice, y, { lambda: 0 }), 'E_RANGE', 'opts.lambda');
    expectVqvid(() => predictProbe(fitRidge(x, y), { data: new Float64Array(3), count: 1, dims: 3 }), 'E_SHAPE', 'x.dims');
  });
});

describe('fitLogistic', () => {
  const x = normals(200, 3, 3, [1, 2, 0.5]);
  const rng = new Rng(4);
  const labelsOf = (w: number[], b: number) =>
    Array.from({ length: x.count }, (_, s) => {
      const v = b + w.reduce((acc, wi, i) => acc + wi * (x.data[s * 3 + i] - i), 0);
      return rng.next() < 1 / (1 + Math.exp(-v)) ? 1 : 0;
    });
  const labels = labelsOf([1.5, -0.7, 2], 0.3);

  /** The penalised loss's gradient at the fitted probe, in the coordinates the probe fitted (standardised features). */
  function gradientAt(probe: ReturnType<typeof fitLogistic>, lab: number[]): number[] {
    const p = predictProbe(probe, x);
    const g = new Array<number>(x.dims + 1).fill(0);
    for (let s = 0; s < x.count; s++) {
      const r = p[s] - lab[s];
      for (let i = 0; i < x.dims; i++) g[i] += r * ((x.data[s * 3 + i] - probe.mean[i]) / probe.scale[i]);
      g[x.dims] += r;
    }
    for (let i = 0; i < x.dims; i++) g[i] += probe.lambda * probe.weights[i];
    return g;
  }

  it.each([
    [0, false],
    [1, false],
    [10, true],
  ])('converges to a zero gradient of the penalised loss (lambda %p, standardise %p)', (lambda, standardize) => {
    const probe = fitLogistic(x, labels, { lambda, standardize });
    expect(probe.converged).toBe(true);
    expect(probe.iterations).toBeLessThan(15);
    for (const g of gradientAt(probe, labels)) expect(Math.abs(g)).toBeLessThan(1e-8);
  });

  it('converges on separable classes with a small penalty', () => {
    const separable = Array.from({ length: x.count }, (_, s) => (x.data[s * 3] > 0 ? 1 : 0));
    const probe = fitLogistic(x, separable, { lambda: 1e-3 });
    expect(probe.converged).toBe(true);
    for (const g of gradientAt(probe, separable)) expect(Math.abs(g)).toBeLessThan(1e-6);
    const p = predictProbe(probe, x);
    expect(binaryAccuracy(p, separable)).toBe(1);
    expect(rocAuc(p, separable)).toBe(1);
  });

  it('a warm start from another penalty reaches the same optimum in fewer steps', () => {
    const cold = fitLogistic(x, labels, { lambda: 1 });
    const warm = fitLogistic(x, labels, { lambda: 1, init: fitLogistic(x, labels, { lambda: 3 }) });
    expect(warm.iterations).toBeLessThan(cold.iterations);
    warm.weights.forEach((w, i) => expect(w).toBeCloseTo(cold.weights[i], 8));
    expect(warm.bias[0]).toBeCloseTo(cold.bias[0], 8);
    expectVqvid(() => fitLogistic(x, labels, { init: fitRidge(x, { data: Float64Array.from(labels), count: x.count, dims: 1 }) }), 'E_SHAPE', 'opts.init');
  });

  it('refuses labels other than 0 and 1, or of one class only', () => {
    expectVqvid(() => fitLogistic(x, labels.map((l) => l * 2)), 'E_RANGE', 'labels[');
    expectVqvid(() => fitLogistic(x, new Array(x.count).fill(1)), 'E_RANGE', 'labels');
    expectVqvid(() => fitLogistic(x, labels.slice(1)), 'E_SHAPE', 'labels.length');
  });
});

describe('rocAuc, binaryAccuracy, rSquared', () => {
  it('rocAuc equals the fraction of (positive, negative) pairs ranked right, ties counting 1/2', () => {
    const rng = new Rng(5);
    const scores = Array.from({ length: 300 }, () => Math.round(rng.next() * 20) / 20);
    const labels = scores.map((s) => (rng.next() < s ? 1 : 0));
    let pairs = 0;
    let right = 0;
    for (let i = 0; i < scores.length; i++) {
      for (let j = 0; j < scores.length; j++) {
        if (labels[i] !== 1 || labels[j] !== 0) continue;
        pairs++;
        right += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
    expect(rocAuc(scores, labels)).toBeCloseTo(right / pairs, 12);
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(rocAuc([3, 2, 1], [0, 1, 1])).toBe(0);
    expect(rocAuc([1, 1, 1], [0, 1, 1])).toBe(0.5);
    expectVqvid(() => rocAuc([1, 2], [1, 1]), 'E_RANGE', 'labels');
  });

  it('binaryAccuracy thresholds at 0.5 by default; rSquared is 1 for exact, 0 for the mean', () => {
    expect(binaryAccuracy([0.9, 0.2, 0.6], [1, 0, 0])).toBeCloseTo(2 / 3, 12);
    expect(binaryAccuracy([0.9, 0.2, 0.6], [1, 0, 0], 0.7)).toBe(1);
    expect(rSquared([1, 2, 3.5], [1, 2, 3])).toBeCloseTo(0.875, 12);
    expect(rSquared([2, 2, 2], [1, 2, 3])).toBe(0);
    expectVqvid(() => rSquared([1, 2], [1, 1]), 'E_RANGE', 'truth');
    expectVqvid(() => rSquared([1, 2], [1, 2, 3]), 'E_SHAPE', 'predicted.length');
    expectVqvid(() => binaryAccuracy([0.5, NaN], [0, 1]), 'E_RANGE', 'probs[1]');
  });
});
