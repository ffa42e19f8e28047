/**
 * What identifies the predictor behind a {@link CodeStepper}, so a compressed file can refuse a different one:
 * encoder and decoder must compute bit-identical distributions.
 * @example
 * ```ts
 * const id: StepperIdentity = { kind: 'rcnn', checksum: '1a2b3c4d', backend: 'wasm' };
 * ```
 */
export interface StepperIdentity {
  /** What kind of model it is, e.g. 'rcnn', 'bigram', 'copy-previous', 'unigram'. */
  kind: string;
  /** Hash of everything the distributions depend on (weights, counts, smoothing parameters), as hex. */
  checksum: string;
  /** The compute backend the distributions come from (tfjs's `tf.getBackend()`), or 'js' for plain float64 code. */
  backend: string;
}

/**
 * A predictor driven one frame at a time: fed the codes of frame t, it returns the per-cell distribution of
 * frame t+1 given every frame fed so far. An entropy coder drives the same stepper on the same frames in its
 * encoder and its decoder, so their distributions agree bit for bit on the same backend.
 * @example
 * ```ts
 * const s = model.stepper(rows, cols);
 * const probs = s.next(frame0); // Float32Array(rows * cols * k): p(frame 1 | frame 0), row-major per cell
 * s.dispose();
 * ```
 */
export interface CodeStepper {
  /** Number of codes K of every distribution. */
  readonly k: number;
  /** Grid rows of the frames fed and predicted. */
  readonly rows: number;
  /** Grid columns of the frames fed and predicted. */
  readonly cols: number;
  /** What computes the distributions (recorded in compressed files and checked on decoding). */
  readonly identity: StepperIdentity;
  /**
   * Feeds the codes of the next frame (rows·cols values in [0, k)) and returns p(frame after it | frames fed so
   * far) as rows·cols·k probabilities, cell-major (each cell's k values sum to about 1).
   */
  next(frame: ArrayLike<number>): Float32Array;
  /** Frees what the stepper holds (tensors); a no-op for plain models. */
  dispose(): void;
}

/**
 * A code model that can be driven frame by frame ({@link CodeStepper}): the n-gram baselines, copy-previous and
 * the RCNN implement it.
 * @example
 * ```ts
 * const bytes = compressCodes(codes, new BigramModel().fit(train)); // @vqvid/compress
 * ```
 */
export interface SteppableModel {
  /** Number of codes K. */
  readonly k: number;
  /** A fresh stepper over a rows × cols grid, with no frame fed yet. */
  stepper(rows: number, cols: number): CodeStepper;
}
