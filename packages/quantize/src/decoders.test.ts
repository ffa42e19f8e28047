import { Rng } from '@vqvid/core';
import { DECODERS, decodeCells, fitDecoder, fitDecoderAlpha } from './decoders';
import type { DecodeCellsOptions, DecoderName } from './decoders';

type Case = Omit<DecodeCellsOptions, 'decoder'>;

/** Random problem; `levels` > 0 quantises probabilities to multiples of 1/levels-ish so ties occur. */
function randomCase(seed: number, opts: { cells?: number; levels?: number } = {}): Case {
  const rng = new Rng(seed);
  const k = 5 + rng.int(36);
  const dim = 4 + rng.int(13);
  const cells = opts.cells ?? 10;
  const probs = new Float32Array(cells * k);
  const present = new Int32Array(cells);
  for (let cell = 0; cell < cells; cell++) {
    const w = Array.from({ length: k }, () => (opts.levels ? 1 + rng.int(opts.levels) : Math.exp(2.5 * rng.normal())));
    // Some cells make the present code the favourite, the rest pick it at random (often outside the top M).
    const a = rng.int(k);
    if (cell % 3 === 0) w[a] = Math.max(...w) * 2;
    present[cell] = a;
    const z = w.reduce((s, x) => s + x, 0);
    w.forEach((x, c) => (probs[cell * k + c] = x / z));
  }
  const normals = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  return {
    probs, k, present, dim, reference: normals(cells * dim), centroids: normals(k * dim),
    alpha: rng.next() < 0.3 ? 1 : rng.next(), topM: 1 + rng.int(k),
    changeRatio: rng.next() < 0.4 ? 1 : 0.05 + 0.95 * rng.next(),
  };
}

/** Slow reference: full sort, explicit stand-ins, expected errors summed candidate by candidate in float64. */
function referenceDecode(o: DecodeCellsOptions): Float64Array {
  const { k, dim, present, reference, centroids, decoder } = o;
  const alpha = o.alpha ?? 1;
  const topM = o.topM ?? Math.min(16, k);
  const cells = o.probs!.length / k;
  const out = new Float64Array(cells * dim);
  for (let cell = 0; cell < cells; cell++) {
    const p = Array.from(o.probs!.subarray(cell * k, (cell + 1) * k));
    const order = p.map((_, c) => c).sort((x, y) => p[y] - p[x] || x - y);
    const P = Array.from(reference.subarray(cell * dim, (cell + 1) * dim));
    const C = (c: number) => Array.from(centroids.subarray(c * dim, (c + 1) * dim));
    const a = present[cell];
    // with motion patches, the target of code c is the motion patch nearest to its centroid (first on ties)
    const target = (c: number): number[] => {
      if (!o.motion) return C(c);
      const count = o.motionCount!;
      const patches = Array.from({ length: count }, (_, m) => Array.from(o.motion!.subarray((cell * count + m) * dim, (cell * count + m + 1) * dim)));
      const dist = patches.map((q) => q.reduce((s, x, j) => s + (x - C(c)[j]) ** 2, 0));
      return patches[dist.indexOf(Math.min(...dist))];
    };
    const standIn = (c: number) => {
      const cc = target(c);
      return c === a ? P : P.map((x, j) => x + alpha * (cc[j] - x));
    };
    const set = [a, ...order.slice(0, topM).filter((c) => c !== a).sort((x, y) => x - y)];
    const stored = new Map(set.map((c) => [c, standIn(c)]));
    const z = (c: number) => stored.get(c) ?? standIn(c);
    const mass = set.reduce((s, c) => s + p[c], 0);
    const risk = (y: number[]) => set.reduce((s, c) => s + (p[c] / mass) * z(c).reduce((e, zc, j) => e + (y[j] - zc) ** 2, 0), 0);
    let y: number[];
    if (decoder === 'centroid') y = C(order[0]);
    else if (decoder === 'skip') y = z(order[0]);
    else if (decoder === 'mean') y = P.map((_, j) => set.reduce((s, c) => s + (p[c] / mass) * z(c)[j], 0));
    else {
      y = set.map(z).reduce((best, cand) => (risk(cand) < risk(best) ? cand : best));
      // a change must beat changeRatio × the risk of keeping P
      if (y !== P && !(risk(y) < (o.changeRatio ?? 1) * risk(P))) y = P;
    }
    out.set(y, cell * dim);
  }
  return out;
}

