import { assertCodeVolume, assertInt, assertNumber, crc32, evaluateLogProb, fail, goldenMin, transitionCells } from '@vqvid/core';
import type { CodeEvaluation, CodeModel, CodeStepper, CodeVolume, OnProgress, SteppableModel } from '@vqvid/core';
import { SparseCounts } from './counts';

/**
 * Smoothing options shared by the n-gram code models.
 * @example
 * ```ts
 * const bi = new BigramModel({ smoothing: 'absolute', discount: 0.8, alpha: 1 });
 * ```
 */
export interface NgramOptions {
  /** Add-α pseudo-count of every code in the unigram, so unseen codes keep non-zero probability; default 0.5. */
  alpha?: number;
  /**
   * How a context's counts are mixed with the next-shorter context's distribution:
   * 'witten-bell' (default) gives the shorter context weight T/(c+T) (T distinct codes seen after the
   * context, c its count); 'absolute' subtracts `discount` from every seen count and gives the shorter
   * context the freed mass D·T/c.
   */
  smoothing?: 'witten-bell' | 'absolute';
  /** Discount D in (0, 1] of absolute discounting; default 0.75. */
  discount?: number;
  /**
   * Witten-Bell only: how much weight each back-off level gives the shorter context, as a multiple s of its
   * distinct-code count T: weight s·T/(c + s·T). One number for every level or one per level above the unigram,
   * shortest context first; default 1 (plain Witten-Bell). `fit(codes, { validation })` chooses it.
   */
  strength?: number | readonly number[];
}

/**
 * Options of {@link CodeNgramModel.fit}.
 * @example
 * ```ts
 * const opts: NgramFitOptions = { validation: heldOutCodes };
 * ```
 */
export interface NgramFitOptions {
  /** Called once per frame counted (stage 'fit', done/total frames). */
  onProgress?: OnProgress;
  /**
   * Held-out codes (Witten-Bell only): after counting, each level's {@link NgramOptions.strength} is chosen to
   * maximise their likelihood (golden-section search over s in [1/32, 1024] on a log scale, level by level,
   * two rounds); the counts stay those of `codes`. The chosen values are in {@link CodeNgramModel.strength_}.
   */
  validation?: CodeVolume | CodeVolume[];
}

/**
 * Options of {@link SpatialNgramModel}.
 * @example
 * ```ts
 * const sp = new SpatialNgramModel({ neighbours: 8, smoothing: 'witten-bell' });
 * ```
 */
export interface SpatialNgramOptions extends NgramOptions {
  /** Neighbours at t−1 in the context besides the cell itself: 4 (up, down, left, right) or 8 (plus diagonals); default 4. */
  neighbours?: 4 | 8;
}

const NEIGHBOURS_4: ReadonlyArray<readonly [number, number]> = [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]];
const NEIGHBOURS_8 = [...NEIGHBOURS_4, [-1, -1], [-1, 1], [1, -1], [1, 1]] as const;

/**
 * Shared machinery of the n-gram code models: a back-off chain from the longest context (codes of frame
 * t−1 at fixed offsets around the predicted cell, the cell itself first) down to an add-α unigram.
 * Every conditional distribution sums to 1 exactly over the K codes.
 *
 * Convention (shared with the learned models): scores cover every cell of frames 1..T−1 of a volume, in
 * frame-major, row-major order — frame 0 has no context. Neighbours outside the grid are the symbol K.
 * The unigram counts every cell of the training volumes, frame 0 included (it needs no context).
 * @example
 * ```ts
 * const m = new BigramModel().fit(trainCodes);
 * const { bitsPerCode } = m.evaluate(testCodes);
 * ```
 */
