import type { Codec } from './codec.js';
import { type Duration, describeValue, MAX_DURATION_MS, parseDuration } from './duration.js';
import { VersionedCacheRangeError, VersionedCacheTypeError } from './errors.js';
import { assertNamespace } from './keys.js';

// Pure checks of arguments, shared by the factory (options.ts) and the per-call paths of the engine.
// Each throws a TypeError (not a value the option takes: wrong type, below its minimum, not finite)
// or a RangeError (above its upper bound) whose message and `field` name the option.

/** A plain object (not null, not an array); `null` gets its own message because it is a common slip. */
export function assertObject(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VersionedCacheTypeError(field, `must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

export function assertKnownOptions(field: string, value: object, known: ReadonlySet<string>): void {
  for (const name of Object.keys(value)) {
    if (!known.has(name)) throw new VersionedCacheTypeError(`${field}.${name}`, 'is not a known option');
  }
}

export function assertBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new VersionedCacheTypeError(field, `must be true or false, got ${describeValue(value)}`);
  }
  return value;
}

export function assertFunction<F extends (...args: never[]) => unknown>(field: string, value: unknown): F {
  if (typeof value !== 'function') {
    throw new VersionedCacheTypeError(field, `must be a function, got ${describeValue(value)}`);
  }
  return value as F;
}

/** An integer in `[min, max]`: a TypeError for a non-integer or below `min`, a RangeError above `max`. */
export function assertInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new VersionedCacheTypeError(
      field,
      `must be an integer of at least ${min}, got ${describeValue(value)}`,
    );
  }
  if (value > max) {
    throw new VersionedCacheRangeError(field, `must be from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/** A finite number in `[min, max)` (or `[min, max]` with `inclusive`). */
export function assertNumber(
  field: string,
  value: unknown,
  min: number,
  max: number,
  inclusive = false,
): number {
  if (typeof value !== 'number' || !(value >= min)) {
    throw new VersionedCacheTypeError(field, `must be a number from ${min}, got ${describeValue(value)}`);
  }
  if (!(inclusive ? value <= max : value < max)) {
    throw new VersionedCacheRangeError(
      field,
      `must be from ${min} to ${inclusive ? '' : 'below '}${max}, got ${String(value)}`,
    );
  }
  return value;
}

/** An object with `encode` and `decode` functions. */
export function assertCodec<T>(field: string, value: unknown): Codec<T> {
  const codec = assertObject(field, value);
  if (typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
    throw new VersionedCacheTypeError(field, 'must have encode(value) and decode(bytes) functions');
  }
  return codec as unknown as Codec<T>;
}

/** The longest a per-call `ttl` or `grace` may be (as for the cache's `ttl`): one year. */
export const MAX_ENTRY_TTL_MS = MAX_DURATION_MS;
/**
 * Largest XFetch beta. A very large one is legitimate (every hit in the last hours of a TTL
 * refreshes ahead: the drills rely on it for exact counts); the bound only keeps the arithmetic finite.
 */
export const MAX_EARLY_REFRESH_BETA = 1e12;

/** `getOrSet` / `fetch` options after validation: durations in ms, defaults left to the engine. */
export interface CheckedCallOptions<T> {
  /** Milliseconds, a function to resolve with `resolveTtl`, or undefined for the cache's ttl. */
  ttl: number | ((value: T) => Duration) | undefined;
  graceMs: number;
  /** 0 when early refresh is off. */
  earlyBeta: number;
  codec: Codec<T> | undefined;
  shouldStore: ((value: T) => boolean) | undefined;
  waitForRefresh: boolean | undefined;
}

const CALL_OPTION_NAMES = new Set([
  'ttl',
  'grace',
  'earlyRefresh',
  'codec',
  'shouldStore',
  'waitForRefresh',
  // A metrics label: checked where events use it (engine/events.ts).
  'label',
]);

/**
 * Validates `getOrSet` / `fetch` options. `undefined` means none; `null` and non-objects are a
 * TypeError naming `options` (the third-argument slip `fetch(key, loader, null)`).
 */
export function checkCallOptions<T>(value: unknown): CheckedCallOptions<T> {
  if (value === undefined) {
    return {
      ttl: undefined,
      graceMs: 0,
      earlyBeta: 0,
      codec: undefined,
      shouldStore: undefined,
      waitForRefresh: undefined,
    };
  }
  const options = assertObject('options', value);
  assertKnownOptions('options', options, CALL_OPTION_NAMES);
  const { ttl, grace, earlyRefresh, codec, shouldStore, waitForRefresh } = options;
  let earlyBeta = 0;
  if (earlyRefresh === true) earlyBeta = 1;
  else if (earlyRefresh !== undefined && earlyRefresh !== false) {
    if (typeof earlyRefresh !== 'number') {
      throw new VersionedCacheTypeError(
        'earlyRefresh',
        `must be a boolean or a non-negative number, got ${describeValue(earlyRefresh)}`,
      );
    }
    earlyBeta = assertNumber('earlyRefresh', earlyRefresh, 0, MAX_EARLY_REFRESH_BETA, true);
  }
  return {
    ttl:
      ttl === undefined
        ? undefined
        : typeof ttl === 'function'
          ? (ttl as (value: T) => Duration)
          : parseDuration('ttl', ttl, { max: MAX_ENTRY_TTL_MS }),
    graceMs:
      grace === undefined ? 0 : parseDuration('grace', grace, { allowZero: true, max: MAX_ENTRY_TTL_MS }),
    earlyBeta,
    codec: codec === undefined ? undefined : assertCodec<T>('codec', codec),
    shouldStore:
      shouldStore === undefined
        ? undefined
        : assertFunction<(value: T) => boolean>('shouldStore', shouldStore),
    waitForRefresh:
      waitForRefresh === undefined ? undefined : assertBoolean('waitForRefresh', waitForRefresh),
  };
}

/** The TTL a `ttl` function returned for a computed value, bounded like a static one. */
export function resolveTtl(value: unknown): number {
  return parseDuration('ttl', value, { max: MAX_ENTRY_TTL_MS });
}

/** Validates `invalidate(ns, options)` options: `warm` must be a real boolean (`'no'` is truthy). */
export function checkInvalidateOptions(value: unknown): { warm: boolean; onFailure: unknown } {
  if (value === undefined) return { warm: false, onFailure: undefined };
  const options = assertObject('invalidate options', value);
  assertKnownOptions('invalidate options', options, new Set(['warm', 'onFailure']));
  const warm = options.warm === undefined ? false : assertBoolean('warm', options.warm);
  // `onFailure` is checked by the engine against the cache's durability (pending-invalidations.ts).
  return { warm, onFailure: options.onFailure };
}

/**
 * The one namespace `version(ns)` answers for. A list is rejected rather than answered for its
 * first name only, which would read as the version of all of them.
 */
export function checkSingleNamespace(value: unknown, field = 'namespace'): string {
  if (Array.isArray(value)) {
    throw new VersionedCacheTypeError(
      field,
      'must be one namespace name; version() answers for one namespace',
    );
  }
  return assertNamespace(value, field);
}

/** The `compute` / loader argument of `getOrSet` and `fetch`. */
export function checkCompute<F extends (...args: never[]) => unknown>(value: unknown): F {
  return assertFunction<F>('compute', value);
}
