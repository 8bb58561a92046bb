import { decodeEntry, type Entry, encodeEntry } from '../envelope.js';
import { VersionedCacheError, type VersionedCacheErrorCode } from '../errors.js';
import { resolveTtl } from '../validate.js';
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
  /**
   * The last bytes read and their entry: the hits of one coalesced read share one reply buffer (and
   * an in-process store hands out the stored one), so a hot entry's envelope is parsed once.
   */
  private lastRaw: Buffer | null = null;
  private lastEntry: Entry | null = null;

  constructor(private readonly guard: CallGuard) {}

  read(raw: Buffer): Entry | null {
    if (raw === this.lastRaw) return this.lastEntry;
    const entry = decodeEntry(raw);
    this.lastRaw = raw;
    this.lastEntry = entry;
    if (!entry)
      this.guard.report(
        new VersionedCacheError('VC_DECODE_ERROR', 'versioned-cache: ignored an entry of unknown format'),
      );
    return entry;
  }

  /**
   * The bytes to store for a computed value and their TTL in the store (fresh with jitter, plus
   * grace); null when it must not be stored. The call's own functions (`shouldStore`, a `ttl`
   * function, the codec) run here: one that throws or answers nonsense is reported and the value
   * goes to its caller unstored, rather than failing a request whose answer is ready.
   */
  encode<T>(
    call: ResolvedCall<T>,
    value: T,
    createdAt: number,
    computeMs: number,
    jitter: number,
  ): { bytes: Buffer; ttlMs: number } | null {
    let ttlMs: number;
    try {
      if (!call.shouldStore(value)) return null;
      ttlMs = typeof call.ttl === 'function' ? resolveTtl(call.ttl(value)) : call.ttl;
    } catch (error) {
      return this.unstored('VC_INVALID_ARGUMENT', 'shouldStore or the ttl function failed', error);
    }
    const freshMs = Math.max(1, Math.round(ttlMs * (1 - jitter * Math.random())));
    try {
      const payload = call.codec.encode(value);
      const bytes = encodeEntry({ createdAt, ttlMs: freshMs, graceMs: call.graceMs, computeMs }, payload);
      return { bytes, ttlMs: freshMs + call.graceMs };
    } catch (error) {
      return this.unstored('VC_DECODE_ERROR', 'value could not be encoded', error);
    }
  }

  private unstored(code: VersionedCacheErrorCode, what: string, cause: unknown): null {
    this.guard.report(new VersionedCacheError(code, `versioned-cache: ${what}; not stored`, { cause }));
    return null;
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
