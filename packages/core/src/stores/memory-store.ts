import { LRUCache } from 'lru-cache';
import type { CacheStore } from './store.js';

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
  readonly boundsLatency = true;
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
    return keys.map((key) => {
      const scalar = this.readScalar(key);
      if (scalar !== undefined) return Buffer.from(scalar);
      return this.entries.get(key) ?? null;
    });
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    this.entries.set(key, value, { ttl: ttlMs });
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if (this.readScalar(key) !== undefined) return false;
    this.scalars.set(key, {
      value,
      expiresAt: ttlMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + ttlMs,
    });
    return true;
  }

  async bumpVersion(key: string, startIfMissing: string): Promise<string> {
    const current = this.readScalar(key);
    const next =
      current === undefined || !/^-?\d+$/.test(current) ? startIfMissing : String(BigInt(current) + 1n);
    this.scalars.set(key, { value: next, expiresAt: Number.POSITIVE_INFINITY });
    return next;
  }

  async compareAndSet(key: string, expected: string, next: string): Promise<boolean> {
    if (this.readScalar(key) !== expected) return false;
    this.scalars.set(key, { value: next, expiresAt: Number.POSITIVE_INFINITY });
    return true;
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    if (this.readScalar(key) !== expected) return false;
    this.scalars.delete(key);
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
