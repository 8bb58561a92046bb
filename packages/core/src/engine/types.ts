import type { Codec } from '../codec.js';
import type { Duration } from '../duration.js';

/** What happened to one lookup; the HTTP layer sends it as `X-Cache`. */
export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'BYPASS';

export type Namespaces = string | readonly string[];

/** Passed to `compute`: `background` is true for a refresh whose caller was already answered (stale). */
export interface ComputeContext {
  background: boolean;
}

export interface GetOrSetOptions<T> {
  /**
   * How long the entry is fresh; a function decides from the computed value.
   * @default the cache's `ttl`
   */
  ttl?: Duration | ((value: T) => Duration);
  /**
   * How long past freshness, or after an invalidation, the entry may still be served as STALE while
   * one refresh runs in the background; also served instead of a failed computation.
   * @default 0 (never stale)
   */
  grace?: Duration;
  /**
   * Probabilistic early refresh (XFetch): `true` or a beta factor (higher refreshes earlier).
   * @default false
   */
  earlyRefresh?: boolean | number;
  /**
   * How values become bytes.
   * @default JSON
   */
  codec?: Codec<T>;
  /**
   * Whether a computed value may be stored; a value that may not is returned to its caller only,
   * and concurrent callers compute their own.
   * @default always
   */
  shouldStore?: (value: T) => boolean;
  /**
   * false: when another caller holds this entry's lease for a background refresh, do not wait for
   * it; compute at once (used by lookups that cannot serve stale themselves).
   * @default true
   */
  waitForRefresh?: boolean;
  /**
   * A bounded name for this call site (for example `'daily-report'`, or an HTTP route pattern), carried
   * by the diagnostics events and used as the `route` metric label. Never put request data in it.
   * @default undefined
   */
  label?: string;
}

export interface CacheResult<T> {
  value: T;
  status: CacheStatus;
  /** Epoch milliseconds when the value was computed. */
  createdAt: number;
  /** Whether this call's computation was stored (false on hits). */
  stored: boolean;
}

export interface InvalidateOptions {
  /**
   * Compute the registered warmers' entries for the new version before publishing it, so that no
   * reader sees the miss.
   * @default false
   */
  warm?: boolean;
  /**
   * When the version bump cannot be made (Redis down or timing out, its breaker open, no master for
   * the slot): 'reject' the call, or 'recover': resolve, keep the namespace pending and retry until
   * the bump lands; meanwhile this process bypasses the namespace (see docs/breaker.md).
   * @default 'reject'
   */
  onFailure?: 'reject' | 'recover';
}

export interface Warmer {
  namespaces: Namespaces;
  key: string;
  compute: () => Promise<unknown> | unknown;
  options?: GetOrSetOptions<unknown>;
}
