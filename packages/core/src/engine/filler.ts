import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../duration.js';
import { encodeEntry } from '../envelope.js';
import { VersionedCacheError } from '../errors.js';
import type { KeySchema } from '../keys.js';
import type { ResolvedLease } from '../options.js';
import { SingleFlight } from '../single-flight.js';
import type { CacheStore } from '../stores/store.js';
import type { BackgroundWork } from './background.js';
import { type CallGuard, type Deadline, FAILED } from './call-guard.js';
import type { ResolvedCall } from './call-policy.js';
import { type EntryDecoder, isFresh } from './entries.js';
import { fillEnded, leaseWaited } from './events.js';
import type { Located } from './reader.js';
import type { CacheResult, CacheStatus } from './types.js';

/** Lease tokens of background refreshes start with it, so that a waiter can tell who holds the lease. */
const REFRESH_LEASE = 'refresh:';

export interface FillerOptions {
  lease: ResolvedLease | false;
  jitter: number;
  /** False while an invalidation of one of the namespaces waits to be made: nothing is stored for it. */
  mayStore: (namespaces: readonly string[]) => boolean;
}

/**
 * Computes and stores entries: one computation per entry in this process (single flight), one
 * across processes (a lease the others wait on, bounded), and the entry written under the versions
 * read before computing, so that a computation outrun by an invalidation lands where no one reads.
 */
export class Filler {
  private readonly fills = new SingleFlight<CacheResult<unknown>>();

  constructor(
    private readonly store: CacheStore,
    private readonly keys: KeySchema,
    private readonly guard: CallGuard,
    private readonly entries: EntryDecoder,
    private readonly background: BackgroundWork,
    private readonly options: FillerOptions,
  ) {}

  isFilling(entryKey: string): boolean {
    return this.fills.has(entryKey);
  }

  /** A miss: joins this process's fill of the entry, or leads it. */
  async miss<T>(call: ResolvedCall<T>, located: Located, deadline: Deadline): Promise<CacheResult<T>> {
    const { promise, leader } = this.fills.run(
      located.entryKey,
      () => this.fill(call, located, deadline) as Promise<CacheResult<unknown>>,
    );
    const fill = (await promise) as CacheResult<T>;
    // An unstorable value (for HTTP: a response with Set-Cookie, an error page) belongs to the caller
    // that computed it; everyone else computes their own.
    if (leader || fill.stored || fill.status === 'HIT') return fill;
    return this.computeOnly(call, 'MISS');
  }

  /** The store cannot be used: answer from the computation alone. */
  async computeOnly<T>(call: ResolvedCall<T>, status: CacheStatus): Promise<CacheResult<T>> {
    const value = await call.compute({ background: false });
    return { value, status, createdAt: Date.now(), stored: false };
  }

  /**
   * Computes and stores one entry, holding a lease so that one process computes while the others
   * wait for its result (bounded), or give up at once (null) when refreshing in the background.
   */
  fill<T>(call: ResolvedCall<T>, located: Located, deadline: Deadline): Promise<CacheResult<T>>;
  fill<T>(
    call: ResolvedCall<T>,
    located: Located,
    deadline: Deadline,
    mode: { background: true },
  ): Promise<CacheResult<T> | null>;
  async fill<T>(
    call: ResolvedCall<T>,
    located: Located,
    deadline: Deadline,
    { background = false } = {},
  ): Promise<CacheResult<T> | null> {
    const { lease } = this.options;
    if (!lease) return this.computeAndStore(call, located, deadline, background);
    const leaseKey = this.keys.leaseKey(located.entryKey);
    const token = background ? `${REFRESH_LEASE}${randomUUID()}` : randomUUID();
    const waitUntil = Date.now() + lease.maxWaitMs;
    for (;;) {
      const acquired = await this.guard.run(
        'acquire lease',
        deadline,
        () => this.store.setIfAbsent(leaseKey, token, lease.ttlMs),
        leaseKey,
      );
      if (acquired === FAILED) return this.computeAndStore(call, located, deadline, background);
      if (acquired) {
        try {
          const filled = await this.filledSince(call, located, deadline);
          if (filled) return filled;
          return await this.computeAndStore(call, located, deadline, background);
        } finally {
          // Not awaited: the value is ready, and waiters also see the entry itself.
          this.background.track(
            this.guard.run(
              'release lease',
              deadline,
              () => this.store.deleteIfEquals(leaseKey, token),
              leaseKey,
            ),
          );
        }
      }
      // Another process holds the lease and refreshes; the caller already answered from stale.
      if (background) return null;
      const wait = this.waitForFill(call, located.entryKey, leaseKey, waitUntil, deadline);
      const filled = await leaseWaited(call, Date.now(), wait);
      if (filled === 'lease-free') continue;
      if (filled === 'timeout' || filled === 'refreshing')
        return this.computeAndStore(call, located, deadline);
      return filled;
    }
  }

