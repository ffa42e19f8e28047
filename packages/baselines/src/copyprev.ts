import { assertCodeVolume, assertInt, crc32, evaluateLogProb, fail } from '@vqvid/core';
import type { CodeEvaluation, CodeModel, CodeStepper, CodeVolume, OnProgress, SteppableModel } from '@vqvid/core';

/**
 * Options of {@link CopyPreviousModel.fit}.
 * @example
 * ```ts
 * const opts: CopyPreviousFitOptions = { validation: validCodes };
 * ```
 */
export interface CopyPreviousFitOptions {
  /** Volumes whose cells of frames 1..T−1 fix ε by maximum likelihood; default: the training volumes. */
  validation?: CodeVolume | CodeVolume[];
  /** Called once per training frame counted (stage 'fit', done/total frames). */
  onProgress?: OnProgress;
}

/** ε never goes below this, so a code change keeps a non-zero probability even after training on static codes. */
const MIN_EPSILON = 1e-9;
/** Width of the final bisection interval of ε. */
const EPSILON_TOLERANCE = 1e-9;

/**
 * Smoothed "same code as last frame" code model:
 * p(c | a) = (1 − ε)·[c = a] + ε·u(c), where a is the cell's code in the previous frame and u the add-one
 * unigram of the training codes (every cell, frame 0 included). ε ∈ [1e-9, 1] maximises the likelihood of
 * the validation codes (the training codes when none are given). Every p(· | a) sums to 1 over the K codes.
 *
 * Scored like the n-gram models: every cell of frames 1..T−1, frame-major then row-major.
 * @example
 * ```ts
 * const m = new CopyPreviousModel().fit(train, { validation: valid });
 * m.epsilon_;                   // fitted probability of "not a copy"
 * m.evaluate(test).bitsPerCode; // compare with BigramModel
 * ```
 */
export class CopyPreviousModel implements CodeModel, SteppableModel {
  /** Vocabulary size K, known after {@link CopyPreviousModel.fit} (null before). */
  k_: number | null = null;
  /** Fitted mixing weight ε of the unigram (null before fit). */
  epsilon_: number | null = null;
  /** u(c): add-one smoothed unigram of the training codes. */
  private unigram_ = new Float64Array(0);

  /**
   * Number of symbols in a context: 1, the cell's own previous code (as in the same-cell bigram).
   * @example
   * ```ts
   * new CopyPreviousModel().contextLength; // 1
   * ```
   */
  get contextLength(): number {
    return 1;
  }

  /**
   * Counts the unigram of one or more volumes (all with the same k), then fits ε by maximum likelihood on
   * `opts.validation` (or on the training volumes); replaces an earlier fit. Throws E_SHAPE when the
   * volumes ε is fitted on have no frame after frame 0.
   * @returns this, for chaining.
   * @example
   * ```ts
   * const m = new CopyPreviousModel().fit([clipA, clipB], { validation: clipC });
   * ```
   */
  fit(codes: CodeVolume | CodeVolume[], opts: CopyPreviousFitOptions = {}): this {
    const train = volumeList(codes, 'codes', null);
    const k = train[0].k;
    const unigram = new Float64Array(k).fill(1);
    const total = train.reduce((n, v) => n + v.frames, 0);
    let done = 0;
    for (const v of train) {
      const frame = v.rows * v.cols;
      for (let t = 0; t < v.frames; t++) {
        for (let i = t * frame; i < (t + 1) * frame; i++) unigram[v.codes[i]]++;
        done++;
        opts.onProgress?.({ stage: 'fit', done, total, fraction: done / total });
      }
    }
    const n = train.reduce((s, v) => s + v.codes.length, 0) + k;
    for (let c = 0; c < k; c++) unigram[c] /= n;
    const held = opts.validation === undefined ? train : volumeList(opts.validation, 'opts.validation', k);
    const stats = transitionStats(held, k);
    if (stats.events === 0) {
      fail('E_SHAPE', opts.validation === undefined ? 'codes' : 'opts.validation', 'volumes with at least 2 frames (ε is fitted on frames 1..T−1)', held[0].frames);
    }
    this.k_ = k;
    this.unigram_ = unigram;
    this.epsilon_ = maximiseEpsilon(stats, unigram);
    return this;
  }

