import { VqvidError, describeValue } from './errors';

// Hand-written rather than a schema library (ajv, zod): core has no dependencies and should keep none, the
// headers are small and fixed, and a hand validator gives the house's exact "file: field: expected X, got Y"
// messages with E_FORMAT. It reads only own properties, so "toString" or "__proto__" never reach a prototype.

/**
 * What a JSON value of a stored header must be: a string (optionally one of a list or matching a pattern), an
 * integer or finite number in a range, a boolean, an array (of items of a schema, at most `maxItems`), or a
 * plain object whose listed fields are checked (other fields are allowed and left alone). A field may be
 * `optional` (absent) or `nullable` (null).
 * @example
 * ```ts
 * const HEADER: Schema = { type: 'object', fields: { k: { type: 'integer', min: 1 }, name: { type: 'string', optional: true } } };
 * ```
 */
export type Schema = (
  | {
      /** A string. */
      type: 'string';
      /** The strings allowed (compared exactly). */
      oneOf?: readonly string[];
      /** A pattern the string must match. */
      pattern?: RegExp;
    }
  | {
      /** A safe integer ('integer') or a finite number ('number'). */
      type: 'integer' | 'number';
      /** Smallest value allowed. */
      min?: number;
      /** Largest value allowed. */
      max?: number;
    }
  | {
      /** true or false. */
      type: 'boolean';
    }
  | {
      /** An array. */
      type: 'array';
      /** What every item must be. */
      items?: Schema;
      /** Most items allowed. */
      maxItems?: number;
    }
  | {
      /** A plain object. */
      type: 'object';
      /** Fields checked by name (own properties only); others are allowed. */
      fields?: Readonly<Record<string, Schema>>;
    }
) & {
  /** As an object's field: may be absent. */
  optional?: boolean;
  /** May be null. */
  nullable?: boolean;
};

/**
 * Whether `v` is a plain object (an object literal or JSON object, not null, an array or a class instance).
 * @example
 * ```ts
 * isPlainObject(JSON.parse('{"a":1}')); // true
 * isPlainObject([1]);                    // false
 * ```
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * The own property `key` of `obj`, or undefined: table lookups by names read from files go through this, so
 * "constructor" or "toString" never find what Object.prototype holds.
 * @example
 * ```ts
 * ownValue({ float32: Float32Array }, 'toString'); // undefined
 * ```
 */
export function ownValue<T>(obj: Readonly<Record<string, T>>, key: unknown): T | undefined {
  return typeof key === 'string' && Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/**
 * Checks a value read from a file against `schema`; throws VqvidError E_FORMAT "`source`: `arg`: expected X,
 * got Y" at the first field that does not fit.
 * @param source the file (or other origin) named first in the message.
 * @param arg the value's name in the message, e.g. 'header'; nested fields are named `header.config.k`.
 * @example
 * ```ts
 * checkSchema(header, { type: 'object', fields: { k: { type: 'integer', min: 1 } } }, 'header', 'codebook.vqcb');
 * ```
 */
export function checkSchema(value: unknown, schema: Schema, arg: string, source: string): void {
  const bad = (expected: string, got: unknown = value): never => {
    throw new VqvidError('E_FORMAT', `${source}: ${arg}: expected ${expected}, got ${describeValue(got)}`, {
      source,
      argument: arg,
      expected,
      received: describeValue(got),
    });
  };
  if (value === null) {
    if (schema.nullable) return;
    bad(expectation(schema));
  }
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return bad(expectation(schema));
      if (schema.oneOf && !schema.oneOf.includes(value)) return bad(expectation(schema));
      if (schema.pattern && !schema.pattern.test(value)) return bad(expectation(schema));
      return;
    case 'integer':
    case 'number': {
      const ok = schema.type === 'integer' ? Number.isSafeInteger(value) : typeof value === 'number' && Number.isFinite(value);
      if (!ok || (value as number) < (schema.min ?? -Infinity) || (value as number) > (schema.max ?? Infinity)) bad(expectation(schema));
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') bad(expectation(schema));
      return;
    case 'array':
      if (!Array.isArray(value)) return bad(expectation(schema));
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return bad(expectation(schema));
      if (schema.items) for (let i = 0; i < value.length; i++) checkSchema(value[i], schema.items, `${arg}[${i}]`, source);
      return;
    case 'object':
      if (!isPlainObject(value)) return bad(expectation(schema));
      for (const [key, field] of Object.entries(schema.fields ?? {})) {
        const has = Object.prototype.hasOwnProperty.call(value, key);
        if (!has && field.optional) continue;
        checkSchema(has ? value[key] : undefined, field, `${arg}.${key}`, source);
      }
      return;
  }
}

/** The "expected" part of a message for `schema`. */
function expectation(schema: Schema): string {
  const orNull = schema.nullable ? ' or null' : '';
  switch (schema.type) {
    case 'string':
      if (schema.oneOf) return `one of ${schema.oneOf.map((s) => JSON.stringify(s)).join(', ')}${orNull}`;
      return `a string${schema.pattern ? ` matching ${schema.pattern}` : ''}${orNull}`;
    case 'integer':
    case 'number': {
      const what = schema.type === 'integer' ? 'an integer' : 'a finite number';
      const { min, max } = schema;
      const range = min !== undefined && max !== undefined ? ` in [${min}, ${max}]` : min !== undefined ? ` >= ${min}` : max !== undefined ? ` <= ${max}` : '';
      return `${what}${range}${orNull}`;
    }
    case 'boolean':
      return `a boolean${orNull}`;
    case 'array':
      return `an array${schema.maxItems !== undefined ? ` of at most ${schema.maxItems} items` : ''}${orNull}`;
    case 'object':
      return `an object${orNull}`;
  }
}
