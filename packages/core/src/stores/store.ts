/**
 * The storage a cache needs, and nothing more: every method is one round trip to a remote store,
 * and none of them enumerates keys (no SCAN, KEYS or pattern deletes exist here by construction).
 */
export interface CacheStore {
  /** A short name for errors and events, such as `redis` or `memory`. */
  readonly kind: string;

  /**
   * True when every command of this store settles at once by itself, without waiting in any queue
   * (an in-process store), so the cache need not race a timer against each command on the hit path.
   * A network store leaves it false: a client's queue can hold a command past any command timeout.
   */
  readonly boundsLatency?: boolean;

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