const rowOf = (a: ArrayLike<number>, cell: number, dim: number) => Array.from(a).slice(cell * dim, (cell + 1) * dim);

function expectClose(got: Float32Array, want: Float64Array, tol = 1e-5): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThan(tol);
}

describe('decodeCells agrees with the slow reference', () => {
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  test.each(DECODERS.map((d) => [d]))('%s on random cases', (decoder) => {
    for (const seed of seeds) {
      const o = { ...randomCase(seed), decoder };
      expectClose(decodeCells(o), referenceDecode(o));
      const full = { ...o, topM: o.k };
      expectClose(decodeCells(full), referenceDecode(full));
      const byDefault = { ...o, topM: undefined, alpha: undefined, changeRatio: undefined };
      expectClose(decodeCells(byDefault), referenceDecode(byDefault));
    }
  });

  // Equal probabilities: the top-M selection must break ties towards lower codes, like the sort.
  test.each((['centroid', 'skip', 'mean'] as DecoderName[]).map((d) => [d]))('%s with tied probabilities', (decoder) => {
    for (const seed of seeds) {
      const o = { ...randomCase(100 + seed, { levels: 3 }), decoder };
      expectClose(decodeCells(o), referenceDecode(o));
    }
  });
});

describe('motion-searched stand-ins', () => {
  /** A random case plus `count` motion patches per cell; some are exact copies of centroids or of P (ties). */
  function withMotion(seed: number, count: number): Case {
    const o = randomCase(seed);
    const rng = new Rng(1000 + seed);
    const cells = o.probs!.length / o.k;
    const motion = Float32Array.from({ length: cells * count * o.dim }, () => rng.normal());
    for (let cell = 0; cell < cells; cell++) {
      const at = (m: number) => (cell * count + m) * o.dim;
      if (count > 1) motion.set(o.reference.subarray(cell * o.dim, (cell + 1) * o.dim), at(rng.int(count)));
      if (count > 2) motion.copyWithin(at(count - 1), at(0), at(1)); // a duplicate: the first must win
    }
    return { ...o, motion, motionCount: count };
  }

  test.each(DECODERS.map((d) => [d]))('%s agrees with the slow reference', (decoder) => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      for (const count of [1, 3, 9]) {
        const o = { ...withMotion(seed, count), decoder };
        expectClose(decodeCells(o), referenceDecode(o));
      }
    }
  });

  test('a motion patch equal to a centroid stands for that code exactly; other codes take their nearest patch', () => {
    // dim 2, k 3, one cell whose present code is 0 and whose model is sure of code 2
    const centroids = Float32Array.of(0, 0, 5, 5, 10, 0);
    const base = { probs: Float32Array.of(0, 0, 1), k: 3, present: [0], reference: Float32Array.of(1, 1), centroids, dim: 2, alpha: 1 };
    const motion = Float32Array.of(9, 1, 10, 0.5, -3, -3);
    for (const decoder of ['skip', 'mbr', 'mean'] as DecoderName[]) {
      expect(Array.from(decodeCells({ ...base, decoder }))).toEqual([10, 0]);
      expect(Array.from(decodeCells({ ...base, decoder, motion, motionCount: 3 }))).toEqual([10, 0.5]);
    }
    expect(Array.from(decodeCells({ ...base, decoder: 'centroid', motion, motionCount: 3 }))).toEqual([10, 0]);
    // alpha shrinks the motion patch towards P like a centroid
    expect(Array.from(decodeCells({ ...base, decoder: 'skip', alpha: 0.5, motion, motionCount: 3 }))).toEqual([5.5, 0.75]);
  });

  test('a tie in distance goes to the lower patch, also when a later patch is measured first (its bound is smaller)', () => {
    // dim 8; code 1's centroid C = (1, −1, 0, …). B = (2, −2, 0, …) and A = (1, −1, 1, −1, 0, …) are both at squared
    // distance 2 from C, but A's mean/norm bound is 0.34 and B's is 2 (tight): A is measured first, B must still win
    const dim = 8;
    const pad = (...v: number[]) => Float32Array.from({ length: dim }, (_, j) => v[j] ?? 0);
    const centroids = Float32Array.from([...pad(), ...pad(1, -1)]);
    const base = { probs: Float32Array.of(0, 1), k: 2, present: [0], reference: pad(), centroids, dim, alpha: 1 };
    const far = pad(9, 9, 9, 9, 9, 9, 9, 9);
    const [a, b] = [pad(1, -1, 1, -1), pad(2, -2)];
    for (const decoder of ['skip', 'mbr', 'mean'] as DecoderName[]) {
      // B first, A later: B (the tie's lower patch)
      expect(Array.from(decodeCells({ ...base, decoder, motion: Float32Array.from([...far, ...b, ...a]), motionCount: 3 }))).toEqual(Array.from(b));
      // A first: A
      expect(Array.from(decodeCells({ ...base, decoder, motion: Float32Array.from([...a, ...far, ...b]), motionCount: 3 }))).toEqual(Array.from(a));
    }
  });

  test('fitDecoderAlpha scores the motion stand-ins', () => {
    const o = { ...withMotion(3, 4), decoder: 'mbr' as DecoderName };
    const truth = decodeCells({ ...o, alpha: 0.4 });
    const fit = fitDecoderAlpha([{ ...o, truth }]);
    expect(fit.alpha).toBeCloseTo(0.4, 10);
  });

  test('motion and motionCount are checked together', () => {
    const o = { ...withMotion(2, 3), decoder: 'mbr' as DecoderName };
    expect(() => decodeCells({ ...o, motionCount: undefined })).toThrow(/motionCount/);
    expect(() => decodeCells({ ...o, motionCount: 4 })).toThrow(/motion\.length/);
    expect(() => decodeCells({ ...o, motion: undefined })).toThrow(/motion/);
    expect(() => decodeCells({ ...o, motion: new Float32Array(o.motion!.length).fill(NaN) })).toThrow(/motion\[0\]/);
  });
});

