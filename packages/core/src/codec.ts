import { VersionedCacheTypeError } from './errors.js';

/** Turns values into the bytes an entry stores and back. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Buffer): T;
}

/** Thrown out of the replacer at the first value JSON would not give back; the walk then names it. */
const UNSAFE: unique symbol = Symbol('unsafe for JSON');

function isPlainContainer(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value) ? proto !== Array.prototype : proto !== Object.prototype && proto !== null)
    return false;
  // toJSON (Date, Buffer, custom) replaces the value on the way in; symbol keys are dropped.
  return (
    typeof (value as { toJSON?: unknown }).toJSON !== 'function' &&
    Object.getOwnPropertySymbols(value).length === 0
  );
}

/** Why JSON would not give `value` back as it is, or null when it would. */
function unsafeReason(value: unknown, inArray: boolean): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `is ${String(value)}, which JSON turns into null`;
    case 'undefined':
      return inArray ? 'is undefined, which JSON turns into null' : 'is undefined, which JSON drops';
    case 'bigint':
      return 'is a bigint, which JSON cannot represent';
    case 'function':
    case 'symbol':
      return `is a ${typeof value}, which JSON ${inArray ? 'turns into null' : 'drops'}`;
    default: {
      if (value === null || isPlainContainer(value as object)) return null;
      const name = (value as object).constructor?.name ?? 'object';
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
        return `is a ${name} with toJSON(), which JSON reads back as what toJSON() returned`;
      if (Object.getOwnPropertySymbols(value as object).length > 0)
        return 'has symbol keys, which JSON drops';
      return `is a ${name}, which JSON reads back as a plain object or array`;
    }
  }
}

// `this[key]` is the value before any toJSON() ran: a Date is seen as a Date, not its string.
function strictReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (unsafeReason(raw, Array.isArray(this)) !== null) throw UNSAFE;
  return value;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** The path and reason of the first value JSON would change, depth first as JSON.stringify goes. */
function findUnsafe(value: unknown, path: string, inArray: boolean, seen: Set<object>): string | null {
  const reason = unsafeReason(value, inArray);
  if (reason !== null) return `${path} ${reason}`;
  if (typeof value !== 'object' || value === null) return null;
  if (seen.has(value)) return `${path} is a circular reference, which JSON cannot represent`;
  seen.add(value);
  const isArray = Array.isArray(value);
  const keys = isArray ? value.keys() : Object.keys(value);
  for (const key of keys) {
    const child = isArray
      ? `${path}[${key}]`
      : IDENTIFIER.test(String(key))
        ? `${path}.${String(key)}`
        : `${path}[${JSON.stringify(key)}]`;
    const found = findUnsafe((value as Record<string | number, unknown>)[key], child, isArray, seen);
    if (found !== null) return found;
  }
  seen.delete(value);
  return null;
}

function unsafeValueError(value: unknown, cause: unknown): VersionedCacheTypeError {
  const found = findUnsafe(value, '$', false, new Set()) ?? '$ cannot be represented in JSON';
  return new VersionedCacheTypeError(
    'value',
    `the JSON codec stores only what it reads back equal: ${found}. Convert it first, or pass a codec that keeps it.`,
    { cause },
  );
}

/**
 * The default codec: JSON, refusing any value that would not read back equal to what was computed
 * (undefined, functions, symbols, bigint, NaN and Infinity, Date, Map, Set, class instances,
 * toJSON objects, symbol keys, cycles), so that a hit never answers something other than the miss
 * did. One JSON.stringify pass checks and encodes; the error names the path, as `$.items[3].at`.
 */
export const jsonCodec: Codec<unknown> = {
  encode: (value) => {
    let text: string | undefined;
    try {
      text = JSON.stringify(value, strictReplacer);
    } catch (error) {
      throw unsafeValueError(value, error === UNSAFE ? undefined : error);
    }
    // The replacer saw every value, so only a refused top-level value leaves text undefined.
    if (text === undefined) throw unsafeValueError(value, undefined);
    return Buffer.from(text);
  },
  decode: (bytes) => JSON.parse(bytes.toString('utf8')),
};

/** For values that already are bytes: stored and returned as they are. */
export const bufferCodec: Codec<Buffer> = {
  encode: (value) => value,
  decode: (bytes) => bytes,
};
