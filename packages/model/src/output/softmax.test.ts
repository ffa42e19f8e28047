import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng, VqvidError } from '@vqvid/core';
import { type OutputLayer, createOutputLayer } from './index';

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

/** Slow float64 reference of the factored distribution, straight from the definition and the saved config. */
function factoredReference(layer: OutputLayer, h: Float32Array, n: number): Float64Array {
  const { k, hidden } = layer;
  const classOf = layer.toJSON().classOf as number[];
  const [wc, bc, wx, bx] = layer.variables.map((v) => v.dataSync());
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
    const zc = Array.from({ length: c }, (_, cls) => dot(wc, c, cls, i) + bc[cls]);
    const zcNorm = Math.log(zc.reduce((a, z) => a + Math.exp(z), 0));
    for (const [cls, m] of members.entries()) {
      const zx = m.map((code) => dot(wx, k, column[code], i) + bx[column[code]]);
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

describe.each(['full', 'factored'] as const)('%s softmax', (kind) => {
  const k = 7;
  const hidden = 4;
  const n = 9;

  it('is normalised, and logProb is the target column of logProbsAll', () => {
    const layer = make({ kind, k, hidden, seed: 1, classes: 3, frequencies: FREQ });
    randomise(layer, 2, 1.5);
    const h = randomHidden(3, n, hidden);
    const t = randomTargets(4, n, k);
    const all = layer.logProbsAll(h);
    expect(all.shape).toEqual([n, k]);
    const sums = tf.sum(tf.exp(all), 1).dataSync();
    expect(maxAbsDiff(sums, new Float32Array(n).fill(1))).toBeLessThan(1e-5);
    const lp = layer.logProb(h, t);
    const allV = all.dataSync();
    const picked = Array.from(t.dataSync(), (x, i) => allV[i * k + x]);
    expect(maxAbsDiff(lp.dataSync(), picked)).toBeLessThan(1e-5);
    // Not uniform: the test would not notice a constant output otherwise.
    expect(Math.max(...allV) - Math.min(...allV)).toBeGreaterThan(1);
    tf.dispose([h, t, all, lp]);
  });

  it('gradients of logProb w.r.t. h and every variable match central finite differences (cpu)', () => {
    const layer = make({ kind, k, hidden: 3, seed: 5, classes: 3, frequencies: FREQ });
    randomise(layer, 6, 0.7);
    const hv = randomHidden(7, 5, 3);
    const t = randomTargets(8, 5, k);
    const r = tf.tensor1d([0.3, -1.1, 0.8, 0.5, -0.4]); // weights rows so errors cannot cancel
    const loss = (h: tf.Tensor2D) => tf.sum(tf.mul(layer.logProb(h, t), r)) as tf.Scalar;
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
    tf.dispose([hv, t, r, ...analytic]);
  });

  it('toJSON/config round trip restores identical outputs', () => {
    const a = make({ kind, k, hidden, seed: 9, classes: 3, frequencies: FREQ });
    randomise(a, 10);
    const config = JSON.parse(JSON.stringify(a.toJSON())) as Record<string, unknown>;
    const b = make({ kind, k, hidden, seed: 11, config });
    expect(b.toJSON()).toEqual(a.toJSON());
    a.variables.forEach((v, i) => b.variables[i].assign(v));
    const h = randomHidden(12, n, hidden);
    const t = randomTargets(13, n, k);
    const [la, lb] = [a, b].map((l) => l.logProbsAll(h));
    expect(Array.from(lb.dataSync())).toEqual(Array.from(la.dataSync()));
    const [pa, pb] = [a, b].map((l) => l.logProb(h, t));
    expect(Array.from(pb.dataSync())).toEqual(Array.from(pa.dataSync()));
    tf.dispose([h, t, la, lb, pa, pb]);
  });

  it('rejects bad inputs with VqvidError', () => {
    const layer = make({ kind, k, hidden, seed: 1 });
    const h = randomHidden(1, 3, hidden);
    const cases: Array<[() => unknown, string]> = [
      [() => layer.logProb(h, tf.tensor1d([0, 7, 1], 'int32')), 'E_RANGE'],
      [() => layer.logProb(h, tf.tensor1d([0, 1, 1])), 'E_DTYPE'],
      [() => layer.logProb(h, tf.tensor1d([0, 1], 'int32')), 'E_SHAPE'],
      [() => layer.logProbsAll(randomHidden(1, 3, hidden + 1)), 'E_SHAPE'],
      [() => createOutputLayer({ kind, k: 0, hidden, seed: 1 }), 'E_RANGE'],
      [() => createOutputLayer({ kind, k, hidden, seed: 1, config: { kind, k: 8, hidden } }), 'E_FORMAT'],
    ];
    for (const [f, code] of cases) {
      expect(f).toThrow(VqvidError);
      expect(() => f()).toThrow(expect.objectContaining({ code }));
    }
    h.dispose();
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
});

describe('on the wasm backend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['full', 'factored'] as const)('%s: values and gradients agree with cpu; numTensors stays flat', async (kind) => {
    const layer = make({ kind, k: 40, hidden: 6, seed: 21, classes: 6 });
    randomise(layer, 22);
    const hv = randomHidden(23, 30, 6).arraySync();
    const tv = Array.from(randomTargets(24, 30, 40).dataSync());
    const step = () =>
      tf.tidy(() => {
        const h = tf.tensor2d(hv);
        const f = (x: tf.Tensor2D) => tf.neg(tf.mean(layer.logProb(x, tf.tensor1d(tv, 'int32')))) as tf.Scalar;
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
});