describe('hand-made cases', () => {
  // dim 2, k 3; cell 0's present code is 1, cell 1's is 2.
  const base = {
    k: 3,
    dim: 2,
    present: [1, 2],
    reference: Float32Array.from([0.25, -0.5, 3, 4]),
    centroids: Float32Array.from([1, 2, 10, 20, -7, 0.125]),
  };

  test("'centroid' breaks ties towards the lowest code", () => {
    const probs = Float32Array.from([0.25, 0.375, 0.375, 0.5, 0.5, 0]);
    expect(Array.from(decodeCells({ ...base, probs, decoder: 'centroid' }))).toEqual([10, 20, 1, 2]);
  });

  test("'skip' returns the reference patch exactly when the argmax is the present code", () => {
    const probs = Float32Array.from([0.1, 0.7, 0.2, 0.3, 0.3, 0.4]);
    const y = decodeCells({ ...base, probs, decoder: 'skip', alpha: 0.37 });
    expect(Array.from(y)).toEqual(Array.from(base.reference));
  });

  test("alpha = 1 and a one-hot distribution: 'mbr' and 'mean' return that centroid exactly", () => {
    const probs = Float32Array.from([1, 0, 0, 0, 1, 0]);
    for (const decoder of ['mbr', 'mean'] as const) {
      const y = decodeCells({ ...base, probs, decoder, alpha: 1 });
      expect(Array.from(y)).toEqual([...rowOf(base.centroids, 0, 2), ...rowOf(base.centroids, 1, 2)]);
    }
  });

  test('alpha = 0: every decoder but centroid returns the reference patches', () => {
    for (const seed of [1, 2, 3]) {
      const o = randomCase(seed);
      for (const decoder of DECODERS.filter((d) => d !== 'centroid')) {
        const y = decodeCells({ ...o, decoder, alpha: 0 });
        expectClose(y, Float64Array.from(o.reference), 1e-6);
        if (decoder !== 'mean') expect(Array.from(y)).toEqual(Array.from(o.reference));
      }
    }
  });

  test("'mean' equals 'mbr' when one code has probability 1", () => {
    const o = randomCase(5);
    const probs = new Float32Array(o.probs.length);
    for (let cell = 0; cell < 10; cell++) probs[cell * o.k + ((cell * 7) % o.k)] = 1;
    const mean = decodeCells({ ...o, probs, decoder: 'mean', alpha: 0.6 });
    const mbr = decodeCells({ ...o, probs, decoder: 'mbr', alpha: 0.6 });
    expect(Array.from(mean)).toEqual(Array.from(mbr));
  });

  test("'mbr' with changeRatio keeps P unless a change cuts the expected error by that factor", () => {
    // one value per patch: P = 0, present code 0; code 1's centroid 1 has probability 0.9
    const o = { k: 2, dim: 1, present: [0], reference: Float32Array.from([0]), centroids: Float32Array.from([5, 1]), decoder: 'mbr' as const, probs: Float32Array.from([0.1, 0.9]) };
    // R(P) = 0.9·1² = 0.9, R(centroid 1) = 0.1·1² = 0.1: a change wins at any ratio above 0.1/0.9
    expect(Array.from(decodeCells(o))).toEqual([1]);
    expect(Array.from(decodeCells({ ...o, changeRatio: 0.12 }))).toEqual([1]);
    expect(Array.from(decodeCells({ ...o, changeRatio: 0.1 }))).toEqual([0]);
    expect(Array.from(decodeCells({ ...o, changeRatio: 0.05 }))).toEqual([0]);
    expectError(() => decodeCells({ ...o, changeRatio: 0 }), 'E_RANGE', 'changeRatio');
    expectError(() => decodeCells({ ...o, changeRatio: 1.5 }), 'E_RANGE', 'changeRatio');
  });

  test("'mbr' breaks equal risks towards P, then the lower code", () => {
    const o = { k: 3, dim: 1, present: [0], reference: Float32Array.from([0]), centroids: Float32Array.from([5, 1, 3]), decoder: 'mbr' as const };
    // m = 0.5: risks ‖y‖² − 2y·m are 0 for both P = 0 and z_1 = 1.
    expect(Array.from(decodeCells({ ...o, probs: Float32Array.from([0.5, 0.5, 0]) }))).toEqual([0]);
    // m = 2: z_1 = 1 and z_2 = 3 both have risk −3, P has 0.
    expect(Array.from(decodeCells({ ...o, probs: Float32Array.from([0, 0.5, 0.5]) }))).toEqual([1]);
  });

  test('truncation to the top M changes the result', () => {
    // P = 0; code 1 (p 0.36) stands for +1, code 2 (p 0.34) for −1, the present code 0 has p 0.30.
    const o = {
      k: 3, dim: 1, present: [0], reference: Float32Array.from([0]), centroids: Float32Array.from([5, 1, -1]),
      probs: Float32Array.from([0.3, 0.36, 0.34]),
    };
    // Top 1: S = {1, present}: 1 outweighs P. Top 2: the ±1 cancel and P has the lowest risk.
    expect(Array.from(decodeCells({ ...o, decoder: 'mbr', topM: 1 }))).toEqual([1]);
    expect(Array.from(decodeCells({ ...o, decoder: 'mbr', topM: 2 }))).toEqual([0]);
    expect(decodeCells({ ...o, decoder: 'mean', topM: 1 })[0]).toBeCloseTo(0.36 / 0.66, 6);
    expect(decodeCells({ ...o, decoder: 'mean', topM: 2 })[0]).toBeCloseTo(0.02, 6);
  });
});

