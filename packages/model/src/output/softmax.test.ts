import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng, VqvidError } from '@vqvid/core';
import { registerWasmKernels } from '../kernels';
import { assignClasses } from './classes';
import { FactoredSoftmax, MERGE_PAIRS, planClassRuns } from './factored';
import { type OutputLayer, createOutputLayer } from './index';
import { logNormaliser, pickedLogProb } from './layer';
import { fusedMemberHeap } from './member';

const FREQ = [50, 3, 20, 1, 9, 30, 2]; // K = 7, gives classes of different sizes

/** Replaces every weight by N(0, scale²) so distributions are far from uniform. */
function randomise(layer: OutputLayer, seed: number, scale = 1): void {
  const rng = new Rng(seed);
  for (const v of layer.variables) {
    v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => rng.normal() * scale), v.shape));
  }
}

function randomHidden(seed: number, n: number, hidden: number): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Float32Array.from({ length: n * hidden }, () => rng.normal()), [n, hidden]);
}

function randomTargets(seed: number, n: number, k: number): tf.Tensor1D {
  const rng = new Rng(seed);
  return tf.tensor1d(Int32Array.from({ length: n }, () => rng.int(k)), 'int32');
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Row r of a row-major [·, m] float32 matrix in float64: its largest entry, Σ_j exp(z_j − max) and ln Σ_j exp(z_j)
 * (−∞ entries add nothing).
 */
function rowLogSumExp64(z: Float32Array, r: number, m: number): { mx: number; sum: number; lse: number } {
  let mx = -Infinity;
  for (let j = 0; j < m; j++) mx = Math.max(mx, z[r * m + j]);
  let sum = 0;
  for (let j = 0; j < m; j++) sum += Math.exp(z[r * m + j] - mx);
  return { mx, sum, lse: mx + Math.log(sum) };
}

/**
 * Slow float64 reference of the factored distribution, straight from the definition and the saved config;
 * with `present`, the direct tables Dc [K, C] and Dx [K, K] (permuted columns) add to the logits.
 */
function factoredReference(layer: OutputLayer, h: Float32Array, n: number, present?: Int32Array): Float64Array {
  const { k, hidden } = layer;
  const classOf = layer.toJSON().classOf as number[];
  const [wc, bc, wx, bx, dc, dx] = layer.variables.map((v) => v.dataSync());
  const c = bc.length;
  const members = Array.from({ length: c }, (_, cls) => classOf.flatMap((x, code) => (x === cls ? [code] : [])));
  const column = new Int32Array(k);
  let j = 0;
  for (const m of members) for (const code of m) column[code] = j++;
  const out = new Float64Array(n * k);
  const dot = (w: ArrayLike<number>, cols: number, col: number, row: number) => {
    let s = 0;
    for (let d = 0; d < hidden; d++) s += h[row * hidden + d] * w[d * cols + col];
    return s;
  };
  for (let i = 0; i < n; i++) {
    const zc = Array.from({ length: c }, (_, cls) => dot(wc, c, cls, i) + bc[cls] + (present ? dc[present[i] * c + cls] : 0));
    const zcNorm = Math.log(zc.reduce((a, z) => a + Math.exp(z), 0));
    for (const [cls, m] of members.entries()) {
      const zx = m.map((code) => dot(wx, k, column[code], i) + bx[column[code]] + (present ? dx[present[i] * k + column[code]] : 0));
      const zxNorm = Math.log(zx.reduce((a, z) => a + Math.exp(z), 0));
      m.forEach((code, idx) => (out[i * k + code] = zc[cls] - zcNorm + zx[idx] - zxNorm));
    }
  }
  return out;
}

const layers: OutputLayer[] = [];
function make(opts: Parameters<typeof createOutputLayer>[0]): OutputLayer {
  const layer = createOutputLayer(opts);
  layers.push(layer);
  return layer;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => {
  for (const l of layers) l.dispose();
});

describe.each([
  ['full', false],
  ['full', true],
  ['factored', false],
  ['factored', true],
] as const)('%s softmax, direct %s', (kind, direct) => {
  const k = 7;
  const hidden = 4;
  const n = 9;
  /** Present codes for a direct layer (seeded), nothing for the others. */
  const presentFor = (seed: number, rows: number) => (direct ? randomTargets(seed, rows, k) : undefined);

  it('is normalised, and logProb is the target column of logProbsAll', () => {
    const layer = make({ kind, k, hidden, seed: 1, classes: 3, frequencies: FREQ, direct });
    expect(layer.direct).toBe(direct);
    expect(layer.variables.length).toBe((kind === 'full' ? 2 : 4) + (direct ? (kind === 'full' ? 1 : 2) : 0));
    randomise(layer, 2, 1.5);
    const h = randomHidden(3, n, hidden);
    const t = randomTargets(4, n, k);
    const present = presentFor(40, n);
    const all = layer.logProbsAll(h, present);
    expect(all.shape).toEqual([n, k]);
    const sums = tf.sum(tf.exp(all), 1).dataSync();
    expect(maxAbsDiff(sums, new Float32Array(n).fill(1))).toBeLessThan(1e-5);
    const lp = layer.logProb(h, t, present);
    const allV = all.dataSync();
    const picked = Array.from(t.dataSync(), (x, i) => allV[i * k + x]);
    expect(maxAbsDiff(lp.dataSync(), picked)).toBeLessThan(1e-5);
    // Not uniform: the test would not notice a constant output otherwise.
    expect(Math.max(...allV) - Math.min(...allV)).toBeGreaterThan(1);
    if (present) {
      // the direct table must matter: another present code gives another distribution
      const other = tf.tensor1d(Array.from(present.dataSync(), (x) => (x + 1) % k), 'int32');
      const moved = layer.logProbsAll(h, other);
      expect(maxAbsDiff(moved.dataSync(), allV)).toBeGreaterThan(0.1);
      tf.dispose([other, moved]);
    }
    tf.dispose([h, t, all, lp, present ?? []]);
  });

  it('gradients of logProb w.r.t. h and every variable match central finite differences (cpu)', () => {
    const layer = make({ kind, k, hidden: 3, seed: 5, classes: 3, frequencies: FREQ, direct });
    randomise(layer, 6, 0.7);
    const hv = randomHidden(7, 5, 3);
    const t = randomTargets(8, 5, k);
    // present codes repeat (rows 0 and 3 share one) so a direct entry collects gradient from two rows
    const present = direct ? tf.tensor1d([2, 5, 0, 2, 6], 'int32') : undefined;
    const r = tf.tensor1d([0.3, -1.1, 0.8, 0.5, -0.4]); // weights rows so errors cannot cancel
    const loss = (h: tf.Tensor2D) => tf.sum(tf.mul(layer.logProb(h, t, present), r)) as tf.Scalar;
    const analytic = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => loss(hv), layer.variables);
      return [tf.grad(loss)(hv), ...layer.variables.map((v) => grads[v.name])];
    });
    const lossAt = (h: tf.Tensor2D) => tf.tidy(() => loss(h).dataSync()[0]);
    const eps = 1e-2;
    const targets: Array<{ values: Float32Array; set: (x: Float32Array) => void }> = [
      { values: hv.dataSync() as Float32Array, set: () => undefined },
      ...layer.variables.map((v) => ({ values: v.dataSync() as Float32Array, set: (x: Float32Array) => v.assign(tf.tensor(x, v.shape)) })),
    ];
    targets.forEach((target, ti) => {
      const base = Float32Array.from(target.values);
      const g = analytic[ti].dataSync();
      const fdAt = (i: number, delta: number) => {
        const x = Float32Array.from(base);
        x[i] += delta;
        target.set(x);
        return ti === 0 ? tf.tidy(() => lossAt(tf.tensor2d(x, hv.shape))) : lossAt(hv);
      };
      for (let i = 0; i < base.length; i++) {
        const fd = (fdAt(i, eps) - fdAt(i, -eps)) / (2 * eps);
        expect(Math.abs(g[i] - fd)).toBeLessThanOrEqual(2e-3 + 1e-2 * Math.abs(fd));
      }
      target.set(base);
    });
    // The check must see real gradients, not zeros everywhere.
    expect(Math.max(...analytic.map((a) => tf.max(tf.abs(a)).dataSync()[0]))).toBeGreaterThan(0.1);
    if (direct) {
      // and the direct tables get a real gradient of their own (the last variables)
      const last = analytic[analytic.length - 1];
      expect(tf.tidy(() => tf.max(tf.abs(last)).dataSync()[0])).toBeGreaterThan(0.05);
    }
    tf.dispose([hv, t, r, ...analytic, present ?? []]);
  });

  it('toJSON/config round trip restores identical outputs', () => {
    const a = make({ kind, k, hidden, seed: 9, classes: 3, frequencies: FREQ, direct });
    randomise(a, 10);
    const config = JSON.parse(JSON.stringify(a.toJSON())) as Record<string, unknown>;
    const b = make({ kind, k, hidden, seed: 11, config });
    expect(b.toJSON()).toEqual(a.toJSON());
    expect(b.direct).toBe(direct);
    a.variables.forEach((v, i) => b.variables[i].assign(v));
    const h = randomHidden(12, n, hidden);
    const t = randomTargets(13, n, k);
    const present = presentFor(41, n);
    const [la, lb] = [a, b].map((l) => l.logProbsAll(h, present));
    expect(Array.from(lb.dataSync())).toEqual(Array.from(la.dataSync()));
    const [pa, pb] = [a, b].map((l) => l.logProb(h, t, present));
    expect(Array.from(pb.dataSync())).toEqual(Array.from(pa.dataSync()));
    tf.dispose([h, t, la, lb, pa, pb, present ?? []]);
  });

  it('rejects bad inputs with VqvidError', () => {
    const layer = make({ kind, k, hidden, seed: 1, direct });
    const h = randomHidden(1, 3, hidden);
    const ok = presentFor(42, 3);
    const cases: Array<[() => unknown, string]> = [
      [() => layer.logProb(h, tf.tensor1d([0, 7, 1], 'int32'), ok), 'E_RANGE'],
      [() => layer.logProb(h, tf.tensor1d([0, 1, 1]), ok), 'E_DTYPE'],
      [() => layer.logProb(h, tf.tensor1d([0, 1], 'int32'), ok), 'E_SHAPE'],
      [() => layer.logProbsAll(randomHidden(1, 3, hidden + 1), ok), 'E_SHAPE'],
      [() => createOutputLayer({ kind, k: 0, hidden, seed: 1 }), 'E_RANGE'],
      [() => createOutputLayer({ kind, k, hidden, seed: 1, config: { kind, k: 8, hidden } }), 'E_FORMAT'],
      [() => createOutputLayer({ kind, k, hidden, seed: 1, direct: !direct, config: layer.toJSON() }), 'E_FORMAT'],
      [() => createOutputLayer({ kind, k: 5000, hidden, seed: 1, direct: true }), 'E_RANGE'],
      // a direct layer needs the present codes, the others must not get any
      [() => layer.logProbsAll(h, direct ? undefined : tf.tensor1d([0, 1, 2], 'int32')), 'E_RANGE'],
      [() => layer.logProb(h, tf.tensor1d([0, 1, 1], 'int32'), direct ? undefined : tf.tensor1d([0, 1, 2], 'int32')), 'E_RANGE'],
      ...(direct
        ? ([
            [() => layer.logProb(h, tf.tensor1d([0, 1, 1], 'int32'), tf.tensor1d([0, 7, 1], 'int32')), 'E_RANGE'],
            [() => layer.logProbsAll(h, tf.tensor1d([0, 1], 'int32')), 'E_SHAPE'],
          ] as Array<[() => unknown, string]>)
        : []),
    ];
    for (const [f, code] of cases) {
      expect(f).toThrow(VqvidError);
      expect(() => f()).toThrow(expect.objectContaining({ code }));
    }
    tf.dispose([h, ok ?? []]);
  });
});

