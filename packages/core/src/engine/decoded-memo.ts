import { LRUCache } from 'lru-cache';
import type { Entry } from '../envelope.js';

const MEMO_SIZE = 1_000;
/** The decoded copies' bytes are bounded too, whatever the size of the entries. */
const MEMO_BYTES = 16 * 1024 * 1024;
const OVERHEAD_BYTES = 96;

interface Decoded {
  codec: object;
  createdAt: number;
  byteLength: number;
  value: unknown;
}

/**
 * Decoded values of recent hits, for codecs whose values are shared read-only (`shareDecoded`): a
 * hot entry is decoded once per fill, not once per hit. An entry is identified by its key, which
 * embeds every namespace version, and by when it was computed and its size, so a refresh of the same
 * key (a new `createdAt`) is decoded afresh.
 */
export class DecodedMemo {
  private readonly values = new LRUCache<string, Decoded>({
    max: MEMO_SIZE,
    maxSize: MEMO_BYTES,
    sizeCalculation: (decoded, key) => decoded.byteLength + key.length * 2 + OVERHEAD_BYTES,
  });

  get(entryKey: string, entry: Entry, codec: object): unknown {
    const decoded = this.values.get(entryKey);
    if (
      decoded === undefined ||
      decoded.codec !== codec ||
      decoded.createdAt !== entry.createdAt ||
      decoded.byteLength !== entry.payload.byteLength
    )
      return undefined;
    return decoded.value;
  }

  set(entryKey: string, entry: Entry, codec: object, value: unknown): void {
    // Too big to keep: lru-cache would refuse it anyway; skip the work.
    if (entry.payload.byteLength > MEMO_BYTES / 4) return;
    this.values.set(entryKey, {
      codec,
      createdAt: entry.createdAt,
      byteLength: entry.payload.byteLength,
      value,
    });
  }
}
