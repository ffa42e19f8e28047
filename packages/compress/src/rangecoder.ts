import { fail, VqvidError } from '@vqvid/core';

/*
 * A range coder with exact integer arithmetic in doubles (every value stays below 2^53): LZMA's carry-less
 * design (a cache byte plus a count of pending 0xFF bytes absorbs the carry) widened from a 32-bit to a 48-bit
 * range. The range is renormalised to at least 2^40 before each symbol, so with totals up to 2^28 the integer
 * scale r = floor(range / total) is at least 2^12 and the loss from flooring it is below 2^-12 relative (for
 * the default total 2^24, below 2^-16: about 0.00002 bits per symbol).
 */
const RANGE_BITS = 48;
const TOP = 2 ** RANGE_BITS; // low's carry bit sits here
const RANGE_MIN = 2 ** 40; // renormalise below this
const SHIFT = 2 ** 40; // low / SHIFT is the byte about to leave
/** Bytes the encoder's flush writes and the decoder's start reads (the initial cache byte + 48 bits). */
const LEAD_BYTES = 1 + RANGE_BITS / 8;
/** Largest frequency total a coder accepts: 2^28. */
export const MAX_TOTAL = 2 ** 28;

/** Growable byte buffer. */
class ByteSink {
  bytes = new Uint8Array(1024);
  length = 0;
  push(b: number): void {
    if (this.length === this.bytes.length) {
      const next = new Uint8Array(this.bytes.length * 2);
      next.set(this.bytes);
      this.bytes = next;
    }
    this.bytes[this.length++] = b;
  }
}

/**
 * Range encoder: each symbol is an interval [cum, cum + freq) of integer frequencies out of `total`.
 * @example
 * ```ts
 * const enc = new RangeEncoder();
 * enc.encode(3, 2, 10); // symbol with frequency 2 at cumulative 3, out of 10
 * const bytes = enc.finish();
 * ```
 */
export class RangeEncoder {
  private low = 0;
  private range = TOP - 1;
  private cache = 0;
  private cacheSize = 1;
  private readonly sink = new ByteSink();

  /** Codes the interval [cum, cum + freq) of `total` (integers, 0 < freq, cum + freq ≤ total ≤ 2^28). */
  encode(cum: number, freq: number, total: number): void {
    if (!(freq > 0 && cum >= 0 && cum + freq <= total && total <= MAX_TOTAL)) {
      fail('E_RANGE', 'freq', `an interval inside [0, ${total}) with total ≤ 2^28`, `[${cum}, ${cum + freq})`);
    }
    const r = Math.floor(this.range / total);
    this.low += r * cum;
    this.range = r * freq;
    while (this.range < RANGE_MIN) {
      this.range *= 256;
      this.shiftLow();
    }
  }

  private shiftLow(): void {
    const carry = this.low >= TOP ? 1 : 0;
    const low = this.low - carry * TOP;
    if (low < 0xff * SHIFT || carry) {
      let temp = this.cache;
      do {
        this.sink.push((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = Math.floor(low / SHIFT);
    }
    this.cacheSize++;
    this.low = (low % SHIFT) * 256;
  }

  /** Bytes written so far (a few more are pending in the coder until {@link RangeEncoder.finish}). */
  get length(): number {
    return this.sink.length;
  }

  /** Writes the last bytes and returns everything coded (the encoder is spent afterwards). */
  finish(): Uint8Array {
    for (let i = 0; i < LEAD_BYTES; i++) this.shiftLow();
    return this.sink.bytes.slice(0, this.sink.length);
  }
}

/**
 * Range decoder for bytes written by {@link RangeEncoder}: `target(total)` gives the position inside the
 * current interval, the caller finds the symbol whose [cum, cum + freq) holds it and calls `consume`.
 * Reading past the end is an E_FORMAT error (a truncated or corrupt stream).
 * @example
 * ```ts
 * const dec = new RangeDecoder(bytes);
 * const t = dec.target(10); // then find the symbol s with cum(s) ≤ t < cum(s) + freq(s)
 * dec.consume(3, 2);
 * ```
 */
export class RangeDecoder {
  private code = 0;
  private range = TOP - 1;
  private r = 0;
  private pos = 0;

  /**
   * Starts decoding `bytes` (reads the first 7); E_FORMAT when there are fewer.
   * @param source what to call the stream in errors.
   */
  constructor(private readonly bytes: Uint8Array, private readonly source = 'stream') {
    for (let i = 0; i < LEAD_BYTES; i++) this.code = this.code * 256 + this.byte();
    if (this.code >= TOP) this.corrupt();
  }

  private byte(): number {
    // the encoder's flush leaves every byte the decoder reads, so running out means the stream was cut
    if (this.pos >= this.bytes.length) this.corrupt();
    return this.bytes[this.pos++];
  }

  private corrupt(): never {
    throw new VqvidError('E_FORMAT', `${this.source}: the coded stream is truncated or corrupt`, { source: this.source });
  }

  /** The scaled position of the next symbol in [0, total). */
  target(total: number): number {
    this.r = Math.floor(this.range / total);
    const t = Math.floor(this.code / this.r);
    if (t >= total) this.corrupt();
    return t;
  }

  /** Removes the symbol [cum, cum + freq) found for the last {@link RangeDecoder.target}. */
  consume(cum: number, freq: number): void {
    this.code -= this.r * cum;
    this.range = this.r * freq;
    while (this.range < RANGE_MIN) {
      this.code = this.code * 256 + this.byte();
      this.range *= 256;
    }
  }

  /** Bytes read so far. */
  get position(): number {
    return this.pos;
  }
}
