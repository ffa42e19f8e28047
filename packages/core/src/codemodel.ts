import { fail } from './errors';
import type { CodeVolume } from './types';

/**
 * Cross-entropy summary of a code model on some codes (natural-log based).
 * @example
 * ```ts
 * const { bitsPerCode, perplexity }: CodeEvaluation = model.evaluate(testCodes);
 * ```
 */
export interface CodeEvaluation {
  /** Mean negative log-probability, nats per code. */
  nll: number;
  /** The same in bits per code (nll / ln 2). */
  bitsPerCode: number;
  /** exp(nll): the effective number of equally likely codes. */
  perplexity: number;
  /** Number of codes scored (cells of frames 1..T−1 of each volume). */
  count: number;
}

/**
 * Everything that scores codes, from a unigram to the RCNN: what the CLI's `eval`, the bench and the demo loop
 * over. Convention: a volume's frame 0 only conditions; every cell of frames 1..T−1 is scored given the frames
 * before it.
 * @example
 * ```ts
 * const models: Array<[string, CodeModel]> = [['bigram', new BigramModel().fit(train)], ['rcnn', rcnn]];
 * for (const [name, m] of models) console.log(name, m.evaluate(test).bitsPerCode);
 * ```
 */
export interface CodeModel {
  /** Number of codes K the model scores (codes are integers in [0, k)). */
  readonly k: number;
  /** ln p of every predicted cell: frames 1..T−1 of `codes`, frame-major then row-major, in nats. */
  logProb(codes: CodeVolume): Float64Array;
  /** Cross-entropy on one or more volumes (see {@link summarizeLogProbs}). */
  evaluate(codes: CodeVolume | CodeVolume[]): CodeEvaluation;
  /** The most probable frame after the last frame of `context` (a one-frame CodeVolume on the same grid). */
  predictNext(context: CodeVolume): CodeVolume;
}

/**
 * The one nll → bits/perplexity summary: mean negative log-probability over every value of every array.
 * E_SHAPE when there is nothing to average.
 * @param logProbs ln p arrays (nats), e.g. one `logProb(volume)` per volume.
 * @example
 * ```ts
 * const e = summarizeLogProbs([model.logProb(a), model.logProb(b)]); // weighted by cell count
 * ```
 */
export function summarizeLogProbs(logProbs: ArrayLike<number>[]): CodeEvaluation {
  let sum = 0;
  let count = 0;
  for (const lp of logProbs) {
    for (let i = 0; i < lp.length; i++) sum -= lp[i];
    count += lp.length;
  }
  if (count === 0) fail('E_SHAPE', 'logProbs', 'at least one scored code', count);
  const nll = sum / count;
  return { nll, bitsPerCode: nll / Math.LN2, perplexity: Math.exp(nll), count };
}

/**
 * `evaluate` of a {@link CodeModel} from its `logProb`: one volume or several (at least one), summarised together.
 * @example
 * ```ts
 * evaluate(codes: CodeVolume | CodeVolume[]) { return evaluateLogProb(this, codes); }
 * ```
 */
export function evaluateLogProb(model: Pick<CodeModel, 'logProb'>, codes: CodeVolume | CodeVolume[]): CodeEvaluation {
  const list = Array.isArray(codes) ? codes : [codes];
  if (list.length === 0) fail('E_SHAPE', 'codes', 'at least one CodeVolume', list);
  return summarizeLogProbs(list.map((v) => model.logProb(v)));
}