export abstract class CodeNgramModel implements CodeModel, SteppableModel {
  /** Vocabulary size K, known after {@link CodeNgramModel.fit} (null before). */
  k_: number | null = null;
  /** CRC-32 of what the last fit counted (shapes and codes of every volume), for {@link CodeNgramModel.stepper}'s identity. */
  private fitHash_ = 0;
  private unigram_ = new Float64Array(0);
  private unigramTotal_ = 0;
  private counts_ = new SparseCounts(1);
  /** Scratch: context ids of the back-off levels for the cell being scored. */
  private readonly ids: number[] = [];
  private readonly alpha: number;
  private readonly smoothing: 'witten-bell' | 'absolute';
  private readonly discount: number;
  /**
   * Witten-Bell strength s of each back-off level above the unigram, shortest context first (see
   * {@link NgramOptions.strength}); set by the options, or by `fit` with validation codes.
   */
  strength_: number[];

  /**
   * Sets up an unfitted model with the given context shape; subclasses fix `offsets` and `orders`.
   * @param offsets (dr, dc) positions in frame t−1 that form the full context, the cell itself first.
   * @param orders context lengths of the back-off levels above the unigram, shortest first.
   */
  protected constructor(
    private readonly offsets: ReadonlyArray<readonly [number, number]>,
    private readonly orders: readonly number[],
    opts: NgramOptions,
  ) {
    this.alpha = opts.alpha ?? 0.5;
    this.smoothing = opts.smoothing ?? 'witten-bell';
    this.discount = opts.discount ?? 0.75;
    assertNumber(this.alpha, 'opts.alpha', 1e-12);
    if (this.smoothing !== 'witten-bell' && this.smoothing !== 'absolute') {
      fail('E_RANGE', 'opts.smoothing', "'witten-bell' or 'absolute'", this.smoothing);
    }
    assertNumber(this.discount, 'opts.discount', 1e-12, 1);
    const st = opts.strength ?? 1;
    if (typeof st === 'number') {
      assertNumber(st, 'opts.strength', 1e-9, 1e9);
      this.strength_ = orders.map(() => st);
    } else {
      if (!Array.isArray(st) || st.length !== orders.length) fail('E_SHAPE', 'opts.strength', `a number or ${orders.length} numbers (one per back-off level)`, st);
      st.forEach((v, i) => assertNumber(v, `opts.strength[${i}]`, 1e-9, 1e9));
      this.strength_ = [...st];
    }
  }

  /**
   * Number of symbols in a context: 0 (unigram), 1 (bigram), 5 or 9 (spatial).
   * @example
   * ```ts
   * new SpatialNgramModel({ neighbours: 8 }).contextLength; // 9
   * ```
   */
  get contextLength(): number {
    return this.offsets.length;
  }

  /**
   * Counts codes and their contexts in one or more volumes (all with the same k, at most 2^20); replaces
   * earlier counts.
   * @param opts progress callback, and held-out codes that choose the smoothing strength (see {@link NgramFitOptions}).
   * @returns this, for chaining.
   * @example
   * ```ts
   * const m = new SpatialNgramModel({ neighbours: 8 }).fit([clipA, clipB]);
   * const tuned = new SpatialNgramModel().fit(fitCodes, { validation: heldOut });
   * const final = new SpatialNgramModel({ strength: tuned.strength_ }).fit([fitCodes, heldOut]);
   * ```
   */
  fit(codes: CodeVolume | CodeVolume[], opts: NgramFitOptions = {}): this {
    const list = Array.isArray(codes) ? codes : [codes];
    if (list.length === 0) fail('E_SHAPE', 'codes', 'at least one CodeVolume', list);
    list.forEach((v, i) => assertCodeVolume(v, Array.isArray(codes) ? `codes[${i}]` : 'codes'));
    const k = list[0].k;
    assertInt(k, 'codes.k', 1, MAX_K);
    list.forEach((v, i) => {
      if (v.k !== k) fail('E_SHAPE', `codes[${i}].k`, `${k} (as codes[0].k)`, v.k);
    });
    this.k_ = k;
    this.unigram_ = new Float64Array(k);
    this.unigramTotal_ = 0;
    this.counts_ = new SparseCounts(k);
    const total = list.reduce((n, v) => n + v.frames, 0);
    let done = 0;
    this.fitHash_ = hashVolumes(list);
    for (const v of list) {
      for (let i = 0; i < v.codes.length; i++) this.unigram_[v.codes[i]]++;
      this.unigramTotal_ += v.codes.length;
      for (let t = 1; t <= v.frames; t++) {
        if (t < v.frames) {
          this.forEachCell(v, t, t, (ctx, x) => {
            this.counts_.prefixIds(ctx, this.orders, true, this.ids);
            for (let l = 0; l < this.orders.length; l++) this.counts_.add(this.ids[l], x);
          });
        }
        done++;
        opts.onProgress?.({ stage: 'fit', done, total, fraction: done / total });
      }
    }
    if (opts.validation !== undefined) this.tuneStrength(opts.validation);
    return this;
  }