describe('fitDecoderAlpha', () => {
  /** Truths made with 'skip' at alpha 0.3: P where the argmax is the present code, else P + 0.3(C − P). */
  const samples = [21, 22, 23].map((seed) => {
    const o = randomCase(seed);
    const truth = new Float32Array(o.reference.length);
    for (let cell = 0; cell < 10; cell++) {
      const p = Array.from(o.probs.subarray(cell * o.k, (cell + 1) * o.k));
      const c = p.indexOf(Math.max(...p));
      for (let j = 0; j < o.dim; j++) {
        const P = o.reference[cell * o.dim + j];
        truth[cell * o.dim + j] = c === o.present[cell] ? P : P + 0.3 * (o.centroids[c * o.dim + j] - P);
      }
    }
    const { alpha: _unused, ...rest } = o;
    return { ...rest, truth, decoder: 'skip' as const };
  });

  test('finds the alpha that generated the truths', () => {
    const { alpha, mse } = fitDecoderAlpha(samples);
    expect(alpha).toBe(0.3);
    expect(mse).toHaveLength(11);
    expect(mse[3]).toBeLessThan(1e-12);
    expect(Math.min(...mse.filter((_, i) => i !== 3))).toBeGreaterThan(1e-3);
  });

  test('mse is the mean squared error of decodeCells at each grid value', () => {
    const grid = [0, 0.45, 1];
    const { mse } = fitDecoderAlpha(samples, { grid });
    grid.forEach((alpha, g) => {
      let sse = 0;
      let n = 0;
      for (const s of samples) {
        const y = decodeCells({ ...s, alpha });
        y.forEach((v, i) => (sse += (v - s.truth[i]) ** 2));
        n += y.length;
      }
      expect(mse[g]).toBeCloseTo(sse / n, 10);
    });
  });

  test("ties go to the larger alpha ('centroid' ignores alpha)", () => {
    const { alpha, mse } = fitDecoderAlpha(samples.map((s) => ({ ...s, decoder: 'centroid' as const })));
    expect(new Set(mse).size).toBe(1);
    expect(alpha).toBe(1);
  });

  test('rejects mixed decoders, bad grids and bad truths', () => {
    expectError(() => fitDecoderAlpha([samples[0], { ...samples[1], decoder: 'mbr' }]), 'E_RANGE', 'samples[1].decoder');
    expectError(() => fitDecoderAlpha(samples, { grid: [] }), 'E_SHAPE', 'opts.grid');
    expectError(() => fitDecoderAlpha(samples, { grid: [0.5, 1.5] }), 'E_RANGE', 'opts.grid[1]');
    expectError(() => fitDecoderAlpha([]), 'E_SHAPE', 'samples');
    expectError(() => fitDecoderAlpha([{ ...samples[0], truth: new Float32Array(3) }]), 'E_SHAPE', 'samples[0].truth.length');
    expectError(() => fitDecoderAlpha([{ ...samples[0], reference: new Float32Array(3) }]), 'E_SHAPE', 'samples[0].reference.length');
  });
});