describe('factored softmax', () => {
  it('matches a slow float64 reference of p(class)·p(code | class)', () => {
    const k = 23;
    const freq = Array.from({ length: k }, (_, i) => ((i * 7) % 11) + 1);
    const layer = make({ kind: 'factored', k, hidden: 5, seed: 3, classes: 5, frequencies: freq });
    expect((layer.toJSON().classes as number) > 1).toBe(true);
    randomise(layer, 4, 1.2);
    const h = randomHidden(5, 6, 5);
    const all = layer.logProbsAll(h);
    expect(maxAbsDiff(all.dataSync(), factoredReference(layer, h.dataSync() as Float32Array, 6))).toBeLessThan(2e-5);
    tf.dispose([h, all]);
  });

  it('with direct connections matches the reference with the Dc and Dx table entries added', () => {
    const k = 23;
    const freq = Array.from({ length: k }, (_, i) => ((i * 5) % 13) + 1);
    const layer = make({ kind: 'factored', k, hidden: 5, seed: 3, classes: 5, frequencies: freq, direct: true });
    randomise(layer, 14, 1.2);
    const h = randomHidden(15, 40, 5);
    const present = randomTargets(16, 40, k);
    const targets = randomTargets(17, 40, k);
    const all = layer.logProbsAll(h, present);
    const ref = factoredReference(layer, h.dataSync() as Float32Array, 40, present.dataSync() as Int32Array);
    expect(maxAbsDiff(all.dataSync(), ref)).toBeLessThan(2e-5);
    // logProb takes its own path (only the target class's Dx entries): check it against the reference too
    const lp = layer.logProb(h, targets, present);
    const picked = Array.from(targets.dataSync(), (x, i) => ref[i * k + x]);
    expect(maxAbsDiff(lp.dataSync(), picked)).toBeLessThan(2e-5);
    tf.dispose([h, present, targets, all, lp]);
  });

  it('with one class equals the full softmax with the same weights', () => {
    const full = make({ kind: 'full', k: 12, hidden: 4, seed: 1 });
    const fact = make({ kind: 'factored', k: 12, hidden: 4, seed: 2, classes: 1 });
    randomise(full, 3, 1.5);
    fact.variables[2].assign(full.variables[0]);
    fact.variables[3].assign(full.variables[1]);
    const h = randomHidden(4, 8, 4);
    const t = randomTargets(5, 8, 12);
    const results = [full, fact].map((l) => [l.logProbsAll(h), l.logProb(h, t)]);
    expect(maxAbsDiff(results[0][0].dataSync(), results[1][0].dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(results[0][1].dataSync(), results[1][1].dataSync())).toBeLessThan(1e-6);
    tf.dispose([h, t, ...results.flat()]);
  });

  it('with one class and direct connections equals the full softmax with the same D table', () => {
    const full = make({ kind: 'full', k: 12, hidden: 4, seed: 1, direct: true });
    const fact = make({ kind: 'factored', k: 12, hidden: 4, seed: 2, classes: 1, direct: true });
    randomise(full, 3, 1.5);
    fact.variables[2].assign(full.variables[0]);
    fact.variables[3].assign(full.variables[1]);
    fact.variables[5].assign(full.variables[2]);
    const h = randomHidden(4, 8, 4);
    const t = randomTargets(5, 8, 12);
    const present = randomTargets(6, 8, 12);
    const results = [full, fact].map((l) => [l.logProbsAll(h, present), l.logProb(h, t, present)]);
    expect(maxAbsDiff(results[0][0].dataSync(), results[1][0].dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(results[0][1].dataSync(), results[1][1].dataSync())).toBeLessThan(1e-6);
    tf.dispose([h, t, present, ...results.flat()]);
  });
});

describe('on the wasm backend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each([
    ['full', false],
    ['factored', false],
    ['full', true],
    ['factored', true],
  ] as const)('%s (direct %s): values and gradients agree with cpu; numTensors stays flat', async (kind, direct) => {
    const layer = make({ kind, k: 40, hidden: 6, seed: 21, classes: 6, direct });
    randomise(layer, 22);
    const hv = randomHidden(23, 30, 6).arraySync();
    const tv = Array.from(randomTargets(24, 30, 40).dataSync());
    const pv = Array.from(randomTargets(25, 30, 40).dataSync());
    const step = () =>
      tf.tidy(() => {
        const h = tf.tensor2d(hv);
        const present = direct ? tf.tensor1d(pv, 'int32') : undefined;
        const f = (x: tf.Tensor2D) => tf.neg(tf.mean(layer.logProb(x, tf.tensor1d(tv, 'int32'), present))) as tf.Scalar;
        const { value, grads } = tf.variableGrads(() => f(h), layer.variables);
        return [value, tf.grad(f)(h), ...layer.variables.map((v) => grads[v.name])];
      });
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const out = step();
      const values = out.map((x) => Array.from(x.dataSync()));
      tf.dispose(out);
      return values;
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    cpu.forEach((c, i) => expect(maxAbsDiff(wasm[i], c)).toBeLessThan(1e-5));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(step());
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(['cpu', 'wasm'])('the normaliser is ln Σ exp in float64 (%s), its gradient dy·softmax in float64, no tensor left', async (backend) => {
    await tf.setBackend(backend);
    const rng = new Rng(31);
    const [n, m] = [7, 300];
    // rows of large, spread and masked (−∞) logits
    const zv = Float32Array.from({ length: n * m }, (_, i) => (i % 37 === 5 ? -Infinity : (rng.next() - 0.5) * (i < m ? 200 : 12) + (i >= 2 * m && i < 3 * m ? 80 : 0)));
    const dv = Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
    const before = tf.memory().numTensors;
    const [value, ref, grad] = tf.tidy(() => {
      const z = tf.tensor2d(zv, [n, m]);
      const f = (x: tf.Tensor2D) => tf.sum(tf.mul(logNormaliser(x), tf.tensor1d(dv))) as tf.Scalar;
      return [logNormaliser(z), tf.logSumExp(z, 1), tf.grad(f)(z)].map((t) => Array.from(t.dataSync()));
    });
    expect(tf.memory().numTensors).toBe(before);
    // the value and the gradient (dy·exp(z − lse)) against float64
    for (let r = 0; r < n; r++) {
      const { mx, sum, lse } = rowLogSumExp64(zv, r, m);
      // a float32 of lse is within half an ulp (6e-8 relative); ln p_j and the subtraction add a few more
      expect(Math.abs(value[r] - lse)).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(lse)));
      expect(Math.abs(ref[r] - lse)).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(lse)));
      for (let j = 0; j < m; j++) {
        const want = (dv[r] * Math.exp(zv[r * m + j] - mx)) / sum;
        expect(Math.abs(grad[r * m + j] - want)).toBeLessThanOrEqual(1e-6 * Math.abs(dv[r]) + 1e-6 * Math.abs(want));
      }
    }
    // a real gradient (a peaked row gives most of its dy to one logit), and none into masked logits
    expect(Math.max(...grad.map(Math.abs))).toBeGreaterThan(0.01);
    zv.forEach((z, i) => z === -Infinity && expect(Math.abs(grad[i])).toBe(0));
  });
});

