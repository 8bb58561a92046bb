import { LRUCache } from 'lru-cache';
import type { Entry } from '../envelope.js';

const MEMO_SIZE = 1_000;

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
  private readonly values = new LRUCache<string, Decoded>({ max: MEMO_SIZE });

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
    this.values.set(entryKey, {
      codec,
      createdAt: entry.createdAt,
      byteLength: entry.payload.byteLength,
      value,
    });
  }
}