  /**
   * Natural-log probability of every cell of frames 1..T−1 given its code in the previous frame.
   * @returns Float64Array of length (frames − 1)·rows·cols, frame-major then row-major.
   * @example
   * ```ts
   * const lp = model.logProb(codes); // lp[(t - 1) * rows * cols + r * cols + c]
   * ```
   */
  logProb(codes: CodeVolume): Float64Array {
    const k = this.assertFitted();
    const [v] = volumeList(codes, 'codes', k);
    if (v.frames < 2) fail('E_SHAPE', 'codes.frames', 'at least 2 (frame 0 is only context)', v.frames);
    const eps = this.epsilon_ as number;
    const frame = v.rows * v.cols;
    const out = new Float64Array(v.codes.length - frame);
    for (let i = 0; i < out.length; i++) {
      const x = v.codes[i + frame];
      const a = v.codes[i];
      out[i] = Math.log(eps * this.unigram_[x] + (x === a ? 1 - eps : 0));
    }
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
   * new CopyPreviousModel().fit(train).k; // train.k
   * ```
   */
  get k(): number {
    return this.assertFitted();
  }

  /**
   * {@link @vqvid/core!CodeModel.predictNext | CodeModel.predictNext}: the same as {@link CopyPreviousModel.predict}.
   * @example
   * ```ts
   * const next = model.predictNext(context); // one frame
   * ```
   */
  predictNext(context: CodeVolume): CodeVolume {
    return this.predict(context);
  }

  /**
   * Most probable code of every cell of the frame after the last frame of `prev` (ties → lowest code):
   * the cell's own code unless ε·u(c) of some other code beats (1 − ε) + ε·u(own code).
   * @param prev codes whose last frame is the context.
   * @returns a one-frame CodeVolume of the same grid and k.
   * @example
   * ```ts
   * const next = model.predict(sliceCodes(codes, t - 1, t)); // guess of frame t
   * ```
   */
  predict(prev: CodeVolume): CodeVolume {
    const k = this.assertFitted();
    const [v] = volumeList(prev, 'prev', k);
    const cells = v.rows * v.cols;
    const out: CodeVolume = { rows: v.rows, cols: v.cols, frames: 1, k, codes: k <= 65536 ? new Uint16Array(cells) : new Int32Array(cells) };
    const eps = this.epsilon_ as number;
    let top = 0;
    for (let c = 1; c < k; c++) if (this.unigram_[c] > this.unigram_[top]) top = c;
    const last = (v.frames - 1) * cells;
    for (let i = 0; i < cells; i++) {
      const a = v.codes[last + i];
      const stay = 1 - eps + eps * this.unigram_[a];
      const move = eps * this.unigram_[top];
      out.codes[i] = move > stay || (move === stay && top < a) ? top : a;
    }
    return out;
  }

  /**
   * The full conditional distribution p(· | a) over the K codes.
   * @param context one symbol: the cell's code a in the previous frame, in [0, K).
   * @returns Float64Array(K) summing to 1.
   * @example
   * ```ts
   * const p = new CopyPreviousModel().fit(codes).distribution([prevCode]);
   * ```
   */
  distribution(context: ArrayLike<number>): Float64Array {
    const k = this.assertFitted();
    if (context.length !== 1) fail('E_SHAPE', 'context.length', '1', context.length);
    assertInt(context[0], 'context[0]', 0, k - 1);
    const eps = this.epsilon_ as number;
    const out = this.unigram_.map((u) => eps * u);
    out[context[0]] += 1 - eps;
    return out;
  }

  /**
   * A {@link @vqvid/core!CodeStepper | CodeStepper} over a rows × cols grid: fed frame t, it returns
   * {@link CopyPreviousModel.distribution} of every cell of frame t+1 (as float32), for entropy coding; its
   * identity's checksum covers ε and the unigram.
   * @example
   * ```ts
   * const s = new CopyPreviousModel().fit(train).stepper(codes.rows, codes.cols);
   * const probs = s.next(firstFrame); // rows·cols·k probabilities of frame 1
   * ```
   */
  stepper(rows: number, cols: number): CodeStepper {
    const k = this.assertFitted();
    assertInt(rows, 'rows', 1);
    assertInt(cols, 'cols', 1);
    const eps = this.epsilon_ as number;
    const base = Float64Array.from(this.unigram_, (u) => eps * u);
    const words = new Float64Array(k + 1);
    words.set(this.unigram_);
    words[k] = eps;
    const checksum = crc32(new Uint8Array(words.buffer)).toString(16).padStart(8, '0');
    return {
      k,
      rows,
      cols,
      identity: { kind: 'copy-previous', checksum, backend: 'js' },
      next: (frame: ArrayLike<number>): Float32Array => {
        if (frame.length !== rows * cols) fail('E_SHAPE', 'frame.length', `${rows * cols} (rows·cols)`, frame.length);
        const out = new Float32Array(rows * cols * k);
        for (let i = 0; i < frame.length; i++) {
          const a = frame[i];
          assertInt(a, `frame[${i}]`, 0, k - 1);
          out.set(base, i * k);
          out[i * k + a] = base[a] + (1 - eps);
        }
        return out;
      },
      dispose: () => undefined,
    };
  }

  private assertFitted(): number {
    if (this.k_ === null) fail('E_STATE', 'model', 'a fitted model (call fit first)', this.k_);
    return this.k_;
  }
}

/** Validated list of volumes, all with vocabulary `k` (or with the first one's k when `k` is null). */
function volumeList(codes: CodeVolume | CodeVolume[], arg: string, k: number | null): CodeVolume[] {
  const list = Array.isArray(codes) ? codes : [codes];
  if (list.length === 0) fail('E_SHAPE', arg, 'at least one CodeVolume', list);
  const name = (i: number) => (Array.isArray(codes) ? `${arg}[${i}]` : arg);
  list.forEach((v, i) => assertCodeVolume(v, name(i)));
  const want = k ?? list[0].k;
  list.forEach((v, i) => {
    if (v.k !== want) fail('E_SHAPE', `${name(i)}.k`, `${want} (${k === null ? 'as the first volume' : 'the fitted k'})`, v.k);
  });
  return list;
}

/** Sufficient statistics of ε's likelihood: code changes, and "same code" events per code. */
interface TransitionStats {
  events: number;
  changes: number;
  stays: Float64Array;
}

function transitionStats(list: CodeVolume[], k: number): TransitionStats {
  const stays = new Float64Array(k);
  let events = 0;
  let changes = 0;
  for (const v of list) {
    const frame = v.rows * v.cols;
    for (let i = frame; i < v.codes.length; i++) {
      const a = v.codes[i - frame];
      if (v.codes[i] === a) stays[a]++;
      else changes++;
      events++;
    }
  }
  return { events, changes, stays };
}

/**
 * argmax over ε ∈ [0, 1] of L(ε) = n_change·log ε + Σ_a s_a·log(1 − ε·d_a), d_a = 1 − u(a) (constants
 * dropped). L is concave, so bisection on the sign of L'(ε) = n_change/ε − Σ_a s_a·d_a/(1 − ε·d_a) finds it;
 * the result is clamped to at least MIN_EPSILON.
 */
function maximiseEpsilon(stats: TransitionStats, unigram: Float64Array): number {
  const derivative = (eps: number): number => {
    let d = stats.changes / eps;
    for (let a = 0; a < unigram.length; a++) {
      if (stats.stays[a] > 0) d -= (stats.stays[a] * (1 - unigram[a])) / (1 - eps * (1 - unigram[a]));
    }
    return d;
  };
  if (derivative(1) >= 0) return 1;
  let lo = 0;
  let hi = 1;
  while (hi - lo > EPSILON_TOLERANCE) {
    const mid = (lo + hi) / 2;
    if (derivative(mid) > 0) lo = mid;
    else hi = mid;
  }
  return Math.max(MIN_EPSILON, (lo + hi) / 2);
}