describe('pickedLogProb: the chosen entry of each row\'s log-softmax, in one op', () => {
  it.each([
    ['cpu', true],
    ['cpu', false],
    ['wasm', true],
    ['wasm', false],
  ] as const)('on %s (gradient in place: %s): value and gradient equal float64, and finite differences', async (backend, inPlace) => {
    if (backend === 'wasm') registerWasmKernels();
    await tf.setBackend(backend);
    const rng = new Rng(5);
    const [n, m] = [6, 40];
    // spread logits, one row shifted far up, some masked (−∞) but never a chosen one
    const cols = Int32Array.from({ length: n }, () => rng.int(m));
    const zv = Float32Array.from({ length: n * m }, (_, i) => (i % 13 === 7 && i % m !== cols[Math.floor(i / m)] ? -Infinity : (rng.next() - 0.5) * 8 + (i < m ? 60 : 0)));
    const dv = Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
    const before = tf.memory().numTensors;
    const f = (x: tf.Tensor2D) => tf.sum(tf.mul(pickedLogProb(x, cols, inPlace), tf.tensor1d(dv))) as tf.Scalar;
    const [value, grad] = tf.tidy(() => {
      const z = tf.tensor2d(zv, [n, m]);
      return [pickedLogProb(z, cols, inPlace), tf.grad(f)(z)].map((t) => Array.from(t.dataSync()));
    });
    expect(tf.memory().numTensors).toBe(before);
    for (let r = 0; r < n; r++) {
      const { mx, sum, lse } = rowLogSumExp64(zv, r, m);
      expect(Math.abs(value[r] - (zv[r * m + cols[r]] - lse))).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(lse)));
      for (let j = 0; j < m; j++) {
        // d/dz_j of dy·(z_c − lse) = dy·([j = c] − softmax_j)
        const want = dv[r] * ((j === cols[r] ? 1 : 0) - Math.exp(zv[r * m + j] - mx) / sum);
        expect(Math.abs(grad[r * m + j] - want)).toBeLessThanOrEqual(1e-6);
        if (zv[r * m + j] === -Infinity) expect(Math.abs(grad[r * m + j])).toBe(0);
      }
    }
    // central differences of the float32 op on a few finite entries (step 1e-2: float32 values)
    const objective = (v: Float32Array) => tf.tidy(() => f(tf.tensor2d(v, [n, m])).dataSync()[0]);
    for (const at of [cols[0], m + cols[1], 2 * m + 3, 5 * m + 11]) {
      if (zv[at] === -Infinity) continue;
      const up = zv.slice();
      const down = zv.slice();
      up[at] += 1e-2;
      down[at] -= 1e-2;
      expect(Math.abs((objective(up) - objective(down)) / 2e-2 - grad[at])).toBeLessThan(2e-3);
    }
  });

  it('names the argument when cols does not match the rows', () => {
    const z = tf.zeros([3, 4]) as tf.Tensor2D;
    expect(() => pickedLogProb(z, new Int32Array(2))).toThrow(VqvidError);
    expect(() => pickedLogProb(z, new Int32Array(2))).toThrow(/cols/);
    z.dispose();
  });
});

