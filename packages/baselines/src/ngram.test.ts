import { Rng, VqvidError, sliceCodes } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { BigramModel, SpatialNgramModel, UnigramModel } from './ngram';
import type { CodeNgramModel, NgramOptions } from './ngram';

function volume(rows: number, cols: number, frames: number, k: number, at: (t: number, r: number, c: number) => number): CodeVolume {
  const codes = new Uint16Array(rows * cols * frames);
  for (let t = 0; t < frames; t++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) codes[(t * rows + r) * cols + c] = at(t, r, c);
  return { rows, cols, frames, k, codes };
}

const randomVolume = (seed: number, rows: number, cols: number, frames: number, k: number): CodeVolume => {
  const rng = new Rng(seed);
  // Skewed so that some codes are rare or unseen.
  return volume(rows, cols, frames, k, () => Math.min(k - 1, Math.floor(k * rng.next() ** 2)));
};

type Smoothing = NonNullable<NgramOptions['smoothing']>;
const SMOOTHINGS: Smoothing[] = ['witten-bell', 'absolute'];

const models = (opts: NgramOptions): Array<[string, CodeNgramModel]> => [
  ['unigram', new UnigramModel(opts)],
  ['bigram', new BigramModel(opts)],
  ['spatial-4', new SpatialNgramModel(opts)],
  ['spatial-8', new SpatialNgramModel({ ...opts, neighbours: 8 })],
];

/** Every context of `len` symbols over [0, k] (K = outside), the first (the cell's own code) over [0, k). */
function allContexts(len: number, k: number): number[][] {
  let out: number[][] = [[]];
  for (let j = 0; j < len; j++) {
    const n = j === 0 ? k : k + 1;
    out = out.flatMap((ctx) => Array.from({ length: n }, (_, s) => [...ctx, s]));
  }
  return out;
}

describe('conditional distributions sum to 1 over all K codes', () => {
  const K = 5;
  const train = randomVolume(1, 4, 5, 6, K);
  test.each(SMOOTHINGS)('%s: exhaustively for unigram, bigram and 4-neighbour contexts; sampled 8-neighbour ones', (smoothing) => {
    for (const [name, m] of models({ smoothing })) {
      m.fit(train);
      const contexts = m.contextLength <= 5 ? allContexts(m.contextLength, K) : sampledContexts(K, 9, 2000);
      if (name === 'spatial-4') expect(contexts.length).toBe(K * (K + 1) ** 4);
      let worst = 0;
      let smallest = Infinity;
      for (const ctx of contexts) {
        const p = m.distribution(ctx);
        worst = Math.max(worst, Math.abs(p.reduce((a, b) => a + b, 0) - 1));
        smallest = Math.min(smallest, ...p);
      }
      expect(worst).toBeLessThan(1e-12);
      expect(smallest).toBeGreaterThan(0);
    }
  });
});

function sampledContexts(k: number, len: number, n: number): number[][] {
  const rng = new Rng(9);
  return Array.from({ length: n }, () => Array.from({ length: len }, (_, j) => rng.int(j === 0 ? k : k + 1)));
}

/** The context of cell (r, c) of frame t written out neighbour by neighbour. */
function contextOf(v: CodeVolume, t: number, r: number, c: number, neighbours: 0 | 1 | 4 | 8): number[] {
  const at = (rr: number, cc: number): number =>
    rr < 0 || cc < 0 || rr >= v.rows || cc >= v.cols ? v.k : v.codes[((t - 1) * v.rows + rr) * v.cols + cc];
  const four = [at(r, c), at(r - 1, c), at(r + 1, c), at(r, c - 1), at(r, c + 1)];
  const eight = [...four, at(r - 1, c - 1), at(r - 1, c + 1), at(r + 1, c - 1), at(r + 1, c + 1)];
  return neighbours === 0 ? [] : neighbours === 1 ? four.slice(0, 1) : neighbours === 4 ? four : eight;
}

/** Smoothing of the reference; `strength` per back-off level (default 1 each). */
type RefOptions = Required<Omit<NgramOptions, 'strength'>> & { strength?: number[] };

