import { decodeEntry, type Entry } from '../envelope.js';
import { VersionedCacheError } from '../errors.js';
import { type CallGuard, FAILED, type Guarded } from './call-guard.js';
import type { ResolvedCall } from './call-policy.js';
import { DecodedMemo } from './decoded-memo.js';

/** Whether an entry is within its own TTL. */
export function isFresh(entry: Entry): boolean {
  return Date.now() < entry.createdAt + entry.ttlMs;
}

/** Whether an entry past its TTL may still be served stale under a call's grace. */
export function withinGrace(entry: Entry, graceMs: number): boolean {
  return graceMs > 0 && Date.now() < entry.createdAt + entry.ttlMs + graceMs;
}

/** Stored bytes to entries and values; what cannot be decoded is reported and treated as absent. */
export class EntryDecoder {
  private readonly memo = new DecodedMemo();

  constructor(private readonly guard: CallGuard) {}

  read(raw: Buffer): Entry | null {
    const entry = decodeEntry(raw);
    if (!entry)
      this.guard.report(
        new VersionedCacheError('VC_DECODE_ERROR', 'versioned-cache: ignored an entry of unknown format'),
      );
    return entry;
  }

  /** The entry's value; with `entryKey` and a `shareDecoded` codec, decoded once per entry, not per hit. */
  value<T>(call: ResolvedCall<T>, entry: Entry, entryKey?: string): Guarded<T> {
    const { codec } = call;
    const shared = codec.shareDecoded === true && entryKey !== undefined;
    if (shared) {
      const known = this.memo.get(entryKey, entry, codec);
      if (known !== undefined) return known as T;
    }
    try {
      if (!shared) return codec.decode(entry.payload);
      // A copy: a payload read from Redis is a view on the socket's read buffer, which a kept value
      // would pin for as long as it is remembered.
      const value = codec.decode(Buffer.from(entry.payload));
      this.memo.set(entryKey, entry, codec, value);
      return value;
    } catch (error) {
      this.guard.report(
        new VersionedCacheError('VC_DECODE_ERROR', 'versioned-cache: entry could not be decoded', {
          cause: error,
        }),
      );
      return FAILED;
    }
  }
}
