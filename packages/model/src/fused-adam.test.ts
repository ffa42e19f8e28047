import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StoredArray } from '@vqvid/core';
import { Rng } from '@vqvid/core';
import { adamUpdate, clipScale, FusedAdam, summedSquares } from './fused-adam';
import { initBackend, RCNN } from './index';
import type { FitOptions, ModelOptions } from './index';
import { partsOf } from './internals';
import { applyClipped } from './step';
import { motionCodes } from './testing';
import { gradientStride, liveTrainWorkers } from './workers';

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-fused-adam-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** Largest |a - b| relative to max(|a|, floor), element by element. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), floor));
  return worst;
}

function normal(rng: Rng, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // Box-Muller
    const u = Math.max(1e-12, rng.next());
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  }
  return out;
}

describe('fused Adam step', () => {
  // clip 1e3: never active; 0.05: active at every step
  it.each([
    ['inactive', 1e3],
    ['active', 0.05],
  ])('matches tf.AdamOptimizer + applyClipped over several steps (clip %s), lr changing, two gradient regions', async (_name, clip) => {
    const rng = new Rng(11);
    const shapes = [[7, 5], [13], [3, 4, 2]];
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const total = sizes.reduce((a, b) => a + b, 0);
    const init = shapes.map((_, i) => normal(rng, sizes[i], 0.5));
    const before = tf.memory().numTensors;
    const vars = shapes.map((s, i) => tf.tidy(() => tf.variable(tf.tensor(init[i], s), true, `fused_adam_test_${clip}_${i}`)));
    const opt = tf.train.adam(0.01);
    const fused = await FusedAdam.fromOptimizer(opt, sizes);
    expect(fused.iterations).toBe(0);
    expect(Array.from(fused.m).every((x) => x === 0)).toBe(true);
    const params = new Float32Array(total);
    let off = 0;
    init.forEach((w) => {
      params.set(w, off);
      off += w.length;
    });
    const shares = [0.25, 0.75];
    const lrs = [0.01, 0.01, 0.005, 0.02, 0.001, 0.01];
    let clipped = 0;
    for (let step = 0; step < lrs.length; step++) {
      // two workers' regions; the tf side gets their sum in worker order
      const regions = normal(rng, 2 * total, 1);
      if (step === 2) regions.fill(0, 0, sizes[0]); // a variable with a zero gradient in one region
      const summed = new Float32Array(total);
      for (let i = 0; i < total; i++) summed[i] = 0 + shares[0] * regions[i] + shares[1] * regions[total + i];
      (opt as unknown as { learningRate: number }).learningRate = lrs[step];
      tf.tidy(() => {
        const named: tf.NamedTensorMap = {};
        let at = 0;
        vars.forEach((v, i) => {
          named[v.name] = tf.tensor(summed.subarray(at, at + sizes[i]), v.shape);
          at += sizes[i];
        });
        applyClipped(vars, named, opt, clip);
      });
      fused.step(params, regions, shares, lrs[step], clip);
      if (fused.lastNorm > clip) clipped++;
      // the same weights, moments and beta powers
      const named = await opt.getWeights();
      expect(named[0].tensor.dataSync()[0]).toBe(fused.iterations);
      named[0].tensor.dispose();
      const snap = fused.snapshot(sizes);
      expect(snap.moments).toHaveLength(2 * sizes.length);
      for (let i = 0; i < vars.length; i++) {
        const w = vars[i].dataSync();
        const p = params.subarray(sizes.slice(0, i).reduce((a, b) => a + b, 0)).subarray(0, sizes[i]);
        expect(relDiff(w, p, 1e-3)).toBeLessThan(1e-6);
        // moments relative to the tensor's largest (a moment is a sum that can cancel to near 0)
        for (const j of [1 + i, 1 + vars.length + i]) {
          const ref = named[j].tensor.dataSync();
          expect(relDiff(ref, snap.moments[j - 1], Math.max(...Array.from(ref, Math.abs)))).toBeLessThan(1e-6);
        }
      }
      const internals = opt as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
      expect(fused.accBeta1).toBe(internals.accBeta1.dataSync()[0]);
      expect(fused.accBeta2).toBe(internals.accBeta2.dataSync()[0]);
    }
    expect(clipped).toBe(clip < 1 ? lrs.length : 0);
    // the weights really moved
    expect(relDiff(init[0], params.subarray(0, sizes[0]), 1e-3)).toBeGreaterThan(1e-3);

    // a fused state taken from the trained optimizer holds its moments and beta powers exactly
    const resumed = await FusedAdam.fromOptimizer(opt, sizes);
    expect(resumed.iterations).toBe(lrs.length);
    const named = await opt.getWeights();
    named[0].tensor.dispose();
    const concat = (ts: { tensor: tf.Tensor }[]) => ts.flatMap((t) => Array.from(t.tensor.dataSync()));
    expect(Array.from(resumed.m)).toEqual(concat(named.slice(1, 1 + vars.length)));
    expect(Array.from(resumed.v)).toEqual(concat(named.slice(1 + vars.length)));
    expect([resumed.accBeta1, resumed.accBeta2]).toEqual([fused.accBeta1, fused.accBeta2]);
    opt.dispose();
    tf.dispose(vars);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('regions a stride apart (a pool\'s cache-line-aligned layout) give the same step bit for bit as packed ones', () => {
    const rng = new Rng(8);
    const n = 37;
    const stride = gradientStride(n);
    // the stride: a multiple of 16 floats (64 bytes), at least n and less than n + 16
    expect([stride % 16, stride >= n, stride < n + 16]).toEqual([0, true, true]);
    expect(gradientStride(48)).toBe(48);
    const packed = normal(rng, 2 * n, 1);
    const spaced = new Float32Array(2 * stride).fill(NaN); // the gaps must not be read
    spaced.set(packed.subarray(0, n), 0);
    spaced.set(packed.subarray(n), stride);
    const p0 = normal(rng, n, 1);
    const [a, b] = [p0.slice(), p0.slice()];
    const [fa, fb] = [new FusedAdam(n), new FusedAdam(n)];
    for (let s = 0; s < 3; s++) {
      fa.step(a, packed, [0.5, 0.5], 0.01, 0.5);
      fb.step(b, spaced, [0.5, 0.5], 0.01, 0.5, stride);
    }
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(fb.m)).toEqual(Array.from(fa.m));
    expect(fb.lastNorm).toBe(fa.lastNorm);
    expect(() => fb.step(b, spaced, [0.5, 0.5], 0.01, 0.5, n - 1)).toThrow(/stride/);
    expect(() => fb.step(b, spaced.subarray(0, stride + n - 1), [0.5, 0.5], 0.01, 0.5, stride)).toThrow(/too short/);
  });

  it('one region with share 1, three regions in worker order', () => {
    const rng = new Rng(5);
    const n = 50;
    const g3 = normal(rng, 3 * n, 1);
    const sum = new Float32Array(n);
    const shares = [0.25, 0.25, 0.5];
    for (let i = 0; i < n; i++) sum[i] = 0 + shares[0] * g3[i] + shares[1] * g3[n + i] + shares[2] * g3[2 * n + i];
    const p0 = normal(rng, n, 1);
    const [a, b] = [p0.slice(), p0.slice()];
    const [fa, fb] = [new FusedAdam(n), new FusedAdam(n)];
    for (let s = 0; s < 3; s++) {
      fa.step(a, g3, shares, 0.01, 0.5);
      fb.step(b, sum, [1], 0.01, 0.5);
    }
    expect(relDiff(a, b, 1e-3)).toBeLessThan(1e-6);
    expect(fa.snapshot([n]).moments).toHaveLength(2);
    expect(new FusedAdam(n).snapshot([n]).moments).toHaveLength(0); // no moments before the first step, as tfjs
  });
});

describe('the fused step in shards (as the training workers take it)', () => {
  it.each([
    ['inactive', 1e3],
    ['active', 0.05],
  ])('shards equal the whole step: updates bit for bit, the norm within rounding (clip %s)', (_name, clip) => {
    const rng = new Rng(23);
    const size = 1001;
    const shares = [0.5, 0.25, 0.25];
    const p0 = normal(rng, size, 1);
    const whole = new FusedAdam(size);
    const parts = new FusedAdam(size, 0.9, 0.999, 1e-7, { shared: true });
    expect(parts.m.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(parts.v.buffer).toBeInstanceOf(SharedArrayBuffer);
    const [a, b] = [p0.slice(), p0.slice()];
    // uneven shards, one of them empty, in an order other than ascending
    const cuts = [[600, 1001], [0, 1], [1, 1], [1, 600]];
    for (let step = 0; step < 4; step++) {
      const grads = normal(rng, 3 * size, 1);
      const lr = 0.01 * (step + 1);
      whole.step(a, grads, shares, lr, clip);
      const partial = cuts.map(([lo, hi]) => summedSquares(grads, size, shares, lo, hi));
      const norm = Math.sqrt(partial.reduce((x, y) => x + y, 0));
      expect(Math.abs(norm - whole.lastNorm)).toBeLessThan(1e-12 * whole.lastNorm);
      expect(norm).toBeGreaterThan(0);
      // inactive: the shards' own scale, exactly 1; active: the shards' norm may differ from the whole step's in
      // the last bits, so the updates are compared at the whole step's scale
      expect(clipScale(norm, clip) === 1).toBe(clip > 1);
      const scale = clip > 1 ? clipScale(norm, clip) : clipScale(whole.lastNorm, clip);
      const k = parts.constants(lr);
      for (const [lo, hi] of cuts) adamUpdate(b, grads, size, shares, parts.m, parts.v, lo, hi, scale, k);
      parts.advance(norm);
      expect(Array.from(b)).toEqual(Array.from(a));
      expect(Array.from(parts.m)).toEqual(Array.from(whole.m));
      expect(Array.from(parts.v)).toEqual(Array.from(whole.v));
      expect([parts.accBeta1, parts.accBeta2, parts.iterations]).toEqual([whole.accBeta1, whole.accBeta2, whole.iterations]);
    }
    // the weights moved, and the shards' ranges matter: leaving one element out changes the result
    expect(relDiff(p0, a, 1e-3)).toBeGreaterThan(1e-3);
    const c = b.slice();
    const grads = normal(rng, 3 * size, 1);
    adamUpdate(c, grads, size, shares, parts.m.slice(), parts.v.slice(), 0, size - 1, 1, parts.constants(0.01));
    adamUpdate(b, grads, size, shares, parts.m.slice(), parts.v.slice(), 0, size, 1, parts.constants(0.01));
    expect(c[size - 1]).not.toBe(b[size - 1]);
    expect(Array.from(c.subarray(0, size - 1))).toEqual(Array.from(b.subarray(0, size - 1)));
  });
});

describe('checkpoints between the pooled and the one-thread path', () => {
  const small: ModelOptions = { k: 4, embedDim: 4, hidden: 6, seed: 4, dropout: 0.2 };
  const data = motionCodes(12);
  const opts: FitOptions = { epochs: 2, stepsPerEpoch: 3, batch: 4, bptt: 3, crop: 5, lr: 0.01, clip: 0.5 };

  async function run(workers: number, extra: FitOptions = {}): Promise<{ w: Record<string, StoredArray>; losses: number[]; steps: number }> {
    const m = new RCNN(small);
    const losses: number[] = [];
    const user = extra.onProgress;
    const r = await m.fit(data, { ...opts, workers, ...extra, onProgress: (e) => {
      if (e.stage === 'train') losses.push(e.metrics!.loss);
      user?.(e);
    } });
    const w = partsOf(m).exportWeights();
    m.dispose();
    return { w, losses, steps: r.steps };
  }

  function maxRelDiff(a: Record<string, StoredArray>, b: Record<string, StoredArray>): number {
    let worst = 0;
    for (const key of Object.keys(a)) {
      const scale = Math.max(1e-30, ...Array.from(a[key], Math.abs));
      for (let i = 0; i < a[key].length; i++) worst = Math.max(worst, Math.abs(a[key][i] - b[key][i]) / scale);
    }
    return worst;
  }

  it('a checkpoint of a 2-worker fit resumes with 1 worker and the reverse (after an epoch and mid-epoch)', async () => {
    const straight = await run(1);
    const straight2 = await run(2);
    expect(maxRelDiff(straight.w, straight2.w)).toBeLessThan(1e-5);
    const cases: [string, number, number, 'epoch' | 'abort'][] = [
      ['2to1-epoch', 2, 1, 'epoch'],
      ['1to2-abort', 1, 2, 'abort'],
      ['2to1-abort', 2, 1, 'abort'],
      ['1to2-epoch', 1, 2, 'epoch'],
    ];
    for (const [name, first, second, how] of cases) {
      const dir = path.join(tmp, name);
      if (how === 'epoch') {
        await run(first, { epochs: 1, checkpointDir: dir });
      } else {
        // aborted after the 5th step (epoch 1, step 1): the checkpoint holds the weights and moments of 5 steps
        const ctrl = new AbortController();
        const r = await run(first, { checkpointDir: dir, signal: ctrl.signal, onProgress: (e) => e.stage === 'train' && e.done === 5 && ctrl.abort() });
        expect(r.steps).toBe(5);
      }
      const resumed = await run(second, { checkpointDir: dir, resume: true });
      expect(resumed.steps).toBe(6);
      expect(maxRelDiff(straight.w, resumed.w)).toBeLessThan(1e-5);
      const tail = straight.losses.slice(straight.losses.length - resumed.losses.length);
      resumed.losses.forEach((l, i) => expect(Math.abs(l - tail[i])).toBeLessThan(1e-5 * Math.abs(tail[i])));
    }
    expect(liveTrainWorkers()).toBe(0);
  });
});