/** Slow reference: list every (context, code) pair, count by filtering, apply the smoothing formulas. */
function referenceLogProbs(train: CodeVolume[], test: CodeVolume, neighbours: 0 | 1 | 4 | 8, opts: RefOptions): number[] {
  const k = test.k;
  const samples: Array<{ ctx: number[]; x: number }> = [];
  const all: number[] = [];
  for (const v of train) {
    all.push(...v.codes);
    for (let t = 1; t < v.frames; t++) for (let r = 0; r < v.rows; r++) for (let c = 0; c < v.cols; c++) {
      samples.push({ ctx: contextOf(v, t, r, c, neighbours), x: v.codes[(t * v.rows + r) * v.cols + c] });
    }
  }
  const orders = neighbours === 0 ? [] : neighbours === 1 ? [1] : [1, neighbours + 1];
  const out: number[] = [];
  for (let t = 1; t < test.frames; t++) for (let r = 0; r < test.rows; r++) for (let c = 0; c < test.cols; c++) {
    const ctx = contextOf(test, t, r, c, neighbours);
    const x = test.codes[(t * test.rows + r) * test.cols + c];
    let p = (all.filter((y) => y === x).length + opts.alpha) / (all.length + opts.alpha * k);
    for (const [level, len] of orders.entries()) {
      const strength = opts.strength?.[level] ?? 1;
      const match = samples.filter((s) => s.ctx.slice(0, len).join() === ctx.slice(0, len).join());
      if (match.length === 0) continue;
      const n = match.length;
      const cx = match.filter((s) => s.x === x).length;
      const types = new Set(match.map((s) => s.x)).size;
      p = opts.smoothing === 'witten-bell'
        ? (cx + strength * types * p) / (n + strength * types)
        : Math.max(cx - opts.discount, 0) / n + (opts.discount * types / n) * p;
    }
    out.push(Math.log(p));
  }
  return out;
}

describe('log-probs equal a brute-force count-based reference', () => {
  const K = 4;
  const train = [randomVolume(2, 3, 4, 5, K), randomVolume(3, 2, 3, 4, K)];
  const heldOut = randomVolume(4, 3, 4, 3, K);

  test('a volume with thousands of distinct contexts (count arrays grow) matches too', () => {
    const big = [randomVolume(8, 10, 12, 25, 6)];
    const opts: RefOptions = { alpha: 0.5, smoothing: 'witten-bell', discount: 0.75 };
    const m = new SpatialNgramModel({ ...opts, neighbours: 8 }).fit(big);
    // Seen contexts (a slice of the training data) and mostly unseen ones.
    for (const probe of [sliceCodes(big[0], 22, 25), randomVolume(9, 4, 4, 3, 6)]) {
      const want = referenceLogProbs(big, probe, 8, opts);
      Array.from(m.logProb(probe)).forEach((g, i) => expect(g).toBeCloseTo(want[i], 12));
    }
  });
  const cases: Array<[string, 0 | 1 | 4 | 8, (o: NgramOptions) => CodeNgramModel]> = [
    ['unigram', 0, (o) => new UnigramModel(o)],
    ['bigram', 1, (o) => new BigramModel(o)],
    ['spatial-4', 4, (o) => new SpatialNgramModel(o)],
    ['spatial-8', 8, (o) => new SpatialNgramModel({ ...o, neighbours: 8 })],
  ];
  for (const [name, neighbours, make] of cases) {
    test.each([
      { alpha: 0.5, smoothing: 'witten-bell', discount: 0.75 },
      { alpha: 2, smoothing: 'absolute', discount: 0.6 },
    ] as Array<RefOptions>)(`${name}: %o`, (opts) => {
      const m = make(opts).fit(train);
      for (const v of [heldOut, train[0]]) {
        const got = Array.from(m.logProb(v));
        const want = referenceLogProbs(train, v, neighbours, opts);
        expect(got.length).toBe((v.frames - 1) * v.rows * v.cols);
        got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 12));
      }
      const ev = m.evaluate(heldOut);
      const want = referenceLogProbs(train, heldOut, neighbours, opts);
      const nll = -want.reduce((s, x) => s + x, 0) / want.length;
      expect(ev.count).toBe(want.length);
      expect(ev.nll).toBeCloseTo(nll, 12);
      expect(ev.bitsPerCode).toBeCloseTo(nll / Math.LN2, 12);
      expect(ev.perplexity).toBeCloseTo(Math.exp(nll), 10);
    });
  }
});