  /** Chooses each level's Witten-Bell strength by held-out likelihood (see {@link NgramFitOptions.validation}). */
  private tuneStrength(validation: CodeVolume | CodeVolume[]): void {
    if (this.smoothing !== 'witten-bell') fail('E_RANGE', 'opts.validation', "only with 'witten-bell' smoothing (it tunes the Witten-Bell strength)", this.smoothing);
    const list = Array.isArray(validation) ? validation : [validation];
    if (list.length === 0) fail('E_SHAPE', 'opts.validation', 'at least one CodeVolume', list);
    list.forEach((v, i) => this.assertScorable(v, Array.isArray(validation) ? `opts.validation[${i}]` : 'opts.validation'));
    const levels = this.orders.length;
    if (levels === 0) return;
    // per held-out cell: the unigram probability, and per level its context's total, types and the pair count
    const k = this.k_ as number;
    const cells = transitionCells(list);
    const uni = new Float64Array(cells);
    const stats = new Float64Array(cells * levels * 3);
    let i = 0;
    for (const v of list) {
      this.forEachCell(v, 1, v.frames - 1, (ctx, x) => {
        uni[i] = (this.unigram_[x] + this.alpha) / (this.unigramTotal_ + this.alpha * k);
        this.counts_.prefixIds(ctx, this.orders, false, this.ids);
        for (let l = 0; l < levels; l++) {
          const id = this.ids[l];
          const total = this.counts_.contextTotal(id);
          const at = (i * levels + l) * 3;
          stats[at] = total;
          stats[at + 1] = total > 0 ? this.counts_.contextTypes(id) : 0;
          stats[at + 2] = total > 0 ? this.counts_.pair(id, x) : 0;
        }
        i++;
      });
    }
    const s = [...this.strength_];
    const nll = (): number => {
      let sum = 0;
      for (let c = 0; c < cells; c++) {
        let p = uni[c];
        for (let l = 0; l < levels; l++) {
          const at = (c * levels + l) * 3;
          const total = stats[at];
          if (total > 0) {
            const w = s[l] * stats[at + 1];
            p = (stats[at + 2] + w * p) / (total + w);
          }
        }
        sum -= Math.log(p);
      }
      return sum;
    };
    const lo = Math.log(1 / 32);
    const hi = Math.log(1024);
    for (let round = 0; round < 2; round++) {
      for (let l = 0; l < levels; l++) {
        const at = (u: number): number => {
          s[l] = Math.exp(u);
          return nll();
        };
        s[l] = Math.exp(goldenMin(at, lo, hi, 40));
      }
    }
    this.strength_ = s;
  }

  /**
   * Natural-log probability of every cell of frames 1..T−1 given its context in the previous frame.
   * @returns Float64Array of length (frames − 1)·rows·cols, frame-major then row-major.
   * @example
   * ```ts
   * const lp = model.logProb(codes); // lp[(t - 1) * rows * cols + r * cols + c]
   * ```
   */
  logProb(codes: CodeVolume): Float64Array {
    this.assertScorable(codes, 'codes');
    const out = new Float64Array(transitionCells([codes]));
    let i = 0;
    this.forEachCell(codes, 1, codes.frames - 1, (ctx, x) => {
      out[i++] = Math.log(this.prob(ctx, x));
    });
    return out;
  }