describe('factored logProb at the scale of a training batch', () => {
  // classes of sizes 1 to 19 (frequency binning: frequent codes in small classes) and 300 rows, over 32 of them
  // in one class: logProb's per-class path (rows grouped by class, one product per class) against logProbsAll's
  const k = 60;
  const freq = Array.from({ length: k }, (_, x) => Math.round(2000 / (1 + x) ** 0.8) + 1); // sizes 1, 2, 3, 4, 7, 10, 14, 19
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['cpu', 'wasm'])('on %s: values and gradients equal those through logProbsAll (the dense path)', async (backend) => {
    await tf.setBackend(backend);
    const layer = make({ kind: 'factored', k, hidden: 5, seed: 31, classes: 8, frequencies: freq });
    const classOf = layer.toJSON().classOf as number[];
    const sizes = classOf.reduce((acc, c) => ((acc[c] = (acc[c] ?? 0) + 1), acc), [] as number[]);
    expect(Math.min(...sizes)).toBe(1);
    expect(Math.max(...sizes)).toBeGreaterThan(15);
    randomise(layer, 32);
    const n = 300;
    const h = randomHidden(33, n, 5);
    const rng = new Rng(34);
    // targets drawn like the data (by frequency): several classes get more than 16 rows
    const total = freq.reduce((a, b) => a + b, 0);
    const t = tf.tensor1d(Int32Array.from({ length: n }, () => {
      let u = rng.next() * total;
      let x = 0;
      while (u >= freq[x] && x < k - 1) u -= freq[x++];
      return x;
    }), 'int32');
    const rows = tf.tensor1d(Float32Array.from({ length: n }, () => rng.normal()));
    const through = (f: (x: tf.Tensor2D) => tf.Tensor1D) => tf.tidy(() => {
      const loss = (x: tf.Tensor2D) => tf.sum(tf.mul(f(x), rows)) as tf.Scalar;
      const { value, grads } = tf.variableGrads(() => loss(h), layer.variables);
      return [value, tf.grad(loss)(h), ...layer.variables.map((v) => grads[v.name])].map((x) => Array.from(x.dataSync()));
    });
    const perClassPath = through((x) => layer.logProb(x, t));
    const dense = through((x) => {
      const all = layer.logProbsAll(x);
      const flat = Int32Array.from(t.dataSync(), (x, i) => i * k + x);
      return tf.gather(tf.reshape(all, [-1]), tf.tensor1d(flat, 'int32')) as tf.Tensor1D;
    });
    const perClass = Array.from(t.dataSync()).reduce((acc, x) => ((acc[classOf[x]] = (acc[classOf[x]] ?? 0) + 1), acc), [] as number[]);
    expect(Math.max(...perClass)).toBeGreaterThan(32);
    perClassPath.forEach((b, i) => expect(maxAbsDiff(b, dense[i])).toBeLessThan(i === 0 ? 1e-3 : 1e-4));
    // the gradient reaches every variable
    for (const g of perClassPath.slice(1)) expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(1e-3);
    tf.dispose([h, t, rows]);
  });
});

