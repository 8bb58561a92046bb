import { VersionedCacheTypeError } from './errors.js';

/** A duration: milliseconds as a number, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses a Duration into whole milliseconds; throws a TypeError naming `field` when it is not one. */
export function parseDuration(field: string, value: unknown, { allowZero = false } = {}): number {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string') {
    const match = DURATION_PATTERN.exec(value.trim());
    if (!match)
      throw new VersionedCacheTypeError(field, `expected a duration such as '30s' or 5000, got '${value}'`);
    ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  } else {
    throw new VersionedCacheTypeError(field, `expected a duration (milliseconds or a string such as '30s')`);
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
  return rounded;
}
