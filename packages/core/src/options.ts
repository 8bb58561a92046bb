import type { Duration } from './duration.js';
import { parseDuration } from './duration.js';
import {
  BREAKER_OPTION_NAMES,
  type BreakerCacheOptions,
  type ResolvedBreakerCacheOptions,
  resolveBreakerOptions,
} from './engine/breaker-options.js';
import type { VersionedCacheError } from './errors.js';
import { VersionedCacheTypeError } from './errors.js';
import { assertPrefix } from './keys.js';
import type { MemoryStoreOptions } from './stores/memory-store.js';
import type { RedisInput } from './stores/redis-store.js';
import type { CacheStore } from './stores/store.js';

export interface LeaseOptions {
  /**
   * How long a fill lease lasts: if its holder dies or hangs, others compute after this.
   * @default '10s'
   */
  ttl?: Duration;
  /**
   * The longest a request waits for another process's fill before computing itself.
   * Keep it at least `ttl` so that a dead holder costs one more computation, not one per waiter.
   * @default '10s'
   */
  maxWait?: Duration;
  /**
   * How often a waiter checks whether the entry has appeared.
   * @default '20ms'
   */
  pollInterval?: Duration;
}

export interface CacheOptions extends BreakerCacheOptions {
  /**
   * Redis to use: a URL (`redis://…`, `rediss://…`), ioredis options (Sentinel included), or an
   * ioredis `Redis` or `Cluster` instance, which the cache uses but never closes.
   * Without it (and without `store`) entries live in the embedded, bounded in-memory store.
   * @default undefined
   */
  redis?: RedisInput;
  /**
   * A custom store instead of Redis or memory.
   * @default undefined
   */
  store?: CacheStore;
  /**
   * Limits of the embedded in-memory store.
   * @default { maxEntries: 10000, maxBytes: 64 MiB }
   */
  memory?: MemoryStoreOptions;
  /**
   * Prefix of every key the cache writes, so that several apps can share one Redis.
   * @default 'vc'
   */
  prefix?: string;
  /**
   * How long entries stay fresh unless a call says otherwise.
   * @default '5m'
   */
  ttl?: Duration;
  /**
   * Fraction of the TTL taken off at random per entry, so that entries written together do not
   * expire together. 0 turns it off.
   * @default 0.1
   */
  jitter?: number;
  /**
   * Longest wait for one Redis command; past it the cache fails open (computes) and reports.
   * @default '250ms'
   */
  timeout?: Duration;
  /**
   * Fill leases across processes (one computes, the others wait or serve stale), or `false`.
   * @default { ttl: '10s', maxWait: '10s', pollInterval: '20ms' }
   */
  lease?: LeaseOptions | false;
  /**
   * Shortest interval between two version bumps of one namespace from this process: bursts of
   * invalidations are coalesced into one trailing bump. 0 bumps on every call.
   * @default 0
   */
  invalidationInterval?: Duration;
  /**
   * Called for every fault the cache absorbs (Redis down or slow, undecodable entries, failed
   * background refreshes). Listeners added with `cache.on('error')` are called too.
   * @default a process warning, at most once a minute per error code
   */
  onError?: (error: VersionedCacheError) => void;
}

export interface ResolvedLease {
  ttlMs: number;
  maxWaitMs: number;
  pollMs: number;
}

export interface ResolvedCacheOptions extends ResolvedBreakerCacheOptions {
  redis: RedisInput | undefined;
  store: CacheStore | undefined;
  memory: MemoryStoreOptions;
  prefix: string;
  ttlMs: number;
  jitter: number;
  timeoutMs: number;
  lease: ResolvedLease | false;
  invalidationIntervalMs: number;
  onError: ((error: VersionedCacheError) => void) | undefined;
}

const CACHE_OPTION_NAMES = new Set<string>([
  'redis',
  'store',
  'memory',
  'prefix',
  'ttl',
  'jitter',
  'timeout',
  'lease',
  'invalidationInterval',
  'onError',
  ...BREAKER_OPTION_NAMES,
]);

export function assertKnownOptions(field: string, value: object, known: ReadonlySet<string>): void {
  for (const name of Object.keys(value)) {
    if (!known.has(name)) throw new VersionedCacheTypeError(`${field}.${name}`, 'is not a known option');
  }
}

function assertPositiveInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new VersionedCacheTypeError(field, 'must be a positive integer');
  }
  return value;
}

function resolveLease(value: CacheOptions['lease']): ResolvedLease | false {
  if (value === false) return false;
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new VersionedCacheTypeError('lease', 'must be an object or false');
  }
  const lease = value ?? {};
  assertKnownOptions('lease', lease, new Set(['ttl', 'maxWait', 'pollInterval']));
  return {
    ttlMs: parseDuration('lease.ttl', lease.ttl ?? '10s'),
    maxWaitMs: parseDuration('lease.maxWait', lease.maxWait ?? '10s', { allowZero: true }),
    pollMs: parseDuration('lease.pollInterval', lease.pollInterval ?? '20ms'),
  };
}

/** Applies defaults and validates; every mistake is a TypeError that names the field. */
export function resolveCacheOptions(options: CacheOptions = {}): ResolvedCacheOptions {
  if (typeof options !== 'object' || options === null) {
    throw new VersionedCacheTypeError('options', 'must be an object');
  }
  assertKnownOptions('options', options, CACHE_OPTION_NAMES);
  if (options.redis !== undefined && options.store !== undefined) {
    throw new VersionedCacheTypeError('store', 'give either redis or store, not both');
  }
  if (options.redis !== undefined && typeof options.redis !== 'string' && typeof options.redis !== 'object') {
    throw new VersionedCacheTypeError('redis', 'must be a URL, ioredis options, or an ioredis client');
  }
  const memory = options.memory ?? {};
  assertKnownOptions('memory', memory, new Set(['maxEntries', 'maxBytes']));
  if (memory.maxEntries !== undefined) assertPositiveInteger('memory.maxEntries', memory.maxEntries);
  if (memory.maxBytes !== undefined) assertPositiveInteger('memory.maxBytes', memory.maxBytes);
  const jitter = options.jitter ?? 0.1;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) {
    throw new VersionedCacheTypeError('jitter', 'must be a number from 0 to below 1');
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new VersionedCacheTypeError('onError', 'must be a function');
  }
  return {
    redis: options.redis,
    store: options.store,
    memory,
    prefix: assertPrefix(options.prefix ?? 'vc'),
    ttlMs: parseDuration('ttl', options.ttl ?? '5m'),
    jitter,
    timeoutMs: parseDuration('timeout', options.timeout ?? '250ms'),
    lease: resolveLease(options.lease),
    invalidationIntervalMs: parseDuration('invalidationInterval', options.invalidationInterval ?? 0, {
      allowZero: true,
    }),
    onError: options.onError,
    ...resolveBreakerOptions(options),
  };
}
