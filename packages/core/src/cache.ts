import { BackgroundWork } from './engine/background.js';
import { CallGuard, type ErrorListener, FAILED } from './engine/call-guard.js';
import { CallPolicies } from './engine/call-policy.js';
import { EntryDecoder } from './engine/entries.js';
import { answered } from './engine/events.js';
import { Filler } from './engine/filler.js';
import { Invalidator } from './engine/invalidator.js';
import { assertOnFailure, PendingInvalidations } from './engine/pending-invalidations.js';
import { Reader } from './engine/reader.js';
import { StaleServer } from './engine/stale.js';
import { TieredReader } from './engine/tiered-reader.js';
import type {
  CacheResult,
  ComputeContext,
  GetOrSetOptions,
  InvalidateOptions,
  Namespaces,
  Warmer,
} from './engine/types.js';
import { WarmPublisher } from './engine/warmer.js';
import { VersionedCacheError, VersionedCacheTypeError } from './errors.js';
import { KeySchema, normaliseNamespaces } from './keys.js';
import { type CacheOptions, type ResolvedCacheOptions, resolveCacheOptions } from './options.js';
import { MemoryStore } from './stores/memory-store.js';
import { RedisStore } from './stores/redis-store.js';
import type { CacheStore } from './stores/store.js';
import { createL1Tier, type L1Tier } from './tier/l1-tier.js';
import { checkInvalidateOptions, checkSingleNamespace } from './validate.js';

// The public types of calls and results belong with the facade that takes and returns them.
export type * from './engine/types.js';

const NO_OPTIONS: Readonly<Record<string, never>> = Object.freeze({});

/**
 * The cache's public face. It only wires the engine's parts (`engine/`): each concern, and each
 * future feature of that concern, lives in one of them.
 */
export class VersionedCache {
  readonly store: CacheStore;
  readonly keys: KeySchema;
  readonly options: Readonly<ResolvedCacheOptions>;
  private readonly ownsStore: boolean;
  private readonly guard: CallGuard;
  private readonly policies: CallPolicies;
  private readonly background = new BackgroundWork();
  private readonly entries: EntryDecoder;
  private readonly reader: Reader;
  /** The reader, or the reader behind the in-process tier when `l1` is on. */
  private readonly locator: Pick<Reader, 'locate'>;
  private readonly filler: Filler;
  private readonly stale: StaleServer;
  private readonly warmer: WarmPublisher;
  private readonly invalidator: Invalidator;
  /** The in-process tier (`l1` option), or undefined. */
  readonly l1: L1Tier | undefined;
  private readonly pending: PendingInvalidations;

  constructor(options: CacheOptions = {}) {
    this.options = resolveCacheOptions(options);
    const { prefix, store, redis, memory, timeoutMs, onError, ttlMs, lease, jitter } = this.options;
    this.keys = new KeySchema(prefix);
    this.ownsStore = !store;
    if (store) this.store = store;
    else if (redis !== undefined) this.store = new RedisStore(redis, { commandTimeoutMs: timeoutMs });
    else this.store = new MemoryStore(memory);
    this.guard = new CallGuard({ store: this.store, timeoutMs, onError, breaker: this.options.breaker });
    const pending = new PendingInvalidations(
      this.guard,
      this.keys,
      this.store,
      this.options.pendingInvalidations,
      (ns, deadline, recovery) => this.invalidator.bump(ns, deadline, recovery),
    );
    this.pending = pending;
    this.policies = new CallPolicies(ttlMs);
    const entries = new EntryDecoder(this.guard);
    this.entries = entries;
    this.reader = new Reader(this.store, this.keys, this.guard, entries);
    this.l1 = createL1Tier(this.options.l1, this.store, this.keys, (error) => this.guard.report(error));
    this.locator = this.l1 ? new TieredReader(this.reader, this.l1) : this.reader;
    this.filler = new Filler(this.store, this.keys, this.guard, entries, this.background, {
      lease,
      jitter,
      mayStore: (namespaces) => pending.count === 0 || !pending.blocks(namespaces),
    });
    this.stale = new StaleServer(this.guard, entries, this.filler, this.background);
    this.warmer = new WarmPublisher(
      this.store,
      this.keys,
      this.guard,
      this.policies,
      this.reader,
      this.filler,
      this.options.durability,
    );
    this.invalidator = new Invalidator(this.store, this.keys, this.guard, this.reader, {
      intervalMs: this.options.invalidationIntervalMs,
      durability: this.options.durability,
    });
  }

