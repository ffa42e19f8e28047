/** Machine-readable error codes carried by every {@link VqvidError}. */
export type VqvidErrorCode =
  | 'E_SHAPE'
  | 'E_DTYPE'
  | 'E_RANGE'
  | 'E_FORMAT'
  | 'E_VERSION'
  | 'E_IO'
  | 'E_NOT_FOUND'
  | 'E_BACKEND'
  | 'E_STATE'
  | 'E_ABORTED'
  | 'E_TOOL';

/**
 * The one error class of vqvid: a `code` for programs and a message naming the argument,
 * what was expected and what came.
 * @example
 * ```ts
 * try { assertVideo(v, 'video'); } catch (e) { if (e instanceof VqvidError && e.code === 'E_SHAPE') ... }
 * ```
 */
export class VqvidError extends Error {
  /** Machine-readable category of the failure. */
  readonly code: VqvidErrorCode;
  /** Optional structured details (argument name, expected, received). */
  readonly details?: Record<string, unknown>;

  /**
   * Creates an error; most code should call {@link fail}, which builds the message and details.
   * @param code machine-readable category.
   * @param message full human-readable message.
   * @param details optional structured details, kept on {@link VqvidError.details}.
   */
  constructor(code: VqvidErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'VqvidError';
    this.code = code;
    this.details = details;
  }
}

/**
 * Short, readable description of a received value for error messages: numbers as written, strings quoted
 * (cut at 40 characters), typed arrays and arrays as `Type(length)`, anything else as its `typeof`.
 * @example
 * ```ts
 * describeValue(NaN);                  // 'NaN'
 * describeValue('abc');                // '"abc"'
 * describeValue(new Float32Array(12)); // 'Float32Array(12)'
 * describeValue({ width: 4 });         // 'object'
 * ```
 */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length: number }).length})`;
  if (Array.isArray(v)) return `Array(${v.length})`;
  return typeof v;
}

/**
 * Throws a {@link VqvidError} of the form "`arg`: expected X, got Y".
 * @example
 * ```ts
 * if (k < 1) fail('E_RANGE', 'k', 'an integer >= 1', k);
 * ```
 */
export function fail(code: VqvidErrorCode, arg: string, expected: string, got: unknown): never {
  throw new VqvidError(code, `${arg}: expected ${expected}, got ${describeValue(got)}`, {
    argument: arg,
    expected,
    received: describeValue(got),
  });
}