/** Expects `f` to throw a VqvidError with this code whose message names `argument`. */
const expectError = (f: () => unknown, code: string, argument: string): void =>
  expect(f).toThrow(expect.objectContaining({ name: 'VqvidError', code, details: expect.objectContaining({ argument }) }));

describe('validation names the argument', () => {
  const o: DecodeCellsOptions = { ...randomCase(3), decoder: 'mbr' };
  test.each<[string, Partial<DecodeCellsOptions> | Record<string, unknown>, string, string]>([
    ['probs not a multiple of k', { probs: new Float32Array(o.k * 10 + 1) }, 'E_SHAPE', 'probs.length'],
    ['present too short', { present: [0, 1] }, 'E_SHAPE', 'present.length'],
    ['reference too short', { reference: new Float32Array(5) }, 'E_SHAPE', 'reference.length'],
    ['centroids too long', { centroids: new Float32Array(o.k * o.dim + 1) }, 'E_SHAPE', 'centroids.length'],
    ['probs of the wrong type', { probs: new Float64Array(o.probs) }, 'E_DTYPE', 'probs'],
    ['an unknown decoder', { decoder: 'median' }, 'E_RANGE', 'decoder'],
    ['alpha above 1', { alpha: 1.5 }, 'E_RANGE', 'alpha'],
    ['topM 0', { topM: 0 }, 'E_RANGE', 'topM'],
    ['topM above k', { topM: o.k + 1 }, 'E_RANGE', 'topM'],
    ['a present code >= k', { present: Int32Array.from(o.present as Int32Array, (c, i) => (i === 4 ? o.k : c)) }, 'E_RANGE', 'present[4]'],
  ])('%s', (_, patch, code, arg) => {
    expectError(() => decodeCells({ ...o, ...patch } as DecodeCellsOptions), code, arg);
  });

  test('negative, non-finite and unnormalised probabilities', () => {
    const bad = (i: number, v: number) => {
      const probs = o.probs.slice();
      probs[i] = v;
      return { ...o, probs };
    };
    expectError(() => decodeCells(bad(7, -0.1)), 'E_RANGE', 'probs[7]');
    expectError(() => decodeCells(bad(7, NaN)), 'E_RANGE', 'probs[7]');
    expectError(() => decodeCells(bad(o.k, o.probs[o.k] + 0.5)), 'E_RANGE', 'probs (sum of row 1)');
    const ref = o.reference.slice();
    ref[2] = Infinity;
    expectError(() => decodeCells({ ...o, reference: ref }), 'E_RANGE', 'reference[2]');
  });

  test('the first value that is not finite is the one named, wherever it is (the check sums in fours)', () => {
    // a case whose length leaves a tail after the last four
    const c: DecodeCellsOptions = { ...[3, 4, 5, 6, 7, 8, 9].map((seed) => randomCase(seed, { cells: 7 })).find((x) => x.reference.length % 4 !== 0)!, decoder: 'mbr' };
    const n = c.reference.length;
    for (const at of [0, 1, 2, 3, 5, Math.floor(n / 2), n - 3, n - 2, n - 1]) {
      for (const v of [NaN, Infinity, -Infinity]) {
        const ref = c.reference.slice();
        ref[at] = v;
        expectError(() => decodeCells({ ...c, reference: ref }), 'E_RANGE', `reference[${at}]`);
        if (at + 1 < n) ref[n - 1] = -v; // a later culprit too: the first is named
        expectError(() => decodeCells({ ...c, reference: ref }), 'E_RANGE', `reference[${at}]`);
      }
    }
    // huge finite values are fine (their differences are 0, their sum never overflows)
    const big = c.reference.map((_, i) => (i % 2 ? 3.4e38 : -3.4e38));
    expect(() => decodeCells({ ...c, reference: big })).not.toThrow();
  });
});

