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
import type { CacheStore, DurabilityRequest } from './stores/store.js';
import { type L1Options, type ResolvedL1Options, resolveL1Options } from './tier/l1-options.js';
import { assertFunction, assertInteger, assertKnownOptions, assertNumber, assertObject } from './validate.js';

export { assertKnownOptions } from './validate.js';

export interface LeaseOptions {
  /**
   * How long a fill lease lasts past its holder's last sign of life. The holder renews it every
   * third of this while it computes, so a long computation keeps it; a holder that dies, hangs or
   * loses Redis frees it within this (plus one `pollInterval` for a waiter to notice).
   * @default '1500ms'
   */
  ttl?: Duration;
  /**
   * The longest a request waits for another process's fill, however alive its holder, before
   * computing itself. Time waiting does not count against `timeout`: it is the holder's
   * computation, not Redis latency.
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
   * @default { ttl: '1500ms', maxWait: '10s', pollInterval: '20ms' }
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
  /**
   * Acknowledged means durable: an invalidation resolves only once `replicas` replicas hold the new
   * version (Redis WAIT, at most `timeout`), and rejects with `VC_NOT_DURABLE` otherwise. Needs
   * Redis with replicas; without it a failover can lose acknowledged invalidations (see
   * docs/operations.md).
   * @default false
   */
  durability?: DurabilityOptions | false;
  /**
   * An in-process tier in front of Redis: a hit whose namespace versions Redis client tracking
   * vouches for is served from memory with no round trip. `true` uses the default bounds. Needs the
   * `redis` option (standalone or Sentinel); Redis Cluster is refused at setup.
   * @default false
   */
  l1?: boolean | L1Options;
}

export interface DurabilityOptions {
  /** Replicas that must acknowledge each version bump. */
  replicas: number;
  /** Longest wait for them; on top of `timeout` for the bump itself. */
  timeout: Duration;
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
  durability: DurabilityRequest | false;
  /** Null when the tier is off. */
  l1: ResolvedL1Options | null;
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
  'durability',
  'l1',
  ...BREAKER_OPTION_NAMES,
]);

/** Upper bounds of options; those that arm timers stay below a Node.js timer's limit (MAX_TIMER_MS). */
export const OPTION_LIMITS = {
  timeoutMs: 60_000,
  leaseTtlMs: 3_600_000,
  leaseMaxWaitMs: 3_600_000,
  pollIntervalMs: 60_000,
  invalidationIntervalMs: 86_400_000,
  durabilityTimeoutMs: 60_000,
  maxReplicas: 64,
  maxEntries: 100_000_000,
  maxBytes: 2 ** 40,
} as const satisfies Record<string, number>;

const STORE_METHODS = [
  'getMany',
  'set',
  'setIfAbsent',
  'bumpVersion',
  'advanceVersion',
  'compareAndSet',
  'deleteIfEquals',
  'acquireLease',
  'storeAndRelease',
  'renewLease',
  'close',
] as const;

function resolveLease(value: unknown): ResolvedLease | false {
  if (value === false) return false;
  const lease = value === undefined ? {} : (assertObject('lease', value) as LeaseOptions);
  assertKnownOptions('lease', lease, new Set(['ttl', 'maxWait', 'pollInterval']));
  return {
    ttlMs: parseDuration('lease.ttl', lease.ttl ?? '1500ms', { max: OPTION_LIMITS.leaseTtlMs }),
    maxWaitMs: parseDuration('lease.maxWait', lease.maxWait ?? '10s', {
      allowZero: true,
      max: OPTION_LIMITS.leaseMaxWaitMs,
    }),
    pollMs: parseDuration('lease.pollInterval', lease.pollInterval ?? '20ms', {
      max: OPTION_LIMITS.pollIntervalMs,
    }),
  };
}