describe('factored logProb: classes scored together in runs (planClassRuns)', () => {
  /** Every way to cut a active classes into runs of consecutive ones, as lists of run lengths. */
  function partitions(a: number): number[][] {
    if (a === 0) return [[]];
    const out: number[][] = [];
    for (let first = 1; first <= a; first++) for (const rest of partitions(a - first)) out.push([first, ...rest]);
    return out;
  }

  it('picks the cheapest cut of the classes (against every cut), and masks each row to its own members', () => {
    const rng = new Rng(41);
    for (let trial = 0; trial < 40; trial++) {
      const nc = 2 + rng.int(7);
      const sizes = Array.from({ length: nc }, () => 1 + rng.int(30));
      const starts = sizes.map((_, c) => sizes.slice(0, c).reduce((x, y) => x + y, 0));
      const active = Array.from({ length: nc }, (_, c) => c).filter(() => rng.next() < 0.8);
      if (active.length === 0) active.push(rng.int(nc));
      const counts = active.map(() => 1 + rng.int(60));
      const merge = [0, 50, 500, 5000, 1e9][trial % 5];
      const cost = (lengths: number[]) => {
        let total = 0;
        let i = 0;
        for (const len of lengths) {
          const rows = counts.slice(i, i + len).reduce((x, y) => x + y, 0);
          const last = active[i + len - 1];
          total += merge + rows * (starts[last] + sizes[last] - starts[active[i]]);
          i += len;
        }
        return total;
      };
      const cheapest = Math.min(...partitions(active.length).map(cost));
      const runs = planClassRuns(active, counts, starts, sizes, merge);
      expect(cost(runs.map((r) => r.classes))).toBe(cheapest);
      if (merge === 0) expect(runs.length).toBe(active.length);
      if (merge === 1e9) expect(runs.length).toBe(1);
      // runs tile the classes and the rows in order; a row's unmasked columns are exactly its own class's
      let row = 0;
      let first = 0;
      for (const r of runs) {
        expect([r.first, r.row]).toEqual([first, row]);
        expect(r.col).toBe(starts[active[r.first]]);
        const last = active[r.first + r.classes - 1];
        expect(r.cols).toBe(starts[last] + sizes[last] - r.col);
        const own: Array<[number, number]> = [];
        for (let c = r.first; c < r.first + r.classes; c++) for (let e = 0; e < counts[c]; e++) own.push([starts[active[c]] - r.col, sizes[active[c]]]);
        expect(own.length).toBe(r.rows);
        expect(r.mask === null).toBe(r.classes === 1 && r.cols === sizes[active[r.first]]);
        if (r.mask) {
          const want = new Float32Array(r.rows * r.cols).fill(-Infinity);
          own.forEach(([from, size], i) => want.fill(0, i * r.cols + from, i * r.cols + from + size));
          expect(Array.from(r.mask)).toEqual(Array.from(want));
        } else expect(own.every(([from, size]) => from === 0 && size === r.cols)).toBe(true);
        row += r.rows;
        first += r.classes;
      }
      expect([first, row]).toEqual([active.length, counts.reduce((x, y) => x + y, 0)]);
    }
  });

  // frequency-binned classes (sizes 1 to dozens) and targets drawn by frequency, as in training
  const setup = (k: number, classes: number, n: number, hidden: number, seed: number) => {
    const freq = Array.from({ length: k }, (_, x) => Math.round(2000 / (1 + x) ** 0.8) + 1);
    const rng = new Rng(seed);
    const total = freq.reduce((a, b) => a + b, 0);
    const draw = () => {
      let u = rng.next() * total;
      let x = 0;
      while (u >= freq[x] && x < k - 1) u -= freq[x++];
      return x;
    };
    return {
      cls: assignClasses(k, classes, freq),
      values: (size: number) => Float32Array.from({ length: size }, () => rng.normal()),
      h: Float32Array.from({ length: n * hidden }, () => rng.normal()),
      targets: Int32Array.from({ length: n }, draw),
      present: Int32Array.from({ length: n }, () => rng.int(k)),
      rows: Float32Array.from({ length: n }, () => rng.normal()),
    };
  };

  /** Σ rows·logProb of `d`'s batch through `layer`, then its gradient for h and for each variable, as float32 arrays. */
  const lossAndGradients = (layer: FactoredSoftmax, d: ReturnType<typeof setup>, n: number, hidden: number, direct = false) =>
    tf.tidy(() => {
      const h = tf.tensor2d(d.h, [n, hidden]);
      const t = tf.tensor1d(d.targets, 'int32');
      const p = direct ? tf.tensor1d(d.present, 'int32') : undefined;
      const loss = (x: tf.Tensor2D) => tf.sum(tf.mul(layer.logProb(x, t, p), tf.tensor1d(d.rows))) as tf.Scalar;
      const { value, grads } = tf.variableGrads(() => loss(h), layer.variables);
      return [value, tf.grad(loss)(h), ...layer.variables.map((v) => grads[v.name])].map((x) => Float32Array.from(x.dataSync()));
    });

  it.each([
    ['wasm', false, 300, 17, 600, 16],
    ['wasm', true, 300, 17, 600, 16],
    ['cpu', false, 300, 17, 600, 16],
    ['cpu', true, 60, 8, 120, 5],
  ] as const)('on %s (direct %s): merged runs give the values and gradients of one product per class', async (backend, direct, k, classes, n, hidden) => {
    if (backend === 'wasm') registerWasmKernels();
    await tf.setBackend(backend);
    const d = setup(k, classes, n, hidden, 42);
    // one run per class, the default cut, and everything in one run, all as tfjs products (the fused member
    // kernels are tested against them below)
    const layers = [0, MERGE_PAIRS, 1e12].map((merge) => new FactoredSoftmax(k, hidden, 5, d.cls, direct, merge, false));
    const weights = layers[0].variables.map((v) => d.values(v.size));
    const counts = d.cls.members.map((m) => m.length);
    expect(Math.min(...counts)).toBe(1);
    expect(Math.max(...counts)).toBeGreaterThan(15);
    const results = layers.map((layer) => {
      layer.variables.forEach((v, i) => v.assign(tf.tensor(weights[i], v.shape)));
      const out = lossAndGradients(layer, d, n, hidden, direct);
      layer.dispose();
      return out;
    });
    for (const merged of results.slice(1)) {
      merged.forEach((x, i) => {
        // wasm's softmax (XNNPACK) sums a row's exps in SIMD lanes, and the masked columns of a merged run move the
        // members between lanes; cpu sums a matMul's inner dimension in blocks of 48 rows: merged rows move the edges
        expect(maxAbsDiff(x, results[0][i])).toBeLessThan(backend === 'wasm' ? 1e-5 : 1e-4);
      });
    }
    // the gradient reaches every variable
    for (const g of results[1].slice(2)) expect(Math.max(...Array.from(g, Math.abs))).toBeGreaterThan(1e-3);
    await tf.setBackend('cpu');
  });

  // the fused member kernels (output/member.ts) against one tfjs product per class: frequency-binned classes whose
  // padding runs past the last column (k not a multiple of 16), and few rows, so that some classes have none
  it.each([
    [300, 17, 600, 16],
    [61, 12, 20, 8],
  ] as const)('fused member products (wasm; k %i, %i classes, %i rows, hidden %i): the values and gradients of the products per class, zeros for absent classes', async (k, classes, n, hidden) => {
    registerWasmKernels();
    await tf.setBackend('wasm');
    expect(fusedMemberHeap(hidden)).not.toBeNull();
    const d = setup(k, classes, n, hidden, 43);
    const starts: number[] = [];
    d.cls.members.reduce((at, m) => (starts.push(at), at + m.length), 0);
    const active = new Set(Array.from(d.targets, (x) => d.cls.classOf[x]));
    const absent = d.cls.members.map((_, c) => c).filter((c) => !active.has(c));
    // a class whose 16-column padding runs past column k (the kernels then read and write a padded copy)
    expect([...active].some((c) => starts[c] + Math.ceil(d.cls.members[c].length / 16) * 16 > k)).toBe(true);
    if (n < 100) expect(absent.length).toBeGreaterThan(0);
    const layers = [false, true].map((fused) => new FactoredSoftmax(k, hidden, 5, d.cls, false, 0, fused));
    const weights = layers[0].variables.map((v) => d.values(v.size));
    const before = tf.memory().numTensors;
    const results = layers.map((layer) => {
      layer.variables.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(weights[i], v.shape))));
      const out = lossAndGradients(layer, d, n, hidden);
      for (let i = 0; i < 3; i++) lossAndGradients(layer, d, n, hidden);
      return out;
    });
    // four steps of each layer leave no tensor behind
    expect(tf.memory().numTensors).toBe(before);
    // float32 rounding of the loss (a sum over the rows) and of each gradient, relative to its largest entry
    results[1].forEach((x, i) => expect(maxAbsDiff(x, results[0][i])).toBeLessThan(2e-6 * Math.max(1, ...Array.from(results[0][i], Math.abs)) * (i === 0 ? n : 10)));
    // the fused layer's member weights and biases (variables 2, 3): exactly 0 in every column of an absent class
    const [dwx, dbx] = [results[1][4], results[1][5]];
    for (const c of absent) {
      for (let j = starts[c]; j < starts[c] + d.cls.members[c].length; j++) {
        expect(dbx[j]).toBe(0);
        for (let r = 0; r < hidden; r++) expect(dwx[r * k + j]).toBe(0);
      }
    }
    // one product for the whole batch (the class logits): the members are not tfjs products
    const h = tf.tensor2d(d.h, [n, hidden]);
    const t = tf.tensor1d(d.targets, 'int32');
    // (counted as each profile ends: tf.profile hands back the engine's one profile record, reused by the next)
    const products: number[] = [];
    for (const layer of layers) {
      const info = await tf.profile(() => layer.logProb(h, t));
      products.push(info.kernels.filter((x) => x.name === 'BatchMatMul').length);
      tf.dispose(info.result as tf.Tensor);
    }
    expect(products[1]).toBe(1);
    expect(products[0]).toBeGreaterThan(2);
    tf.dispose([h, t]);
    layers.forEach((layer) => layer.dispose());
    await tf.setBackend('cpu');
  });

  it('fused member products: gradients match central finite differences (wasm, float32)', async () => {
    registerWasmKernels();
    await tf.setBackend('wasm');
    const [k, classes, n, hidden] = [45, 4, 30, 8];
    const d = setup(k, classes, n, hidden, 44);
    const layer = new FactoredSoftmax(k, hidden, 5, d.cls, false, 0, true);
    layer.variables.forEach((v) => v.assign(tf.tensor(d.values(v.size), v.shape)));
    const t = tf.tensor1d(d.targets, 'int32');
    const loss = (x: tf.Tensor2D) => tf.sum(tf.mul(layer.logProb(x, t), tf.tensor1d(d.rows))) as tf.Scalar;
    const h = tf.tensor2d(d.h, [n, hidden]);
    const { grads } = tf.variableGrads(() => loss(h), layer.variables);
    const dh = tf.grad(loss)(h);
    const value = (hv: Float32Array) => tf.tidy(() => loss(tf.tensor2d(hv, [n, hidden])).dataSync()[0]);
    const eps = 1e-2;
    const rng = new Rng(45);
    const close = (fd: number, an: number) => expect(Math.abs(fd - an)).toBeLessThan(3e-3 + 2e-2 * Math.abs(an));
    // the member weights and biases (in columns of classes with rows), then the hidden rows
    for (const v of layer.variables.slice(2)) {
      const g = grads[v.name].dataSync();
      const base = Float32Array.from(v.dataSync());
      for (let s = 0; s < 12; s++) {
        const i = rng.int(v.size);
        const at = (x: number) => {
          const w = base.slice();
          w[i] += x;
          v.assign(tf.tensor(w, v.shape));
          return value(d.h);
        };
        close((at(eps) - at(-eps)) / (2 * eps), g[i]);
      }
      v.assign(tf.tensor(base, v.shape));
    }
    const gh = dh.dataSync();
    for (let s = 0; s < 12; s++) {
      const i = rng.int(n * hidden);
      const at = (x: number) => {
        const hv = d.h.slice();
        hv[i] += x;
        return value(hv);
      };
      close((at(eps) - at(-eps)) / (2 * eps), gh[i]);
    }
    // a real gradient: not all zero
    expect(Math.max(...Array.from(grads[layer.variables[2].name].dataSync(), Math.abs))).toBeGreaterThan(1e-2);
    tf.dispose([t, h, dh, ...Object.values(grads)]);
    layer.dispose();
    await tf.setBackend('cpu');
  });
});
