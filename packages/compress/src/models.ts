import { fail } from '@vqvid/core';
import type { CodeStepper, StepperIdentity } from '@vqvid/core';
import { AdaptiveFrequencies } from './fenwick';
import { findSymbol, quantizeRow } from './quantize';
import { RangeDecoder, RangeEncoder } from './rangecoder';

/**
 * One side of the coder, so each model's logic is written once: the encoder codes the symbol it is given and
 * returns it; the decoder ignores it, decodes one and returns that.
 */
export abstract class SymbolIO {
  /** Ideal cost so far of the coded symbols under the integer frequencies used: −Σ log2(freq / total). */
  idealBits = 0;
  /** The encoder's symbol of cell `cell` of the frame being coded; −1 on the decoder side. */
  abstract truth(cell: number): number;
  /** Codes `s` with cumulative frequencies `cum` (length k + 1). */
  abstract table(cum: Float64Array, k: number, s: number): number;
  /** Codes `s` with adaptive frequencies (it must have a nonzero count). */
  abstract adaptive(f: AdaptiveFrequencies, s: number): number;
}

/** Encoder side: `frame` is the frame being coded. */
export class EncodeIO extends SymbolIO {
  frame: ArrayLike<number> = [];
  constructor(public enc: RangeEncoder) {
    super();
  }
  truth(cell: number): number {
    return this.frame[cell];
  }
  table(cum: Float64Array, k: number, s: number): number {
    this.interval(cum[s], cum[s + 1] - cum[s], cum[k]);
    return s;
  }
  adaptive(f: AdaptiveFrequencies, s: number): number {
    const freq = f.freq(s);
    if (!(freq > 0)) fail('E_STATE', 'adaptive model', 'a nonzero frequency for the coded symbol', freq);
    this.interval(f.cum(s), freq, f.total);
    return s;
  }
  private interval(cum: number, freq: number, total: number): void {
    this.idealBits -= Math.log2(freq / total);
    this.enc.encode(cum, freq, total);
  }
}

/** Decoder side. */
export class DecodeIO extends SymbolIO {
  constructor(readonly dec: RangeDecoder) {
    super();
  }
  truth(): number {
    return -1;
  }
  table(cum: Float64Array, k: number): number {
    const s = findSymbol(cum, k, this.dec.target(cum[k]));
    this.dec.consume(cum[s], cum[s + 1] - cum[s]);
    return s;
  }
  adaptive(f: AdaptiveFrequencies): number {
    const s = f.find(this.dec.target(f.total));
    this.dec.consume(f.cum(s), f.freq(s));
    return s;
  }
}

/** What codes a volume frame by frame; encoder and decoder run the same instance logic on the same frames. */
export interface FrameCoder {
  readonly identity: StepperIdentity;
  /** Codes frame t (every cell through `io`) and returns its codes (the encoder's frame, or the decoded one). */
  codeFrame(io: SymbolIO, t: number): Int32Array;
  dispose(): void;
}

/** Increment and halving limit of the adaptive counts. */
const INC = 32;
const LIMIT = 2 ** 22;
/**
 * The adaptive bigram's memory bound: at most this many (previous code, code) slots in its context tables
 * (each a Fenwick tree of K + 1 int32 counts, 8 bytes a slot: 256 MiB); past it, a previous code without a
 * table codes its changes with the unigram alone.
 */
const MAX_CONTEXT_SLOTS = 2 ** 25;

/** Adaptive unigram: every code starts at count 1; it codes frame 0 for every model, and every frame for 'static'. */
export class AdaptiveUnigram {
  readonly f: AdaptiveFrequencies;
  constructor(k: number) {
    this.f = new AdaptiveFrequencies(k, 1, LIMIT);
  }
  code(io: SymbolIO, s: number): number {
    s = io.adaptive(this.f, s);
    this.f.add(s, INC);
    return s;
  }
}

/** Names of the adaptive models built into the format: no model file, no stored table. */
export type AdaptiveModelName = 'static' | 'copy' | 'bigram';

/**
 * The adaptive models by name, with what each does (the CLI's `-m` help and the docs read this table).
 * @example
 * ```ts
 * for (const [name, what] of Object.entries(ADAPTIVE_MODELS)) console.log(name, what);
 * ```
 */
export const ADAPTIVE_MODELS: Readonly<Record<AdaptiveModelName, string>> = {
  static: 'adaptive unigram: code counts updated after every code',
  copy: 'a "same code as last frame" flag (adaptive, in 10 contexts of recent changes), then the adaptive unigram',
  bigram: 'the copy flag, then the adaptive same-cell bigram of the previous code, escaping to the adaptive unigram',
};

/** Version of the adaptive models' arithmetic: bump when any count rule changes (it is their checksum). */
const ADAPTIVE_VERSION = 1;

/** Identity of an adaptive model: its checksum is the version of its count rules. */
export function adaptiveIdentity(name: AdaptiveModelName): StepperIdentity {
  return { kind: `adaptive-${name}`, checksum: `v${ADAPTIVE_VERSION}-inc${INC}-lim${LIMIT}-ctx${MAX_CONTEXT_SLOTS}`, backend: 'js' };
}