  /**
   * Cross-entropy of the model on one or more volumes (cells of frames 1..T−1 of each).
   * @example
   * ```ts
   * const { nll, bitsPerCode, perplexity, count } = model.evaluate(testCodes);
   * ```
   */
  evaluate(codes: CodeVolume | CodeVolume[]): CodeEvaluation {
    return evaluateLogProb(this, codes);
  }

  /**
   * K, the number of codes of the fitted codes ({@link @vqvid/core!CodeModel.k | CodeModel.k}); E_STATE before fit.
   * @example
   * ```ts
   * new BigramModel().fit(train).k; // train.k
   * ```
   */
  get k(): number {
    return this.assertFitted();
  }

  /**
   * {@link @vqvid/core!CodeModel.predictNext | CodeModel.predictNext}: the same as {@link CodeNgramModel.predict}.
   * @example
   * ```ts
   * const next = model.predictNext(context); // one frame
   * ```
   */
  predictNext(context: CodeVolume): CodeVolume {
    return this.predict(context);
  }

  /**
   * A {@link @vqvid/core!CodeStepper | CodeStepper} over a rows × cols grid: fed frame t, it returns
   * {@link CodeNgramModel.distribution} of every cell of frame t+1 (as float32), for entropy coding. Its identity's
   * checksum covers the options, the tuned strengths and what the fit counted.
   * @example
   * ```ts
   * const s = new BigramModel().fit(train).stepper(codes.rows, codes.cols);
   * const probs = s.next(firstFrame); // rows·cols·k probabilities of frame 1
   * ```
   */
  stepper(rows: number, cols: number): CodeStepper {
    const k = this.assertFitted();
    assertInt(rows, 'rows', 1);
    assertInt(cols, 'cols', 1);
    const n = this.offsets.length;
    const kind = n === 0 ? 'unigram' : n === 1 ? 'bigram' : `spatial-ngram-${n - 1}`;
    const params = JSON.stringify([this.alpha, this.smoothing, this.discount, this.strength_, this.fitHash_]);
    const checksum = crc32(new TextEncoder().encode(params)).toString(16).padStart(8, '0');
    const dist = new Float64Array(k);
    return {
      k,
      rows,
      cols,
      identity: { kind, checksum, backend: 'js' },
      next: (frame: ArrayLike<number>): Float32Array => {
        if (frame.length !== rows * cols) fail('E_SHAPE', 'frame.length', `${rows * cols} (rows·cols)`, frame.length);
        const prev: CodeVolume = { rows, cols, frames: 1, k, codes: Int32Array.from(frame) };
        const out = new Float32Array(rows * cols * k);
        // cells whose context resolves to the same back-off ids share one distribution
        const cache = new Map<string, number>();
        let i = 0;
        this.forEachCell(prev, 1, 1, (ctx) => {
          this.counts_.prefixIds(ctx, this.orders, false, this.ids);
          const id = this.ids.join(',');
          const from = cache.get(id);
          if (from === undefined) {
            out.set(this.fillDistribution(ctx, dist), i * k);
            cache.set(id, i);
          } else {
            out.copyWithin(i * k, from * k, (from + 1) * k);
          }
          i++;
        });
        return out;
      },
      dispose: () => undefined,
    };
  }

  /**
   * Most probable code of every cell of the frame after the last frame of `prev` (ties → lowest code).
   * @param prev codes whose last frame is the context.
   * @returns a one-frame CodeVolume of the same grid and k.
   * @example
   * ```ts
   * const next = model.predict(sliceCodes(codes, t - 1, t)); // guess of frame t
   * ```
   */
  predict(prev: CodeVolume): CodeVolume {
    const k = this.assertFitted();
    assertCodeVolume(prev, 'prev');
    if (prev.k !== k) fail('E_SHAPE', 'prev.k', `${k} (the fitted k)`, prev.k);
    const cells = prev.rows * prev.cols;
    const out: CodeVolume = { rows: prev.rows, cols: prev.cols, frames: 1, k, codes: k <= 65536 ? new Uint16Array(cells) : new Int32Array(cells) };
    // Cells whose context resolves to the same back-off ids share one distribution.
    const cache = new Map<string, number>();
    const dist = new Float64Array(k);
    let i = 0;
    this.forEachCell(prev, prev.frames, prev.frames, (ctx) => {
      this.counts_.prefixIds(ctx, this.orders, false, this.ids);
      const id = this.ids.join(',');
      let best = cache.get(id);
      if (best === undefined) {
        best = argmax(this.fillDistribution(ctx, dist));
        cache.set(id, best);
      }
      out.codes[i++] = best;
    });
    return out;
  }

