import { type Duration, parseDuration } from '../duration.js';
import { VersionedCacheTypeError } from '../errors.js';

export interface BreakerOptions {
  /**
   * Consecutive failed or timed-out store steps on one Redis node that open its breaker. Past it,
   * calls on that node skip Redis at once (they compute) instead of each waiting for the timeout.
   * @default 3
   */
  threshold?: number;
  /**
   * How long an open breaker skips its node before one probe is let through (half-open). A failed
   * probe costs one call one timeout; recovery is noticed at most this long after Redis is back.
   * @default '500ms'
   */
  coolDown?: Duration;
}

export interface PendingInvalidationOptions {
  /**
   * Namespaces whose failed invalidation (`onFailure: 'recover'`) may wait for retry at once; one
   * more is rejected and reported (`VC_INVALIDATION_QUEUE_FULL`). Repeats of a pending namespace
   * take no room.
   * @default 1000
   */
  max?: number;
  /**
   * Longest pause between two retries of the pending invalidations (the backoff doubles from 50 ms
   * up to it). A breaker that half-opens on the node retries at once.
   * @default '2s'
   */
  maxRetryDelay?: Duration;
}

/** The options of `createCache` that belong to the breaker and to pending invalidations. */
export interface BreakerCacheOptions {
  /**
   * A circuit breaker per Redis node (per connection; per master on Redis Cluster), or `false`.
   * @default { threshold: 3, coolDown: '500ms' }
   */
  breaker?: BreakerOptions | false;
  /**
   * Bounds of the queue of invalidations that could not be made and wait for retry.
   * @default { max: 1000, maxRetryDelay: '2s' }
   */
  pendingInvalidations?: PendingInvalidationOptions;
}

export interface ResolvedBreaker {
  threshold: number;
  coolDownMs: number;
}

export interface ResolvedPendingInvalidations {
  max: number;
  maxRetryDelayMs: number;
}

export interface ResolvedBreakerCacheOptions {
  breaker: ResolvedBreaker | false;
  pendingInvalidations: ResolvedPendingInvalidations;
}

export const BREAKER_OPTION_NAMES = ['breaker', 'pendingInvalidations'] as const;

function assertObject(field: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VersionedCacheTypeError(field, `must be an object${field === 'breaker' ? ' or false' : ''}`);
  }
  for (const name of Object.keys(value)) {
    if (!known.includes(name)) throw new VersionedCacheTypeError(`${field}.${name}`, 'is not a known option');
  }
  return value as Record<string, unknown>;
}

function positiveInteger(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new VersionedCacheTypeError(field, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Applies defaults and validates; a mistake is a TypeError naming the field and the value. */
export function resolveBreakerOptions(options: BreakerCacheOptions): ResolvedBreakerCacheOptions {
  const { breaker, pendingInvalidations } = options;
  let resolved: ResolvedBreaker | false = false;
  if (breaker !== false) {
    const given = assertObject('breaker', breaker === undefined ? {} : breaker, ['threshold', 'coolDown']);
    resolved = {
      threshold: positiveInteger('breaker.threshold', given.threshold, 3),
      coolDownMs: parseDuration('breaker.coolDown', given.coolDown ?? '500ms'),
    };
  }
  const pending = assertObject(
    'pendingInvalidations',
    pendingInvalidations === undefined ? {} : pendingInvalidations,
    ['max', 'maxRetryDelay'],
  );
  return {
    breaker: resolved,
    pendingInvalidations: {
      max: positiveInteger('pendingInvalidations.max', pending.max, 1000),
      maxRetryDelayMs: parseDuration('pendingInvalidations.maxRetryDelay', pending.maxRetryDelay ?? '2s'),
    },
  };
}