  /** Listens to faults the cache absorbed; a listener that throws is reported as a warning, never rethrown. */
  on(event: 'error', listener: ErrorListener): this {
    if (event !== 'error') throw new VersionedCacheTypeError('event', `unknown event '${String(event)}'`);
    this.guard.addListener(listener);
    return this;
  }

  off(event: 'error', listener: ErrorListener): this {
    if (event === 'error') this.guard.removeListener(listener);
    return this;
  }

  /** The current version of a namespace, created with a random start if it does not exist. */
  async version(namespace: string): Promise<string> {
    return this.reader.version(checkSingleNamespace(namespace), this.guard.begin());
  }

  /**
   * Makes every entry of the namespace(s) stale at once: one atomic version bump per namespace,
   * whatever the number of entries. Rejects when the store cannot be reached, because an
   * invalidation that silently did not happen would serve stale data; with `onFailure: 'recover'`
   * it is queued instead and retried until it lands (see docs/breaker.md).
   */
  async invalidate(namespaces: Namespaces, options?: InvalidateOptions): Promise<void> {
    const list = normaliseNamespaces(namespaces);
    const { warm, onFailure: failure } = checkInvalidateOptions(options);
    const onFailure = assertOnFailure(failure, this.options.durability !== false);
    if (this.background.closed)
      throw new VersionedCacheError('VC_CLOSED', 'versioned-cache: the cache is closed');
    // A durable bump waits for the replicas too, within their own timeout.
    const deadline = this.guard.begin(this.invalidator.waitMs);
    const done = Promise.all(
      list.map((ns) =>
        this.pending.invalidate(ns, onFailure, () =>
          warm ? this.warmer.publish(ns, deadline) : this.invalidator.invalidate(ns, deadline),
        ),
      ),
    );
    // close() waits for it, a coalesced trailing bump included: closing the store under it would
    // turn an invalidation the caller is waiting for into a failure.
    this.background.track(done);
    try {
      await done;
    } finally {
      // Our own bump's invalidation message may still be on its way: stop trusting the old version now.
      this.l1?.forget(list.map((ns) => this.keys.versionKey(ns)));
    }
  }

  /** Registers an entry to compute for the new version on `invalidate(ns, { warm: true })`. */
  addWarmer(warmer: Warmer): () => void {
    return this.warmer.add(warmer);
  }

  /** Cache-aside: the cached value, or `compute()` stored under the namespace version(s). */
  async getOrSet<T>(
    namespaces: Namespaces,
    key: string,
    compute: (context: ComputeContext) => Promise<T> | T,
    options?: GetOrSetOptions<T>,
  ): Promise<T> {
    return (await this.fetch(namespaces, key, compute, options)).value;
  }

  /** Like `getOrSet`, and also says whether it was a hit, a miss, stale or a bypass. */
  async fetch<T>(
    namespaces: Namespaces,
    key: string,
    compute: (context: ComputeContext) => Promise<T> | T,
    options: GetOrSetOptions<T> = NO_OPTIONS,
  ): Promise<CacheResult<T>> {
    const call = this.policies.resolve(namespaces, key, compute, options);
    const deadline = this.guard.begin();
    if (this.background.closed)
      return answered(call, deadline, this.filler.computeOnly(call, 'BYPASS'), 'closed');
    // An invalidation of the namespace waits to be made: its old generation must not be served.
    if (this.pending.count !== 0 && this.pending.blocks(call.namespaces))
      return answered(call, deadline, this.filler.computeOnly(call, 'BYPASS'), 'invalidation-pending');
    const located = await this.locator.locate(call, deadline);
    if (located === FAILED) return answered(call, deadline, this.filler.computeOnly(call, 'BYPASS'));
    const { entry } = located;
    if (entry) {
      const value = this.entries.value(call, entry, located.entryKey);
      if (value !== FAILED) {
        if (call.earlyBeta > 0) this.stale.refreshEarly(call, located, entry);
        return answered(call, deadline, { value, status: 'HIT', createdAt: entry.createdAt, stored: false });
      }
    }
    return answered(
      call,
      deadline,
      this.stale.serve(call, located) ?? this.filler.miss(call, located, deadline),
    );
  }

  /** Resolves once background refreshes have settled, then releases connections the cache opened. */
  async close(): Promise<void> {
    if (this.background.closed) return;
    await this.background.close();
    await Promise.all([this.filler.drain(), this.stale.drain()]);
    await this.pending.close();
    await this.l1?.close();
    if (this.ownsStore) await this.store.close();
  }
}

/** Creates a cache: Redis when `redis` is given, the embedded memory store otherwise. */
export function createCache(options?: CacheOptions): VersionedCache {
  return new VersionedCache(options);
}