  /**
   * The full conditional distribution p(· | context) over the K codes.
   * @param context {@link CodeNgramModel.contextLength} symbols: the cell's previous code, then its
   * neighbours' previous codes (K = outside the grid). Contexts never seen back off to shorter ones.
   * @returns Float64Array(K) summing to 1.
   * @example
   * ```ts
   * const p = new BigramModel().fit(codes).distribution([prevCode]);
   * ```
   */
  distribution(context: ArrayLike<number>): Float64Array {
    const k = this.assertFitted();
    if (context.length !== this.contextLength) fail('E_SHAPE', 'context.length', `${this.contextLength}`, context.length);
    for (let j = 0; j < context.length; j++) assertInt(context[j], `context[${j}]`, 0, j === 0 ? k - 1 : k);
    return this.fillDistribution(Array.from(context), new Float64Array(k));
  }

  /** p(x | ctx) through the back-off chain, one code at a time (cheap). */
  private prob(ctx: number[], x: number): number {
    const k = this.k_ as number;
    const counts = this.counts_;
    let p = (this.unigram_[x] + this.alpha) / (this.unigramTotal_ + this.alpha * k);
    counts.prefixIds(ctx, this.orders, false, this.ids);
    for (let l = 0; l < this.orders.length; l++) {
      const id = this.ids[l];
      const total = counts.contextTotal(id);
      if (total > 0) p = this.mix(total, counts.contextTypes(id), counts.pair(id, x), p, l);
    }
    return p;
  }

  /** The whole distribution for one context, written into `out` (length K). */
  private fillDistribution(ctx: number[], out: Float64Array): Float64Array {
    const k = this.k_ as number;
    const counts = this.counts_;
    const z = this.unigramTotal_ + this.alpha * k;
    for (let x = 0; x < k; x++) out[x] = (this.unigram_[x] + this.alpha) / z;
    counts.prefixIds(ctx, this.orders, false, this.ids);
    for (let l = 0; l < this.orders.length; l++) {
      const id = this.ids[l];
      const total = counts.contextTotal(id);
      if (total === 0) continue;
      const types = counts.contextTypes(id);
      const lower = this.mix(total, types, 0, 1, l);
      for (let x = 0; x < k; x++) out[x] *= lower;
      counts.forEachPair(id, (x, c) => {
        out[x] += this.mix(total, types, c, 0, l);
      });
    }
    return out;
  }

  /**
   * Smoothed p(x | h) from the context's total count and distinct codes, x's count c in it and the
   * lower-order probability pLower, at back-off level `level`.
   */
  private mix(total: number, types: number, c: number, pLower: number, level: number): number {
    if (this.smoothing === 'witten-bell') {
      const w = this.strength_[level] * types;
      return (c + w * pLower) / (total + w);
    }
    return Math.max(c - this.discount, 0) / total + ((this.discount * types) / total) * pLower;
  }

