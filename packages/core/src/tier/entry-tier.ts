import { LRUCache } from 'lru-cache';
import type { Entry } from '../envelope.js';

/** Bookkeeping bytes per kept entry beside payload and key, so that tiny entries still count. */
const ENTRY_OVERHEAD_BYTES = 96;

/**
 * Entries in process memory, bounded by count and bytes, keyed by the full entry key. The key embeds
 * every namespace version, so a version change is a miss by construction: nothing here is ever
 * invalidated, entries of dead generations only age out.
 */
export class EntryTier {
  private readonly entries: LRUCache<string, Entry>;

  constructor(options: { maxEntries: number; maxBytes: number }) {
    this.entries = new LRUCache<string, Entry>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (entry, key) => entry.payload.byteLength + key.length * 2 + ENTRY_OVERHEAD_BYTES,
      ttlAutopurge: false,
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /** A fresh entry, or undefined; an expired one is dropped rather than served. */
  get(entryKey: string, now = Date.now()): Entry | undefined {
    const entry = this.entries.get(entryKey);
    if (entry === undefined) return undefined;
    if (now < entry.createdAt + entry.ttlMs) return entry;
    this.entries.delete(entryKey);
    return undefined;
  }

  /** Keeps a fresh entry until its freshness ends; stale material stays in Redis only. */
  set(entryKey: string, entry: Entry, now = Date.now()): void {
    const remainingMs = entry.createdAt + entry.ttlMs - now;
    if (!(remainingMs > 0)) return;
    // Every read of a hit lands here: only a newer entry (a refresh of this generation) replaces one.
    const kept = this.entries.peek(entryKey);
    if (kept !== undefined && kept.createdAt >= entry.createdAt) return;
    // A copy: the payload read from Redis is a view on the socket's read buffer, which it would pin.
    this.entries.set(
      entryKey,
      {
        createdAt: entry.createdAt,
        ttlMs: entry.ttlMs,
        graceMs: entry.graceMs,
        computeMs: entry.computeMs,
        payload: Buffer.from(entry.payload),
      },
      { ttl: Math.ceil(remainingMs) },
    );
  }

  clear(): void {
    this.entries.clear();
  }
}
