/**
 * The storage a cache needs, and nothing more: every method is one round trip to a remote store,
 * and none of them enumerates keys (no SCAN, KEYS or pattern deletes exist here by construction).
 */
export interface CacheStore {
  /** A short name for errors and events, such as `redis` or `memory`. */
  readonly kind: string;

  /**
   * True when every command of this store settles within the cache's timeout by itself (an
   * in-process store, or a Redis connection opened with that command timeout), so the cache need
   * not race a timer against each command on the hit path.
   */
  readonly boundsLatency?: boolean;

  /**
   * For a store spread over several nodes (Redis Cluster): the node serving `key`, so that a fault
   * of one node (its breaker) does not stop the others. Absent for a store of one node. A fault of a
   * step over several nodes names the failing one as the error's `node` property.
   */
  nodeOf?(key: string): string;

  /**
   * Reads several keys in one round trip; `null` where a key is missing. On Redis Cluster the keys
   * may span slots: the store then reads each slot concurrently.
   */
  getMany(keys: readonly string[]): Promise<(Buffer | null)[]>;

  /** Writes a value that expires after `ttlMs`. */
  set(key: string, value: Buffer, ttlMs: number): Promise<void>;

  /** Writes only when the key is absent (SET NX), with an optional TTL; true when written. */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;

  /**
   * Atomically bumps a namespace version: INCR when the key exists, otherwise sets `startIfMissing`,
   * because an INCR of a lost version would restart at 1 and could revive old entries.
   * Returns the new version.
   */
  bumpVersion(key: string, startIfMissing: string): Promise<string>;

  /** Atomically replaces `expected` by `next`; false when the key held something else. */
  compareAndSet(key: string, expected: string, next: string): Promise<boolean>;

  /** Deletes the key only while it still holds `expected` (releasing a lease we own). */
  deleteIfEquals(key: string, expected: string): Promise<boolean>;

  /** Releases connections the store opened itself. */
  close(): Promise<void>;
}