describe('fitDecoder', () => {
  it('keeps the decoder with the lowest error at its own best alpha (checked decoder by decoder)', () => {
    const rng = new Rng(31);
    const k = 12;
    const dim = 6;
    const cells = 20;
    const centroids = Float32Array.from({ length: k * dim }, () => rng.normal());
    const samples = [0, 1, 2].map(() => {
      const probs = new Float32Array(cells * k);
      for (let i = 0; i < cells; i++) {
        let s = 0;
        for (let c = 0; c < k; c++) s += probs[i * k + c] = Math.exp(2 * rng.normal());
        for (let c = 0; c < k; c++) probs[i * k + c] /= s;
      }
      const present = Int32Array.from({ length: cells }, () => rng.int(k));
      const reference = Float32Array.from({ length: cells * dim }, () => rng.normal());
      const truth = Float32Array.from({ length: cells * dim }, (_, j) => 0.5 * reference[j] + 0.5 * rng.normal());
      return { probs, k, present, reference, centroids, dim, truth };
    });
    const fit = fitDecoder(samples);
    for (const d of ['centroid', 'skip', 'mbr', 'mean'] as const) {
      const one = fitDecoderAlpha(samples.map((s) => ({ ...s, decoder: d })), d === 'centroid' ? { grid: [1] } : {});
      expect(fit.scores[d].alpha).toBe(one.alpha);
      expect(fit.scores[d].mse).toBeCloseTo(Math.min(...one.mse), 12);
      expect(fit.scores[fit.decoder].mse).toBeLessThanOrEqual(fit.scores[d].mse);
    }
    expect(fit.alpha).toBe(fit.scores[fit.decoder].alpha);
    const sharp = fitDecoder(samples, { decoders: ['skip', 'mbr'] });
    expect(['skip', 'mbr']).toContain(sharp.decoder);
    expect(() => fitDecoder(samples, { decoders: [] })).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });
});

