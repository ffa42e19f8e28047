import type { CodeModel, CodeVolume } from '@vqvid/core';
import { CopyPreviousModel } from './copyprev';
import { BigramModel, SpatialNgramModel, UnigramModel } from './ngram';

/**
 * A code model with the name tables show it under.
 * @example
 * ```ts
 * const row: NamedCodeModel = { name: 'rcnn', model: rcnn };
 * ```
 */
export interface NamedCodeModel {
  /** Row label. */
  name: string;
  /** Any {@link @vqvid/core!CodeModel | CodeModel}: counted or learned. */
  model: CodeModel;
}

/**
 * One row of {@link scoreCodeModels}: bits per code and perplexity of one model on the test codes.
 * @example
 * ```ts
 * const { name, bitsPerCode }: CodeScore = scoreCodeModels(models, test)[0];
 * ```
 */
export interface CodeScore {
  /** Row label. */
  name: string;
  /** Mean negative log2-probability per scored code. */
  bitsPerCode: number;
  /** 2^bitsPerCode. */
  perplexity: number;
}

/**
 * The counted code models fitted on `train`, as {@link @vqvid/core!CodeModel | CodeModel}s: spatial n-gram,
 * same-cell bigram, smoothed copy-previous (its epsilon fitted on `validation` when given, else on `train`) and
 * unigram.
 * @example
 * ```ts
 * const rows = scoreCodeModels([{ name: 'rcnn', model: rcnn }, ...countedModels(train, val)], test);
 * ```
 */
export function countedModels(train: CodeVolume | CodeVolume[], validation?: CodeVolume): NamedCodeModel[] {
  return [
    { name: 'spatial n-gram', model: new SpatialNgramModel().fit(train) },
    { name: 'bigram', model: new BigramModel().fit(train) },
    { name: 'copy-previous', model: new CopyPreviousModel().fit(train, validation ? { validation } : {}) },
    { name: 'unigram', model: new UnigramModel().fit(train) },
  ];
}

/**
 * Bits per code on `test` of every model, whatever kind (networks, n-grams, copy-previous), with the uniform
 * log2 K for scale; every score covers the cells of frames 1..T-1 of `test`.
 * @example
 * ```ts
 * for (const r of scoreCodeModels(models, test)) console.log(r.name, r.bitsPerCode.toFixed(3));
 * ```
 */
export function scoreCodeModels(models: NamedCodeModel[], test: CodeVolume): CodeScore[] {
  const out: CodeScore[] = models.map(({ name, model }) => {
    const e = model.evaluate(test);
    return { name, bitsPerCode: e.bitsPerCode, perplexity: e.perplexity };
  });
  out.push({ name: 'uniform', bitsPerCode: Math.log2(test.k), perplexity: test.k });
  return out;
}