  /** Computes the value and stores it under the located key; a failed computation falls back to stale. */
  async computeAndStore<T>(
    call: ResolvedCall<T>,
    located: Located,
    deadline: Deadline,
    background = false,
  ): Promise<CacheResult<T>> {
    const startedAt = Date.now();
    let value: T;
    try {
      value = await call.compute({ background });
    } catch (error) {
      const stale = located.stale ? this.entries.value(call, located.stale) : FAILED;
      if (stale === FAILED) throw error;
      this.guard.report(
        new VersionedCacheError('VC_REFRESH_FAILED', 'versioned-cache: computation failed; served stale', {
          cause: error,
        }),
      );
      return { value: stale, status: 'STALE', createdAt: located.stale!.createdAt, stored: false };
    }
    const createdAt = Date.now();
    if (!call.shouldStore(value) || !this.options.mayStore(call.namespaces))
      return fillEnded(call, startedAt, background, { value, status: 'MISS', createdAt, stored: false });
    const ttlMs = typeof call.ttl === 'function' ? parseDuration('ttl', call.ttl(value)) : call.ttl;
    const freshMs = Math.max(1, Math.round(ttlMs * (1 - this.options.jitter * Math.random())));
    let bytes: Buffer;
    try {
      bytes = encodeEntry(
        { createdAt, ttlMs: freshMs, graceMs: call.graceMs, computeMs: createdAt - startedAt },
        call.codec.encode(value),
      );
    } catch (error) {
      this.guard.report(
        new VersionedCacheError('VC_DECODE_ERROR', 'versioned-cache: value could not be encoded', {
          cause: error,
        }),
      );
      return { value, status: 'MISS', createdAt, stored: false };
    }
    const written = await this.guard.run(
      'write',
      deadline,
      () => this.store.set(located.entryKey, bytes, freshMs + call.graceMs),
      located.entryKey,
    );
    return fillEnded(call, startedAt, background, {
      value,
      status: 'MISS',
      createdAt,
      stored: written !== FAILED,
    });
  }

  /** Resolves once every fill under way has settled. */
  drain(): Promise<void> {
    return this.fills.drain();
  }

  /** Polls for another process's fill until it lands, its lease disappears, or the wait ends. */
  private async waitForFill<T>(
    call: ResolvedCall<T>,
    entryKey: string,
    leaseKey: string,
    waitUntil: number,
    deadline: Deadline,
  ): Promise<CacheResult<T> | 'lease-free' | 'timeout' | 'refreshing'> {
    const { pollMs } = this.options.lease as ResolvedLease;
    for (;;) {
      const remaining = waitUntil - Date.now();
      if (remaining <= 0) return 'timeout';
      await sleep(Math.min(pollMs, remaining));
      const read = await this.guard.run(
        'read',
        deadline,
        () => this.store.getMany([entryKey, leaseKey]),
        entryKey,
      );
      if (read === FAILED) return 'timeout';
      const entry = read[0] ? this.entries.read(read[0]) : null;
      // Only a fresh entry is the fill: an expired one kept for grace routes must not reach this caller.
      if (entry && isFresh(entry)) {
        const value = this.entries.value(call, entry);
        if (value !== FAILED) return { value, status: 'HIT', createdAt: entry.createdAt, stored: false };
      }
      if (!read[1]) return 'lease-free';
      // A background refresh holds the lease: its caller has grace and this one none, so they are two
      // policies of one key, and this one asked not to wait but to compute (and route) at once.
      if (!call.waitForRefresh && call.graceMs === 0 && read[1].toString().startsWith(REFRESH_LEASE))
        return 'refreshing';
    }
  }

  /**
   * The entry another process stored between our read and our lease (it filled, then released its
   * lease just before we asked): serving it saves a second computation of the same entry.
   */
  private async filledSince<T>(
    call: ResolvedCall<T>,
    located: Located,
    deadline: Deadline,
  ): Promise<CacheResult<T> | null> {
    const { entryKey } = located;
    const read = await this.guard.run('read', deadline, () => this.store.getMany([entryKey]), entryKey);
    if (read === FAILED || !read[0]) return null;
    const entry = this.entries.read(read[0]);
    // An early refresh starts from a fresh entry: only a different one shows that someone refreshed.
    if (!entry || !isFresh(entry) || entry.createdAt === located.entry?.createdAt) return null;
    const value = this.entries.value(call, entry);
    return value === FAILED ? null : { value, status: 'HIT', createdAt: entry.createdAt, stored: false };
  }
}
