import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
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
import { LeaseKeeper } from './lease.js';
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
  private readonly keeper: LeaseKeeper;

  constructor(
    private readonly store: CacheStore,
    private readonly keys: KeySchema,
    private readonly guard: CallGuard,
    private readonly entries: EntryDecoder,
    background: BackgroundWork,
    private readonly options: FillerOptions,
  ) {
    this.keeper = new LeaseKeeper(store, guard, background, options.lease ? options.lease.ttlMs : 0);
  }

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
   * With the lease, a miss is three round trips: the read, the lease taken with the entry re-read
   * (one script), the entry stored with the lease released (one script).
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
    const waitUntil = performance.now() + lease.maxWaitMs;
    for (;;) {
      const grant = await this.guard.run(
        'acquire lease',
        deadline,
        () => this.store.acquireLease(leaseKey, token, lease.ttlMs, located.entryKey),
        leaseKey,
      );
      if (grant === FAILED) return this.computeAndStore(call, located, deadline, background);
      const filled = this.filledSince(call, located, grant.entry);
      if (grant.acquired) {
        if (!filled) return this.computeAndStore(call, located, deadline, background, { leaseKey, token });
        this.keeper.release(leaseKey, token);
      }
      if (filled) return filled;
      // Another process holds the lease and refreshes; the caller already answered from stale.
      if (background) return null;
      if (skipsRefresh(call, grant.holder)) return this.computeAndStore(call, located, deadline);
      // Waiting for another process's computation stops the call's clock, as computing would.
      const wait = deadline.paused(() =>
        this.waitForFill(call, located.entryKey, leaseKey, waitUntil, deadline),
      );
      const waited = await leaseWaited(call, Date.now(), wait);
      if (waited === 'lease-free') continue;
      if (waited === 'timeout' || waited === 'refreshing')
        return this.computeAndStore(call, located, deadline);
      return waited;
    }
  }

  /**
   * Computes the value and stores it under the located key (releasing the lease in the same step
   * when one is held, renewing it meanwhile); a failed computation falls back to stale.
   */
  async computeAndStore<T>(
    call: ResolvedCall<T>,
    located: Located,
    deadline: Deadline,
    background = false,
    held?: { leaseKey: string; token: string },
  ): Promise<CacheResult<T>> {
    const startedAt = Date.now();
    const compute = () => call.compute({ background });
    let value: T;
    try {
      value = await deadline.paused(() =>
        held ? this.keeper.renewing(held.leaseKey, held.token, async () => compute()) : compute(),
      );
    } catch (error) {
      if (held) this.keeper.release(held.leaseKey, held.token);
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
    // A pending invalidation of one of its namespaces: the entry would belong to a dead generation.
    const encoded = this.options.mayStore(call.namespaces)
      ? this.entries.encode(call, value, createdAt, createdAt - startedAt, this.options.jitter)
      : null;
    if (!encoded) {
      if (held) this.keeper.release(held.leaseKey, held.token);
      return fillEnded(call, startedAt, background, { value, status: 'MISS', createdAt, stored: false });
    }
    const { bytes, ttlMs } = encoded;
    const written = await this.guard.run(
      'write',
      deadline,
      async () => {
        if (!held) return this.store.set(located.entryKey, bytes, ttlMs);
        await this.store.storeAndRelease(located.entryKey, bytes, ttlMs, held.leaseKey, held.token);
      },
      located.entryKey,
    );
    // The write may not have happened, nor the release with it: release on a budget of its own.
    if (written === FAILED && held) this.keeper.release(held.leaseKey, held.token);
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
      const remaining = waitUntil - performance.now();
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
      if (skipsRefresh(call, read[1].toString())) return 'refreshing';
    }
  }

  /**
   * The entry another process stored between our read and our lease (read in the lease's own
   * script): serving it saves a second computation of the same entry.
   */
  private filledSince<T>(call: ResolvedCall<T>, located: Located, raw: Buffer | null): CacheResult<T> | null {
    const entry = raw ? this.entries.read(raw) : null;
    // An early refresh starts from a fresh entry: only a different one shows that someone refreshed.
    if (!entry || !isFresh(entry) || entry.createdAt === located.entry?.createdAt) return null;
    const value = this.entries.value(call, entry);
    return value === FAILED ? null : { value, status: 'HIT', createdAt: entry.createdAt, stored: false };
  }
}

/**
 * A background refresh holds the lease: its caller has grace and this one none, so they are two
 * policies of one key, and this one asked not to wait but to compute (and route) at once.
 */
function skipsRefresh<T>(call: ResolvedCall<T>, holder: string | undefined): boolean {
  return !call.waitForRefresh && call.graceMs === 0 && holder?.startsWith(REFRESH_LEASE) === true;
}
