import { type Duration, parseDuration } from '../duration.js';
import { VersionedCacheTypeError } from '../errors.js';
import { assertInteger, assertKnownOptions, assertObject } from '../validate.js';

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

/** Upper bounds: past them an option is a mistake (a breaker that never probes, a queue without end). */
const LIMITS = { threshold: 1_000, coolDownMs: 3_600_000, max: 1_000_000, maxRetryDelayMs: 3_600_000 };

function checkedObject(field: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  const object = value === undefined ? {} : assertObject(field, value);
  assertKnownOptions(field, object, new Set(known));
  return object;
}

/** Applies defaults and validates; a mistake is a TypeError naming the field and the value. */
export function resolveBreakerOptions(options: BreakerCacheOptions): ResolvedBreakerCacheOptions {
  const { breaker, pendingInvalidations } = options;
  let resolved: ResolvedBreaker | false = false;
  if (breaker !== false) {
    if (breaker === null || (breaker !== undefined && typeof breaker !== 'object')) {
      throw new VersionedCacheTypeError('breaker', `must be an object or false, got ${String(breaker)}`);
    }
    const given = checkedObject('breaker', breaker, ['threshold', 'coolDown']);
    resolved = {
      threshold:
        given.threshold === undefined
          ? 3
          : assertInteger('breaker.threshold', given.threshold, 1, LIMITS.threshold),
      coolDownMs: parseDuration('breaker.coolDown', given.coolDown ?? '500ms', { max: LIMITS.coolDownMs }),
    };
  }
  const pending = checkedObject('pendingInvalidations', pendingInvalidations, ['max', 'maxRetryDelay']);
  return {
    breaker: resolved,
    pendingInvalidations: {
      max:
        pending.max === undefined
          ? 1000
          : assertInteger('pendingInvalidations.max', pending.max, 1, LIMITS.max),
      maxRetryDelayMs: parseDuration('pendingInvalidations.maxRetryDelay', pending.maxRetryDelay ?? '2s', {
        max: LIMITS.maxRetryDelayMs,
      }),
    },
  };
}