/** Each cell's m most probable codes of `probs` by a full sort (ties: lower code), and the present codes' probabilities. */
function topOf(probs: Float32Array, k: number, present: ArrayLike<number>, m: number): NonNullable<DecodeCellsOptions['top']> {
  const cells = probs.length / k;
  const codes = new Int32Array(cells * m);
  const top = new Float32Array(cells * m);
  const presentProbs = new Float32Array(cells);
  for (let cell = 0; cell < cells; cell++) {
    const p = probs.subarray(cell * k, (cell + 1) * k);
    const order = Array.from(p, (_, c) => c).sort((x, y) => p[y] - p[x] || x - y);
    for (let j = 0; j < m; j++) {
      codes[cell * m + j] = order[j];
      top[cell * m + j] = p[order[j]];
    }
    presentProbs[cell] = p[present[cell]];
  }
  return { m, codes, probs: top, presentProbs };
}

describe('top lists instead of probs', () => {
  test.each(DECODERS.map((d) => [d]))('%s decodes the top m of a distribution exactly as the distribution (bit for bit)', (decoder) => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      for (const levels of [0, 3]) {
        const o = { ...randomCase(seed + 50 * levels, { levels }), decoder };
        const topM = o.topM ?? Math.min(16, o.k);
        const want = decodeCells(o);
        // m = topM, and longer lists (only their first topM count)
        for (const m of [topM, Math.min(o.k, topM + 3)]) {
          const got = decodeCells({ ...o, probs: undefined, top: topOf(o.probs!, o.k, o.present, m) });
          expect(Array.from(got)).toEqual(Array.from(want));
        }
      }
    }
  });

  test('with motion patches too', () => {
    for (const decoder of DECODERS) {
      const o = { ...randomCase(9), decoder };
      const rng = new Rng(9);
      const cells = o.probs!.length / o.k;
      const motion = Float32Array.from({ length: cells * 4 * o.dim }, () => rng.normal());
      const want = decodeCells({ ...o, motion, motionCount: 4 });
      const got = decodeCells({ ...o, motion, motionCount: 4, probs: undefined, top: topOf(o.probs!, o.k, o.present, o.topM!) });
      expect(Array.from(got)).toEqual(Array.from(want));
    }
  });

  test('bad top lists are refused, naming the field', () => {
    const o = { ...randomCase(3), decoder: 'mbr' as const, topM: 2 };
    const top = topOf(o.probs!, o.k, o.present, 3);
    const base = { ...o, probs: undefined };
    expectError(() => decodeCells({ ...base, top: { ...top, m: 1 } }), 'E_RANGE', 'top.m');
    expectError(() => decodeCells({ ...o, top }), 'E_SHAPE', 'probs');
    const swapped = { ...top, probs: top.probs.slice() };
    [swapped.probs[0], swapped.probs[1]] = [swapped.probs[1], swapped.probs[0] + 0.1];
    expectError(() => decodeCells({ ...base, top: swapped }), 'E_RANGE', 'top.probs[1]');
    const twice = { ...top, codes: top.codes.slice(), probs: Float32Array.from(top.probs, (_, j) => (j % 3 === 2 ? top.probs[j - 1] : top.probs[j])) };
    twice.codes[2] = twice.codes[1];
    expectError(() => decodeCells({ ...base, top: twice }), 'E_RANGE', 'top.codes[2]');
    expectError(() => decodeCells({ ...base, top: { ...top, codes: Int32Array.from(top.codes, (c, j) => (j === 0 ? o.k : c)) } }), 'E_RANGE', 'top.codes[0]');
    expectError(() => decodeCells({ ...base, top: { ...top, presentProbs: top.presentProbs.subarray(1) } }), 'E_SHAPE', 'top.presentProbs.length');
  });
});