describe('Witten-Bell strength', () => {
  const K = 5;
  const train = [randomVolume(21, 4, 5, 8, K)];
  const heldOut = randomVolume(22, 4, 5, 6, K);
  const wb: RefOptions = { alpha: 0.5, smoothing: 'witten-bell', discount: 0.75 };

  test('per-level strengths match the reference formula', () => {
    for (const strength of [[0.2, 7], [3, 0.05]]) {
      const m = new SpatialNgramModel({ ...wb, strength }).fit(train);
      const want = referenceLogProbs(train, heldOut, 4, { ...wb, strength });
      Array.from(m.logProb(heldOut)).forEach((g, i) => expect(g).toBeCloseTo(want[i], 12));
      const d = m.distribution([1, 2, K, 0, 3]);
      expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
    // one number stands for every level
    const one = new SpatialNgramModel({ ...wb, strength: 2.5 }).fit(train);
    expect(one.strength_).toEqual([2.5, 2.5]);
    const want = referenceLogProbs(train, heldOut, 4, { ...wb, strength: [2.5, 2.5] });
    Array.from(one.logProb(heldOut)).forEach((g, i) => expect(g).toBeCloseTo(want[i], 12));
  });

  test('fit with validation picks the strengths a brute-force grid search over held-out likelihood finds', () => {
    const tuned = new SpatialNgramModel().fit(train, { validation: heldOut });
    const [s1, s2] = tuned.strength_;
    const nllAt = (strength: number[]) => -referenceLogProbs(train, heldOut, 4, { ...wb, strength }).reduce((a, b) => a + b, 0);
    const best = nllAt([s1, s2]);
    expect(tuned.evaluate(heldOut).nll * tuned.evaluate(heldOut).count).toBeCloseTo(best, 8);
    // no point of a log grid over [1/32, 1024]² does better (beyond the search's tolerance)
    const grid = Array.from({ length: 16 }, (_, i) => Math.exp(Math.log(1 / 32) + (i * Math.log(32 * 1024)) / 15));
    for (const a of grid) for (const b of grid) expect(nllAt([a, b])).toBeGreaterThan(best - 1e-6 * Math.abs(best));
    expect(best).toBeLessThan(nllAt([1, 1]));
    // the counts are the training ones: refitting with the chosen strengths gives the same model
    const again = new SpatialNgramModel({ strength: tuned.strength_ }).fit(train);
    expect(Array.from(again.logProb(heldOut))).toEqual(Array.from(tuned.logProb(heldOut)));
  });

  test('bad strengths and tuning absolute discounting are rejected', () => {
    expect(() => new SpatialNgramModel({ strength: [1] })).toThrow(expect.objectContaining({ code: 'E_SHAPE', details: expect.objectContaining({ argument: 'opts.strength' }) }));
    expect(() => new BigramModel({ strength: 0 })).toThrow(expect.objectContaining({ code: 'E_RANGE', details: expect.objectContaining({ argument: 'opts.strength' }) }));
    expect(() => new BigramModel({ smoothing: 'absolute' }).fit(train, { validation: heldOut })).toThrow(
      expect.objectContaining({ code: 'E_RANGE', details: expect.objectContaining({ argument: 'opts.validation' }) }),
    );
    expect(() => new BigramModel().fit(train, { validation: randomVolume(3, 4, 5, 1, K) })).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });
});

/**
 * Rows are Markov chains along the columns (next = previous + 1 mod K with probability 0.6, else uniform) and the whole
 * picture shifts one cell right per frame: a cell's new code is its left neighbour's old code (spatial
 * context decides it) and, through the chain, is usually its own old code − 1 (the bigram sees that).
 */
function shiftingMarkovTexture(seed: number, rows: number, cols: number, frames: number, k: number): CodeVolume {
  const rng = new Rng(seed);
  const width = cols + frames;
  const rowsData = Array.from({ length: rows }, () => {
    const g = [rng.int(k)];
    for (let j = 1; j < width; j++) g.push(rng.next() < 0.6 ? (g[j - 1] + 1) % k : rng.int(k));
    return g;
  });
  return volume(rows, cols, frames, k, (t, r, c) => rowsData[r][c - t + frames]);
}

test('held-out cross-entropy: spatial < bigram < unigram on a shifting Markov texture', () => {
  const K = 4;
  const train = shiftingMarkovTexture(5, 8, 12, 120, K);
  const test = shiftingMarkovTexture(6, 8, 12, 20, K);
  const [uni, bi, sp] = [new UnigramModel(), new BigramModel(), new SpatialNgramModel()].map((m) => m.fit(train).evaluate(test).nll);
  expect(uni).toBeGreaterThan(0.9 * Math.log(K));
  expect(bi).toBeLessThan(0.75 * uni);
  expect(sp).toBeLessThan(0.6 * bi);
});

describe('a blob moving one cell per frame', () => {
  const K = 3;
  // Code 1 on a background of 0 moving right along row `row`, starting at column `c0`.
  const blob = (row: number, c0: number, frames: number): CodeVolume =>
    volume(6, 10, frames, K, (t, r, c) => (r === row && c === c0 + t ? 1 : 0));
  const train = blob(2, 0, 10);
  const held = blob(4, 1, 6);
  const prevFrame: CodeVolume = { ...held, frames: 1, codes: held.codes.slice(2 * 60, 3 * 60) }; // blob at (4, 3)

  test('the spatial model predicts the shifted blob exactly, the bigram does not', () => {
    const truth = held.codes.slice(3 * 60, 4 * 60); // blob at (4, 4)
    const sp = new SpatialNgramModel().fit(train).predict(prevFrame);
    expect(sp).toMatchObject({ rows: 6, cols: 10, frames: 1, k: K });
    expect(Array.from(sp.codes)).toEqual(Array.from(truth));
    const bi = new BigramModel().fit(train).predict(prevFrame);
    expect(Array.from(bi.codes)).toEqual(new Array(60).fill(0));
    expect(Array.from(bi.codes)).not.toEqual(Array.from(truth));
  });

  test('and scores it far better', () => {
    const sp = new SpatialNgramModel().fit(train).evaluate(held);
    const bi = new BigramModel().fit(train).evaluate(held);
    expect(sp.nll).toBeLessThan(0.5 * bi.nll);
    expect(sp.count).toBe(5 * 60);
  });
});

test('K = 10,000 with sparse counts: distributions stay normalised and prediction works', () => {
  const K = 10000;
  const v = volume(4, 5, 6, K, (t, r, c) => (r * 997 + c * 31 + t * 7919) % K);
  const m = new SpatialNgramModel({ neighbours: 8 }).fit(v);
  const ctx = contextOf(v, 3, 1, 1, 8);
  const p = m.distribution(ctx);
  expect(p.length).toBe(K);
  expect(Math.abs(p.reduce((s, x) => s + x, 0) - 1)).toBeLessThan(1e-9);
  expect(argmaxOf(p)).toBe(v.codes[(3 * 4 + 1) * 5 + 1]);
  const next = m.predict({ ...v, frames: 1, codes: v.codes.slice(2 * 20, 3 * 20) });
  expect(Array.from(next.codes)).toEqual(Array.from(v.codes.slice(3 * 20, 4 * 20)));
  expect(m.evaluate(v).bitsPerCode).toBeLessThan(Math.log2(K));
});

function argmaxOf(p: Float64Array): number {
  let best = 0;
  p.forEach((x, i) => {
    if (x > p[best]) best = i;
  });
  return best;
}

test('fit reports progress once per frame', () => {
  const events: Array<[number, number | undefined]> = [];
  new BigramModel().fit([randomVolume(1, 2, 2, 3, 4), randomVolume(2, 2, 2, 2, 4)], {
    onProgress: (e) => events.push([e.done, e.total]),
  });
  expect(events).toEqual([[1, 5], [2, 5], [3, 5], [4, 5], [5, 5]]);
});

describe('bad input', () => {
  const v = randomVolume(1, 2, 2, 3, 4);
  test('using a model before fit is E_STATE', () => {
    expect(() => new BigramModel().logProb(v)).toThrow(expect.objectContaining({ code: 'E_STATE' }));
    expect(() => new UnigramModel().distribution([])).toThrow(VqvidError);
  });
  test('k mismatches, one-frame volumes and malformed contexts are rejected', () => {
    const m = new SpatialNgramModel().fit(v);
    expect(() => m.fit([v, { ...v, k: 5 }])).toThrow(/codes\[1\].k/);
    expect(() => m.logProb({ ...v, k: 5 })).toThrow(/codes.k/);
    expect(() => m.logProb({ ...v, frames: 1, codes: v.codes.slice(0, 4) })).toThrow(/at least 2/);
    expect(() => m.distribution([0, 0, 0])).toThrow(/context.length/);
    expect(() => m.distribution([4, 0, 0, 0, 0])).toThrow(/context\[0\]/);
    expect(() => m.distribution([0, 5, 0, 0, 0])).toThrow(/context\[1\]/);
    expect(() => m.predict({ ...v, codes: Uint16Array.from(v.codes, () => 9) })).toThrow(VqvidError);
  });
  test('bad options', () => {
    expect(() => new SpatialNgramModel({ neighbours: 6 as 4 })).toThrow(/neighbours/);
    expect(() => new BigramModel({ alpha: 0 })).toThrow(/alpha/);
    expect(() => new BigramModel({ smoothing: 'kneser' as 'absolute' })).toThrow(/smoothing/);
    expect(() => new BigramModel({ discount: 1.5 })).toThrow(/discount/);
  });
});
