import type { VersionBump } from '../versions.js';

/** Replicas that must hold a write before it is acknowledged (Redis WAIT). */
export interface DurabilityRequest {
  /** How many replicas must acknowledge. */
  replicas: number;
  /** Longest wait for them, in milliseconds. */
  timeoutMs: number;
}

export interface BumpOptions {
  /**
   * Where to record the replaced version as `<previous>><version>`, in the same atomic step. Must
   * hash to the version key's slot (the namespace's hash tag).
   */
  previousKey?: string;
  /** Resolve only once the bump reached this many replicas, else reject with `VC_NOT_DURABLE`. */
  durability?: DurabilityRequest;
}

/** What `acquireLease` found: whether it took the lease, the entry as it is now, and the holder. */
export interface LeaseGrant {
  acquired: boolean;
  /** The entry read in the same atomic step: a fill that landed just before the lease was asked for. */
  entry: Buffer | null;
  /** The token of whoever holds the lease, when it was not acquired (absent if it just expired). */
  holder?: string;
}

/**
 * The storage a cache needs, and nothing more: every method is one round trip to a remote store,
 * and none of them enumerates keys (no SCAN, KEYS or pattern deletes exist here by construction).
 */
export interface CacheStore {
  /** A short name for errors and events, such as `redis` or `memory`. */
  readonly kind: string;

  /**
   * Set when every command of this store settles by itself within this many milliseconds of being
   * called (0: an in-process store, which answers at once). A step with at least that much of its
   * call's budget left then runs without a timer of the cache's own, so a hit arms none. Leave it
   * unset when a client's queue can hold a command past its own timeout (auto-pipelining does).
   */
  readonly latencyBoundMs?: number;

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
   * Atomically bumps a namespace version by a random step (see `randomVersionStep`) when the key
   * holds an integer, otherwise sets `startIfMissing`, because an INCR of a lost version would
   * restart at 1 and could revive old entries. Returns the new version.
   */
  bumpVersion(key: string, startIfMissing: string, options?: BumpOptions): Promise<string>;

  /** `bumpVersion`, answering with the replaced version too. */
  advanceVersion(key: string, startIfMissing: string, options?: BumpOptions): Promise<VersionBump>;

  /**
   * Atomically replaces `expected` by `next`; false when the key held something else. With
   * `previousKey`, records `expected` there as the previous version, in the same step. With
   * `durability`, a replacement resolves only once that many replicas hold it, else rejects with
   * `VC_NOT_DURABLE` (as `advanceVersion` does).
   */
  compareAndSet(
    key: string,
    expected: string,
    next: string,
    previousKey?: string,
    durability?: DurabilityRequest,
  ): Promise<boolean>;

  /** Deletes the key only while it still holds `expected` (releasing a lease we own). */
  deleteIfEquals(key: string, expected: string): Promise<boolean>;

  /**
   * Takes a fill lease (SET NX PX) and reads the entry, in one atomic round trip, so that the
   * re-check for a fill that landed just before costs nothing extra. `entryKey` shares the lease's
   * hash slot.
   */
  acquireLease(leaseKey: string, token: string, ttlMs: number, entryKey: string): Promise<LeaseGrant>;

  /**
   * Writes the entry and releases the lease if it still holds `token`, in one atomic round trip.
   * True when the lease was ours and is released; the entry is written either way.
   */
  storeAndRelease(
    entryKey: string,
    bytes: Buffer,
    ttlMs: number,
    leaseKey: string,
    token: string,
  ): Promise<boolean>;

  /** Extends the lease to `ttlMs` from now, only while it holds `token`; true when extended. */
  renewLease(leaseKey: string, token: string, ttlMs: number): Promise<boolean>;

  /** Releases connections the store opened itself. */
  close(): Promise<void>;
}
