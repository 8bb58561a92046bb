import { VersionedCacheRangeError, VersionedCacheTypeError } from './errors.js';

/** A duration: milliseconds as a number, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** The longest duration any option takes unless it says otherwise: one year. */
export const MAX_DURATION_MS = 365 * UNIT_MS.d;
/** Longest delay a Node.js timer honours (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface DurationBounds {
  /** Whether 0 is accepted. @default false */
  allowZero?: boolean;
  /** Largest accepted value, in milliseconds. @default MAX_DURATION_MS (one year) */
  max?: number;
}

/**
 * Parses a Duration into whole milliseconds. A value that is not a positive (or, with `allowZero`,
 * non-negative) finite duration is a TypeError naming `field`; one above `max` is a RangeError
 * naming `field` and the value.
 */
export function parseDuration(
  field: string,
  value: unknown,
  { allowZero = false, max = MAX_DURATION_MS }: DurationBounds = {},
): number {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string') {
    const match = DURATION_PATTERN.exec(value.trim());
    if (!match)
      throw new VersionedCacheTypeError(field, `expected a duration such as '30s' or 5000, got '${value}'`);
    ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  } else {
    throw new VersionedCacheTypeError(
      field,
      `expected a duration (milliseconds or a string such as '30s'), got ${describeValue(value)}`,
    );
  }
  // Checked after rounding: 0.4 would otherwise pass as positive and become 0 ms (a timeout that
  // fails every command, a TTL Redis rejects).
  const rounded = Math.round(ms);
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && rounded === 0)) {
    throw new VersionedCacheTypeError(
      field,
      `must be a ${allowZero ? 'non-negative' : 'positive'} duration of whole milliseconds, got ${String(value)}`,
    );
  }
  if (rounded > max) {
    throw new VersionedCacheRangeError(field, `must be at most ${max} ms, got ${String(value)}`);
  }
  return rounded;
}

/** How a bad value reads in an error message: its type, and the value itself when short. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? 'a long string' : `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return `${typeof value} ${String(value)}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}