function resolveDurability(value: unknown, hasReplicas: boolean): DurabilityRequest | false {
  if (value === undefined || value === false) return false;
  const durability = assertObject('durability', value);
  assertKnownOptions('durability', durability, new Set(['replicas', 'timeout']));
  if (durability.replicas === undefined || durability.timeout === undefined) {
    throw new VersionedCacheTypeError('durability', 'needs both replicas and timeout, or false');
  }
  const resolved = {
    replicas: assertInteger('durability.replicas', durability.replicas, 1, OPTION_LIMITS.maxReplicas),
    timeoutMs: parseDuration('durability.timeout', durability.timeout, {
      max: OPTION_LIMITS.durabilityTimeoutMs,
    }),
  };
  // Refused here rather than by every invalidation later: an in-memory store has no replicas.
  if (!hasReplicas) {
    throw new VersionedCacheTypeError(
      'durability',
      'needs Redis with replicas; the in-memory store has none',
    );
  }
  return resolved;
}

function checkRedis(value: unknown): RedisInput | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (value.trim().length === 0) throw new VersionedCacheTypeError('redis', 'must not be an empty URL');
    return value;
  }
  return assertObject('redis', value) as RedisInput;
}

function checkStore(value: unknown): CacheStore | undefined {
  if (value === undefined) return undefined;
  const store = assertObject('store', value);
  for (const method of STORE_METHODS) assertFunction(`store.${method}`, store[method]);
  return store as unknown as CacheStore;
}

function checkMemory(value: unknown): MemoryStoreOptions {
  if (value === undefined) return {};
  const memory = assertObject('memory', value) as MemoryStoreOptions;
  assertKnownOptions('memory', memory, new Set(['maxEntries', 'maxBytes']));
  if (memory.maxEntries !== undefined)
    assertInteger('memory.maxEntries', memory.maxEntries, 1, OPTION_LIMITS.maxEntries);
  if (memory.maxBytes !== undefined)
    assertInteger('memory.maxBytes', memory.maxBytes, 1, OPTION_LIMITS.maxBytes);
  return memory;
}

/**
 * Applies defaults and validates; every mistake is a TypeError (wrong kind of value) or a RangeError
 * (out of bounds) that names the field, thrown here rather than on some later request.
 */
export function resolveCacheOptions(input: CacheOptions = {}): ResolvedCacheOptions {
  const options = assertObject('options', input) as CacheOptions;
  assertKnownOptions('options', options, CACHE_OPTION_NAMES);
  if (options.redis !== undefined && options.store !== undefined) {
    throw new VersionedCacheTypeError('store', 'give either redis or store, not both');
  }
  const redis = checkRedis(options.redis);
  const store = checkStore(options.store);
  const memory = checkMemory(options.memory);
  if (options.memory !== undefined && (redis !== undefined || store !== undefined)) {
    throw new VersionedCacheTypeError(
      'memory',
      'applies to the in-memory store only, not with redis or store',
    );
  }
  const jitter = options.jitter === undefined ? 0.1 : assertNumber('jitter', options.jitter, 0, 1);
  return {
    redis,
    store,
    memory,
    prefix: assertPrefix(options.prefix ?? 'vc'),
    ttlMs: parseDuration('ttl', options.ttl ?? '5m'),
    jitter,
    timeoutMs: parseDuration('timeout', options.timeout ?? '250ms', { max: OPTION_LIMITS.timeoutMs }),
    lease: resolveLease(options.lease),
    invalidationIntervalMs: parseDuration('invalidationInterval', options.invalidationInterval ?? 0, {
      allowZero: true,
      max: OPTION_LIMITS.invalidationIntervalMs,
    }),
    onError:
      options.onError === undefined
        ? undefined
        : assertFunction<(error: VersionedCacheError) => void>('onError', options.onError),
    durability: resolveDurability(
      options.durability,
      redis !== undefined || (store !== undefined && store.kind !== 'memory'),
    ),
    l1: resolveL1Options(options.l1, options),
    ...resolveBreakerOptions(options),
  };
}