  /**
   * Calls `visit(context, code)` for every cell of target frames firstT..lastT of `v`, frame-major; the
   * context is read from the frame before. A target frame past the end (prediction) gives code −1.
   */
  private forEachCell(v: CodeVolume, firstT: number, lastT: number, visit: (ctx: number[], x: number) => void): void {
    const { rows, cols, codes, k } = v;
    const ctx = new Array<number>(this.offsets.length);
    for (let t = firstT; t <= lastT; t++) {
      const prevBase = (t - 1) * rows * cols;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          for (let j = 0; j < ctx.length; j++) {
            const rr = r + this.offsets[j][0];
            const cc = c + this.offsets[j][1];
            ctx[j] = rr < 0 || rr >= rows || cc < 0 || cc >= cols ? k : codes[prevBase + rr * cols + cc];
          }
          visit(ctx, t < v.frames ? codes[(t * rows + r) * cols + c] : -1);
        }
      }
    }
  }

  private assertFitted(): number {
    if (this.k_ === null) fail('E_STATE', 'model', 'a fitted model (call fit first)', this.k_);
    return this.k_;
  }

  private assertScorable(codes: CodeVolume, arg: string): void {
    const k = this.assertFitted();
    assertCodeVolume(codes, arg);
    if (codes.k !== k) fail('E_SHAPE', `${arg}.k`, `${k} (the fitted k)`, codes.k);
    if (codes.frames < 2) fail('E_SHAPE', `${arg}.frames`, 'at least 2 (frame 0 is only context)', codes.frames);
  }
}

/** CRC-32 of the shapes and codes of fitted volumes (codes as int32, so the array type does not matter). */
function hashVolumes(list: CodeVolume[]): number {
  const words: number[] = [];
  for (const v of list) {
    const codes = Int32Array.from(v.codes);
    words.push(v.rows, v.cols, v.frames, v.k, crc32(new Uint8Array(codes.buffer)));
  }
  return crc32(new Uint8Array(Uint32Array.from(words, (w) => w >>> 0).buffer));
}

/** Largest vocabulary: keeps the numeric count keys exact (see SparseCounts). */
const MAX_K = 2 ** 20;

function argmax(p: Float64Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

/**
 * Context-free code model: p(x) = (count(x) + α) / (N + α·K).
 * Scored on the same cells as the contextual models (frames 1..T−1) so the numbers compare.
 * @example
 * ```ts
 * const uni = new UnigramModel({ alpha: 1 }).fit(train);
 * uni.evaluate(test).bitsPerCode; // ≤ log2(K) on data that resembles train
 * ```
 */
export class UnigramModel extends CodeNgramModel {
  /**
   * Creates an unfitted unigram model (no context: every cell is scored with the add-α code frequencies).
   * @param opts smoothing; only `alpha` matters here (default 0.5).
   */
  constructor(opts: NgramOptions = {}) {
    super([], [], opts);
  }
}

/**
 * Same-cell bigram: p(x_t(r,c) | x_{t−1}(r,c)), smoothed towards the unigram (see {@link NgramOptions}).
 * @example
 * ```ts
 * const bi = new BigramModel().fit(train);
 * const p = bi.distribution([prevCode]); // Float64Array(K)
 * ```
 */
export class BigramModel extends CodeNgramModel {
  /**
   * Creates an unfitted same-cell bigram model.
   * @param opts smoothing options (defaults: alpha 0.5, 'witten-bell').
   */
  constructor(opts: NgramOptions = {}) {
    super(NEIGHBOURS_4.slice(0, 1), [1], opts);
  }
}

/**
 * Spatio-temporal n-gram: the context is the cell's previous code and its 4 or 8 neighbours' previous
 * codes; backs off full context → same-cell bigram → unigram.
 * Context order for {@link CodeNgramModel.distribution}: self, up, down, left, right, then (with 8)
 * up-left, up-right, down-left, down-right; K stands for "outside the grid".
 * @example
 * ```ts
 * const sp = new SpatialNgramModel({ neighbours: 4 }).fit(train);
 * const next = sp.predict(lastFrameCodes);
 * ```
 */
export class SpatialNgramModel extends CodeNgramModel {
  /**
   * Creates an unfitted spatio-temporal model; throws E_RANGE unless `opts.neighbours` is 4 or 8.
   * @param opts smoothing options and the neighbourhood (4 or 8; default 4).
   */
  constructor(opts: SpatialNgramOptions = {}) {
    const n = opts.neighbours ?? 4;
    if (n !== 4 && n !== 8) fail('E_RANGE', 'opts.neighbours', '4 or 8', n);
    const offsets = n === 4 ? NEIGHBOURS_4 : NEIGHBOURS_8;
    super(offsets, [1, offsets.length], opts);
  }
}
