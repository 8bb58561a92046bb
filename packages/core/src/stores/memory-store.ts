import { LRUCache } from 'lru-cache';
import { VersionedCacheError } from '../errors.js';
import { encodePreviousRecord, randomVersionStep, type VersionBump } from '../versions.js';
import type { BumpOptions, CacheStore, DurabilityRequest, LeaseGrant } from './store.js';

const FOREVER = Number.POSITIVE_INFINITY;
const INTEGER = /^-?\d+$/;
// Redis's INCRBY range: a version past it starts afresh in both stores alike.
const INT64_MAX = 2n ** 63n - 1n;

export interface MemoryStoreOptions {
  /**
   * Most entries kept; the least recently used go first.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * Most bytes of entry values kept.
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
}

/**
 * The embedded store for a single process: entries in a bounded LRU with TTLs; versions and leases
 * beside it, never evicted, because losing a version early only costs a miss but losing it while
 * entries remain is what the random start guards against anyway.
 */
export class MemoryStore implements CacheStore {
  readonly kind = 'memory';
  readonly latencyBoundMs = 0;
  private readonly entries: LRUCache<string, Buffer>;
  private readonly scalars = new Map<string, { value: string; expiresAt: number }>();

  constructor(options: MemoryStoreOptions = {}) {
    this.entries = new LRUCache<string, Buffer>({
      max: options.maxEntries ?? 10_000,
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (value, key) => value.byteLength + key.length,
      ttlAutopurge: false,
    });
  }

  async getMany(keys: readonly string[]): Promise<(Buffer | null)[]> {
    return keys.map((key) => this.read(key));
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    this.entries.set(key, value, { ttl: ttlMs });
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if (this.readScalar(key) !== undefined) return false;
    this.scalars.set(key, { value, expiresAt: ttlMs === undefined ? FOREVER : Date.now() + ttlMs });
    return true;
  }

  async bumpVersion(key: string, startIfMissing: string, options?: BumpOptions): Promise<string> {
    return (await this.advanceVersion(key, startIfMissing, options)).version;
  }

  async advanceVersion(key: string, startIfMissing: string, options: BumpOptions = {}): Promise<VersionBump> {
    const current = this.readScalar(key);
    const bumped =
      current !== undefined && INTEGER.test(current) ? BigInt(current) + BigInt(randomVersionStep()) : null;
    const version = bumped !== null && bumped <= INT64_MAX ? String(bumped) : startIfMissing;
    this.scalars.set(key, { value: version, expiresAt: FOREVER });
    if (current !== undefined && options.previousKey !== undefined) {
      this.scalars.set(options.previousKey, {
        value: encodePreviousRecord(current, version),
        expiresAt: FOREVER,
      });
    }
    assertNoReplicasAsked(key, version, options.durability);
    return { version, previous: current ?? null };
  }

  async compareAndSet(
    key: string,
    expected: string,
    next: string,
    previousKey?: string,
    durability?: DurabilityRequest,
  ): Promise<boolean> {
    if (this.readScalar(key) !== expected) return false;
    this.scalars.set(key, { value: next, expiresAt: FOREVER });
    if (previousKey !== undefined) {
      this.scalars.set(previousKey, { value: encodePreviousRecord(expected, next), expiresAt: FOREVER });
    }
    assertNoReplicasAsked(key, next, durability);
    return true;
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    if (this.readScalar(key) !== expected) return false;
    this.scalars.delete(key);
    return true;
  }

  async acquireLease(leaseKey: string, token: string, ttlMs: number, entryKey: string): Promise<LeaseGrant> {
    const acquired = await this.setIfAbsent(leaseKey, token, ttlMs);
    const entry = this.read(entryKey);
    if (acquired) return { acquired, entry };
    const holder = this.readScalar(leaseKey);
    return holder === undefined ? { acquired, entry } : { acquired, entry, holder };
  }

  async storeAndRelease(
    entryKey: string,
    bytes: Buffer,
    ttlMs: number,
    leaseKey: string,
    token: string,
  ): Promise<boolean> {
    await this.set(entryKey, bytes, ttlMs);
    return this.deleteIfEquals(leaseKey, token);
  }

  async renewLease(leaseKey: string, token: string, ttlMs: number): Promise<boolean> {
    const lease = this.scalars.get(leaseKey);
    if (this.readScalar(leaseKey) !== token || lease === undefined) return false;
    lease.expiresAt = Date.now() + ttlMs;
    return true;
  }

  /** Test and operations hook: forget a key, as Redis eviction or a restart would. */
  delete(key: string): void {
    this.scalars.delete(key);
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.scalars.clear();
  }

  private read(key: string): Buffer | null {
    const scalar = this.readScalar(key);
    if (scalar !== undefined) return Buffer.from(scalar);
    return this.entries.get(key) ?? null;
  }

  private readScalar(key: string): string | undefined {
    const scalar = this.scalars.get(key);
    if (scalar === undefined) return undefined;
    if (scalar.expiresAt <= Date.now()) {
      this.scalars.delete(key);
      return undefined;
    }
    return scalar.value;
  }
}

/** The memory store has no replicas: a write that must reach some is refused, as Redis's WAIT would. */
function assertNoReplicasAsked(
  key: string,
  version: string,
  durability: DurabilityRequest | undefined,
): void {
  const replicas = durability?.replicas ?? 0;
  if (replicas === 0) return;
  throw new VersionedCacheError(
    'VC_NOT_DURABLE',
    `versioned-cache: version ${version} of ${key} reached 0 of ${replicas} replicas: the memory store has none`,
  );
}
