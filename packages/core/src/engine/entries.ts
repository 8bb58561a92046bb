import { decodeEntry, type Entry } from '../envelope.js';
import { VersionedCacheError } from '../errors.js';
import { type CallGuard, FAILED, type Guarded } from './call-guard.js';
import type { ResolvedCall } from './call-policy.js';

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
  constructor(private readonly guard: CallGuard) {}

  read(raw: Buffer): Entry | null {
    const entry = decodeEntry(raw);
    if (!entry)
      this.guard.report(
        new VersionedCacheError('VC_DECODE_ERROR', 'versioned-cache: ignored an entry of unknown format'),
      );
    return entry;
  }

  value<T>(call: ResolvedCall<T>, entry: Entry): Guarded<T> {
    try {
      return call.codec.decode(entry.payload);
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