/** The adaptive models: frame 0 and every "changed" cell through the unigram. */
export class AdaptiveCoder implements FrameCoder {
  readonly identity: StepperIdentity;
  private readonly unigram: AdaptiveUnigram;
  private prev: Int32Array;
  private changed: Uint8Array;
  private readonly flags: AdaptiveFrequencies[] = [];
  private readonly contexts = new Map<number, AdaptiveFrequencies>();

  constructor(
    private readonly name: AdaptiveModelName,
    private readonly k: number,
    private readonly rows: number,
    private readonly cols: number,
    private readonly maxSlots = MAX_CONTEXT_SLOTS, // smaller only in tests (the identity assumes the default)
  ) {
    this.identity = adaptiveIdentity(name);
    this.unigram = new AdaptiveUnigram(k);
    this.prev = new Int32Array(rows * cols);
    this.changed = new Uint8Array(rows * cols);
    for (let i = 0; i < 10; i++) this.flags.push(new AdaptiveFrequencies(2, 1, 2 ** 16));
  }

  codeFrame(io: SymbolIO, t: number): Int32Array {
    const n = this.rows * this.cols;
    const cur = new Int32Array(n);
    if (t === 0 || this.name === 'static') {
      for (let i = 0; i < n; i++) cur[i] = this.unigram.code(io, io.truth(i));
    } else {
      for (let i = 0; i < n; i++) cur[i] = this.codeCell(io, i);
    }
    for (let i = 0; i < n; i++) this.changed[i] = t > 0 && cur[i] !== this.prev[i] ? 1 : 0;
    this.prev = cur;
    return cur;
  }

  /** Flag context: did the cell change last frame (0/1) × how many of its 4 neighbours did (0..4). */
  private flagContext(i: number): number {
    const r = Math.floor(i / this.cols);
    const c = i - r * this.cols;
    let m = 0;
    if (r > 0) m += this.changed[i - this.cols];
    if (r < this.rows - 1) m += this.changed[i + this.cols];
    if (c > 0) m += this.changed[i - 1];
    if (c < this.cols - 1) m += this.changed[i + 1];
    return this.changed[i] * 5 + m;
  }

  private codeCell(io: SymbolIO, i: number): number {
    const a = this.prev[i];
    const x = io.truth(i); // −1 when decoding
    const flag = this.flags[this.flagContext(i)];
    // the flag: 0 = same code as last frame, 1 = changed
    const changed = io.adaptive(flag, x === a ? 0 : 1);
    flag.add(changed, INC);
    if (changed === 0) return a;
    if (this.name === 'copy') return this.unigram.code(io, x);
    // bigram: per previous code, counts of the codes that followed it, plus an escape symbol k
    let ctx = this.contexts.get(a);
    if (!ctx && (this.contexts.size + 1) * (this.k + 1) > this.maxSlots) return this.unigram.code(io, x);
    if (!ctx) {
      ctx = new AdaptiveFrequencies(this.k + 1, 0, LIMIT);
      ctx.add(this.k, 1);
      this.contexts.set(a, ctx);
    }
    let s = io.adaptive(ctx, x >= 0 && ctx.freq(x) === 0 ? this.k : x);
    if (s === this.k) {
      ctx.add(this.k, INC);
      s = this.unigram.code(io, x);
    }
    ctx.add(s, INC);
    return s;
  }

  dispose(): void {
    this.contexts.clear();
  }
}

/**
 * A {@link CodeStepper}'s float distributions, quantized per cell (see {@link quantizeRow}); frame 0 through the
 * adaptive unigram, since no model has a past to predict it from.
 */
export class StepperCoder implements FrameCoder {
  readonly identity: StepperIdentity;
  private readonly unigram: AdaptiveUnigram;
  private readonly cum: Float64Array;
  private last: Int32Array | null = null;

  constructor(private readonly stepper: CodeStepper, private readonly total: number) {
    this.identity = stepper.identity;
    this.unigram = new AdaptiveUnigram(stepper.k);
    this.cum = new Float64Array(stepper.k + 1);
  }

  codeFrame(io: SymbolIO, t: number): Int32Array {
    const { k, rows, cols } = this.stepper;
    const n = rows * cols;
    const cur = new Int32Array(n);
    if (t === 0) {
      for (let i = 0; i < n; i++) cur[i] = this.unigram.code(io, io.truth(i));
    } else {
      const probs = this.stepper.next(this.last!);
      if (probs.length !== n * k) fail('E_SHAPE', 'stepper.next()', `${n * k} probabilities (rows·cols·k)`, probs.length);
      for (let i = 0; i < n; i++) cur[i] = io.table(quantizeRow(probs, i * k, k, this.total, this.cum), k, io.truth(i));
    }
    this.last = cur;
    return cur;
  }

  dispose(): void {
    this.stepper.dispose();
  }
}
