import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import { type Codec, jsonCodec } from './codec.js';
import { type Duration, parseDuration } from './duration.js';
import { decodeEntry, type Entry, encodeEntry } from './envelope.js';
import { StoreTimeoutError, toStoreError, VersionedCacheError, VersionedCacheTypeError } from './errors.js';
import { assertEntryKey, KeySchema, normaliseNamespaces } from './keys.js';
import {
  assertKnownOptions,
  type CacheOptions,
  type ResolvedCacheOptions,
  resolveCacheOptions,
} from './options.js';
import { SingleFlight } from './single-flight.js';
import { MemoryStore } from './stores/memory-store.js';
import { RedisStore } from './stores/redis-store.js';
import type { CacheStore } from './stores/store.js';
import { previousFromRecord, randomVersion } from './versions.js';

/** What happened to one lookup; the HTTP layer sends it as `X-Cache`. */
export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'BYPASS';

export type Namespaces = string | readonly string[];

/** Passed to `compute`: `background` is true for a refresh whose caller was already answered (stale). */
export interface ComputeContext {
  background: boolean;
}

export interface GetOrSetOptions<T> {
  /**
   * How long the entry is fresh; a function decides from the computed value.
   * @default the cache's `ttl`
   */
  ttl?: Duration | ((value: T) => Duration);
  /**
   * How long past freshness, or after an invalidation, the entry may still be served as STALE while
   * one refresh runs in the background; also served instead of a failed computation.
   * @default 0 (never stale)
   */
  grace?: Duration;
  /**
   * Probabilistic early refresh (XFetch): `true` or a beta factor (higher refreshes earlier).
   * @default false
   */
  earlyRefresh?: boolean | number;
  /**
   * How values become bytes.
   * @default JSON
   */
  codec?: Codec<T>;
  /**
   * Whether a computed value may be stored; a value that may not is returned to its caller only,
   * and concurrent callers compute their own.
   * @default always
   */
  shouldStore?: (value: T) => boolean;
}

export interface CacheResult<T> {
  value: T;
  status: CacheStatus;
  /** Epoch milliseconds when the value was computed. */
  createdAt: number;
  /** Whether this call's computation was stored (false on hits). */
  stored: boolean;
}

export interface InvalidateOptions {
  /**
   * Compute the registered warmers' entries for the new version before publishing it, so that no
   * reader sees the miss.
   * @default false
   */
  warm?: boolean;
}

export interface Warmer {
  namespaces: Namespaces;
  key: string;
  compute: () => Promise<unknown> | unknown;
  options?: GetOrSetOptions<unknown>;
}

type ErrorListener = (error: VersionedCacheError) => void;

const GET_OR_SET_OPTIONS = new Set(['ttl', 'grace', 'earlyRefresh', 'codec', 'shouldStore']);
/** Lease tokens of background refreshes start with it, so that a waiter can tell who holds the lease. */
const REFRESH_LEASE = 'refresh:';

/**
 * @internal An option of the HTTP layer's lookups made before routing (Express and Koa middleware):
 * such a call without grace does not wait while another caller refreshes the entry in the background
 * (a caller with grace: the path's route, which looks up itself) but computes at once, and its
 * compute hands the request to that route, which answers from stale.
 */
export const YIELD_TO_REFRESH: unique symbol = Symbol('versioned-cache yield to refresh');
const WARM_PUBLISH_ATTEMPTS = 3;
const NO_OPTIONS: Readonly<Record<string, never>> = Object.freeze({});
const FAILED: unique symbol = Symbol('store-failed');
type Guarded<T> = T | typeof FAILED;

interface CallPolicy<T> {
  ttl: number | ((value: T) => Duration);
  graceMs: number;
  earlyBeta: number;
  codec: Codec<T>;
  shouldStore: (value: T) => boolean;
  yieldToRefresh: boolean;
}

interface ResolvedCall<T> extends CallPolicy<T> {
  namespaces: readonly string[];
  key: string;
  compute: (context: ComputeContext) => Promise<T> | T;
}

interface Located {
  versions: readonly string[];
  entryKey: string;
  entry: Entry | null;
  /** An entry that may be served stale: this key's expired one, or the previous version's. */
  stale: Entry | null;
}

interface Fill<T> {
  value: T;
  status: CacheStatus;
  createdAt: number;
  stored: boolean;
}

export class VersionedCache {
  readonly store: CacheStore;
  readonly keys: KeySchema;
  readonly options: Readonly<ResolvedCacheOptions>;
  /** The version of each namespace this process saw last: lets a hit read version and entry in one MGET. */
  private readonly knownVersions = new LRUCache<string, string>({ max: 10_000 });
  /** The version each namespace had before the last change this process saw: where grace finds the previous generation. */
  private readonly previousVersions = new LRUCache<string, string>({ max: 10_000 });
  private readonly namespaceLists = new LRUCache<string, readonly string[]>({ max: 10_000 });
  private readonly versionKeyLists = new WeakMap<readonly string[], readonly string[]>();
  private readonly policies = new WeakMap<object, CallPolicy<unknown>>();
  private readonly frozenLists = new WeakMap<readonly string[], readonly string[]>();
  private readonly fills = new SingleFlight<Fill<unknown>>();
  /** Background refreshes apart from fills, so that a waiting request never joins one that may give up. */
  private readonly refreshes = new SingleFlight<Fill<unknown> | null>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly warmers = new Map<string, Set<Warmer>>();
  private readonly pendingBumps = new Map<string, { at: number; promise: Promise<string> | null }>();
  private readonly errorListeners = new Set<ErrorListener>();
  private readonly ownsStore: boolean;
  private readonly lastWarned = new Map<string, number>();
  private closed = false;

  constructor(options: CacheOptions = {}) {
    this.options = resolveCacheOptions(options);
    this.keys = new KeySchema(this.options.prefix);
    if (this.options.store) {
      this.store = this.options.store;
      this.ownsStore = false;
    } else if (this.options.redis !== undefined) {
      this.store = new RedisStore(this.options.redis, { commandTimeoutMs: this.options.timeoutMs });
      this.ownsStore = true;
    } else {
      this.store = new MemoryStore(this.options.memory);
      this.ownsStore = true;
    }
  }

  /** Listens to faults the cache absorbed. */
  on(event: 'error', listener: ErrorListener): this {
    if (event !== 'error') throw new VersionedCacheTypeError('event', `unknown event '${String(event)}'`);
    this.errorListeners.add(listener);
    return this;
  }

  off(event: 'error', listener: ErrorListener): this {
    if (event === 'error') this.errorListeners.delete(listener);
    return this;
  }

  /** The current version of a namespace, created with a random start if it does not exist. */
  async version(namespace: string): Promise<string> {
    const [ns] = normaliseNamespaces(namespace);
    const versionKey = this.keys.versionKey(ns!);
    const [current] = await this.mustSucceed('read version', () => this.store.getMany([versionKey]));
    const version = current ? current.toString() : await this.createVersion(versionKey);
    this.rememberVersion(ns!, version);
    return version;
  }

  /**
   * Makes every entry of the namespace(s) stale at once: one atomic version bump per namespace,
   * whatever the number of entries. Rejects when the store cannot be reached, because an
   * invalidation that silently did not happen would serve stale data.
   */
  async invalidate(namespaces: Namespaces, options: InvalidateOptions = {}): Promise<void> {
    const list = normaliseNamespaces(namespaces);
    assertKnownOptions('invalidate options', options, new Set(['warm']));
    this.assertOpen();
    await Promise.all(list.map((ns) => (options.warm ? this.publishWarm(ns) : this.coalescedBump(ns))));
  }

  /** Registers an entry to compute for the new version on `invalidate(ns, { warm: true })`. */
  addWarmer(warmer: Warmer): () => void {
    const namespaces = normaliseNamespaces(warmer.namespaces);
    assertEntryKey(warmer.key);
    if (typeof warmer.compute !== 'function')
      throw new VersionedCacheTypeError('compute', 'must be a function');
    for (const ns of namespaces) {
      const set = this.warmers.get(ns) ?? new Set<Warmer>();
      set.add(warmer);
      this.warmers.set(ns, set);
    }
    return () => {
      for (const ns of namespaces) this.warmers.get(ns)?.delete(warmer);
    };
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
    const call = this.resolveCall(namespaces, key, compute, options);
    if (this.closed) return this.bypass(call);
    const located = await this.locate(call);
    if (located === FAILED) return this.bypass(call);
    const { entry, stale } = located;
    if (entry) {
      const value = this.decode(call, entry);
      if (value !== FAILED) {
        if (call.earlyBeta > 0 && this.shouldRefreshEarly(entry, call.earlyBeta)) this.refresh(call, located);
        return { value: value, status: 'HIT', createdAt: entry.createdAt, stored: false };
      }
    }
    return this.miss(call, located, stale);
  }

  /** Resolves once background refreshes have settled, then releases connections the cache opened. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.background]);
    await Promise.all([this.fills.drain(), this.refreshes.drain()]);
    if (this.ownsStore) await this.store.close();
  }

  private resolveCall<T>(
    namespaces: Namespaces,
    key: string,
    compute: (context: ComputeContext) => Promise<T> | T,
    options: GetOrSetOptions<T>,
  ): ResolvedCall<T> {
    if (typeof compute !== 'function') throw new VersionedCacheTypeError('compute', 'must be a function');
    const policy = this.resolvePolicy(options);
    // Spelled out rather than spread: one object shape for every call keeps the hit path monomorphic.
    return {
      ttl: policy.ttl,
      graceMs: policy.graceMs,
      earlyBeta: policy.earlyBeta,
      codec: policy.codec,
      shouldStore: policy.shouldStore,
      yieldToRefresh: policy.yieldToRefresh,
      namespaces: this.normalised(namespaces),
      key: assertEntryKey(key),
      compute,
    };
  }

  /** Validated once per options object: callers that reuse one (every adapter route) skip the work on hits. */
  private resolvePolicy<T>(options: GetOrSetOptions<T>): CallPolicy<T> {
    // Only frozen options can be remembered: a mutable object may change between calls.
    const cached = this.policies.get(options);
    if (cached) return cached as CallPolicy<T>;
    assertKnownOptions('options', options, GET_OR_SET_OPTIONS);
    const { ttl, earlyRefresh } = options;
    const earlyBeta =
      earlyRefresh === true ? 1 : earlyRefresh === false || earlyRefresh === undefined ? 0 : earlyRefresh;
    if (typeof earlyBeta !== 'number' || !(earlyBeta >= 0)) {
      throw new VersionedCacheTypeError('earlyRefresh', 'must be a boolean or a non-negative number');
    }
    const policy: CallPolicy<T> = {
      ttl:
        typeof ttl === 'function' ? ttl : ttl === undefined ? this.options.ttlMs : parseDuration('ttl', ttl),
      graceMs: options.grace === undefined ? 0 : parseDuration('grace', options.grace, { allowZero: true }),
      earlyBeta,
      codec: options.codec ?? (jsonCodec as Codec<T>),
      shouldStore: options.shouldStore ?? (() => true),
      yieldToRefresh: (options as { [YIELD_TO_REFRESH]?: boolean })[YIELD_TO_REFRESH] === true,
    };
    if (Object.isFrozen(options)) this.policies.set(options, policy as CallPolicy<unknown>);
    return policy;
  }

  /** Normalising and validating namespace lists is a hit-path cost worth paying once per list. */
  private normalised(namespaces: Namespaces): readonly string[] {
    if (typeof namespaces !== 'string') {
      if (!Array.isArray(namespaces)) return normaliseNamespaces(namespaces);
      // A frozen list (every adapter route passes the same one) cannot change: remember it by identity.
      const known = this.frozenLists.get(namespaces);
      if (known) return known;
      if (Object.isFrozen(namespaces)) {
        const list = Object.freeze(normaliseNamespaces(namespaces));
        this.frozenLists.set(namespaces, list);
        return list;
      }
    }
    // Valid names hold no control characters, so the separator cannot make two lists collide.
    const id = typeof namespaces === 'string' ? namespaces : namespaces.join('\u0000');
    let list = this.namespaceLists.get(id);
    if (!list) {
      list = Object.freeze(normaliseNamespaces(namespaces));
      this.namespaceLists.set(id, list);
    }
    return list;
  }

  private versionKeysOf(namespaces: readonly string[]): readonly string[] {
    let keys = this.versionKeyLists.get(namespaces);
    if (!keys) {
      keys = namespaces.map((ns) => this.keys.versionKey(ns));
      this.versionKeyLists.set(namespaces, keys);
    }
    return keys;
  }

  /**
   * Reads the versions and the entry. When this process has seen every version before, one MGET
   * reads versions and the entry at those versions together; only when a version moved is a second
   * read needed.
   */
  private async locate<T>(call: ResolvedCall<T>): Promise<Guarded<Located>> {
    const { namespaces } = call;
    const versionKeys = this.versionKeysOf(namespaces);
    const known: string[] = [];
    for (const ns of namespaces) {
      const version = this.knownVersions.get(ns);
      if (version === undefined) break;
      known.push(version);
    }
    const guessedKey =
      known.length === namespaces.length ? this.keys.entryKey(namespaces, known, call.key) : null;
    // A grace call also reads the namespace's previous-version record, in the same MGET.
    const recordKey =
      call.graceMs > 0 && namespaces.length === 1 ? this.keys.previousKey(namespaces[0]!) : null;
    const base = guessedKey ? [...versionKeys, guessedKey] : versionKeys;
    const first = await this.guard('read', () => this.store.getMany(recordKey ? [...base, recordKey] : base));
    if (first === FAILED) return FAILED;
    const record = recordKey ? first[base.length] : null;

    const versions: string[] = [];
    for (let i = 0; i < namespaces.length; i++) {
      const raw = first[i];
      const version = raw
        ? raw.toString()
        : await this.guard('create version', () => this.createVersion(versionKeys[i]!));
      if (version === FAILED) return FAILED;
      versions.push(version);
      if (version !== known[i]) this.rememberVersion(namespaces[i]!, version);
    }
    const entryKey = this.keys.entryKey(namespaces, versions, call.key);
    if (entryKey === guessedKey) {
      const raw = first[namespaces.length];
      const entry = raw ? this.readEntry(raw) : null;
      if (entry && this.isFresh(entry)) return { versions, entryKey, entry, stale: null };
      if (entry && this.withinGrace(entry, call.graceMs))
        return { versions, entryKey, entry: null, stale: entry };
      // A miss at versions this process already knew (it bumped them itself, or an earlier request
      // learnt them): with grace, the previous generation may still answer while one refresh runs.
      const previousKey = call.graceMs > 0 ? this.previousEntryKey(call, known, versions, record) : null;
      if (!previousKey) return { versions, entryKey, entry: null, stale: null };
      const read = await this.guard('read', () => this.store.getMany([previousKey]));
      if (read === FAILED) return FAILED;
      const previous = read[0] ? this.readEntry(read[0]) : null;
      const stale = previous && this.withinGrace(previous, call.graceMs) ? previous : null;
      return { versions, entryKey, entry: null, stale };
    }

    const previousKey = call.graceMs > 0 ? this.previousEntryKey(call, known, versions, record) : null;
    const second = await this.guard('read', () =>
      this.store.getMany(previousKey ? [entryKey, previousKey] : [entryKey]),
    );
    if (second === FAILED) return FAILED;
    const entry = second[0] ? this.readEntry(second[0]) : null;
    const previous = second[1] ? this.readEntry(second[1]) : null;
    if (entry && this.isFresh(entry)) return { versions, entryKey, entry, stale: null };
    const stale = [entry, previous].find((e) => e && this.withinGrace(e, call.graceMs)) ?? null;
    return { versions, entryKey, entry: null, stale };
  }

  /**
   * Where the previous generation of this entry lives: at the versions this call expected, when
   * they moved under it; else at the versions before the last change this process saw; else, for a
   * process that saw none, the one the bump recorded (a single namespace only: with several we
   * cannot tell which one moved).
   */
  private previousEntryKey<T>(
    call: ResolvedCall<T>,
    known: readonly string[],
    current: readonly string[],
    record: Buffer | null | undefined,
  ): string | null {
    const moved = (versions: readonly string[]) => versions.some((version, i) => version !== current[i]);
    if (known.length === current.length && moved(known)) {
      return this.keys.entryKey(call.namespaces, known, call.key);
    }
    const before = current.map((version, i) => this.previousVersions.get(call.namespaces[i]!) ?? version);
    if (moved(before)) return this.keys.entryKey(call.namespaces, before, call.key);
    const previous = current.length === 1 ? previousFromRecord(record, current[0]!) : null;
    return previous === null ? null : this.keys.entryKey(call.namespaces, [previous], call.key);
  }

  private rememberVersion(ns: string, version: string): void {
    const known = this.knownVersions.get(ns);
    if (known === version) return;
    if (known !== undefined) this.previousVersions.set(ns, known);
    this.knownVersions.set(ns, version);
  }

  private async miss<T>(
    call: ResolvedCall<T>,
    located: Located,
    stale: Entry | null,
  ): Promise<CacheResult<T>> {
    if (stale) {
      const value = this.decode(call, stale);
      if (value !== FAILED) {
        this.refresh(call, located);
        return { value, status: 'STALE', createdAt: stale.createdAt, stored: false };
      }
    }
    const { promise, leader } = this.fills.run(
      located.entryKey,
      () => this.fill(call, located) as Promise<Fill<unknown>>,
    );
    const fill = (await promise) as Fill<T>;
    // An unstorable value (for HTTP: a response with Set-Cookie, an error page) belongs to the caller
    // that computed it; everyone else computes their own.
    if (leader || fill.stored || fill.status === 'HIT') return fill;
    return this.computeOnly(call, 'MISS');
  }

  /** Starts a background refresh unless one for this entry is already under way here. */
  private refresh<T>(call: ResolvedCall<T>, located: Located): void {
    const { entryKey } = located;
    if (this.closed || this.fills.has(entryKey) || this.refreshes.has(entryKey)) return;
    const { promise } = this.refreshes.run(
      entryKey,
      () => this.fill(call, located, { background: true }) as Promise<Fill<unknown> | null>,
    );
    const tracked = promise.catch((error: unknown) =>
      this.report(
        new VersionedCacheError('VC_REFRESH_FAILED', 'versioned-cache: background refresh failed', {
          cause: error,
        }),
      ),
    );
    this.track(tracked);
  }

  /** Work that outlives its request; `close()` waits for it. */
  private track(promise: Promise<unknown>): void {
    this.background.add(promise);
    void promise.finally(() => this.background.delete(promise));
  }

  /**
   * Computes and stores one entry, holding a lease so that one process computes while the others
   * wait for its result (bounded), or give up at once when refreshing in the background.
   */
  private async fill<T>(call: ResolvedCall<T>, located: Located): Promise<Fill<T>>;
  private async fill<T>(
    call: ResolvedCall<T>,
    located: Located,
    mode: { background: true },
  ): Promise<Fill<T> | null>;
  private async fill<T>(
    call: ResolvedCall<T>,
    located: Located,
    { background = false } = {},
  ): Promise<Fill<T> | null> {
    const { lease } = this.options;
    if (!lease) return this.computeAndStore(call, located, background);
    const leaseKey = this.keys.leaseKey(located.entryKey);
    const token = background ? `${REFRESH_LEASE}${randomUUID()}` : randomUUID();
    const deadline = Date.now() + lease.maxWaitMs;
    for (;;) {
      const acquired = await this.guard('acquire lease', () =>
        this.store.setIfAbsent(leaseKey, token, lease.ttlMs),
      );
      if (acquired === FAILED) return this.computeAndStore(call, located, background);
      if (acquired) {
        try {
          const filled = await this.filledSince(call, located);
          if (filled) return filled;
          return await this.computeAndStore(call, located, background);
        } finally {
          // Not awaited: the value is ready, and waiters also see the entry itself.
          this.track(this.guard('release lease', () => this.store.deleteIfEquals(leaseKey, token)));
        }
      }
      // Another process holds the lease and refreshes; the caller already answered from stale.
      if (background) return null;
      const filled = await this.waitForFill(call, located.entryKey, leaseKey, deadline);
      if (filled === 'lease-free') continue;
      if (filled === 'timeout' || filled === 'refreshing') return this.computeAndStore(call, located);
      return filled;
    }
  }

  /** Polls for another process's fill until it lands, its lease disappears, or the deadline. */
  private async waitForFill<T>(
    call: ResolvedCall<T>,
    entryKey: string,
    leaseKey: string,
    deadline: number,
  ): Promise<Fill<T> | 'lease-free' | 'timeout' | 'refreshing'> {
    const { pollMs } = this.options.lease as { pollMs: number };
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return 'timeout';
      await sleep(Math.min(pollMs, remaining));
      const read = await this.guard('read', () => this.store.getMany([entryKey, leaseKey]));
      if (read === FAILED) return 'timeout';
      const entry = read[0] ? this.readEntry(read[0]) : null;
      // Only a fresh entry is the fill: an expired one kept for grace routes must not reach this caller.
      if (entry && this.isFresh(entry)) {
        const value = this.decode(call, entry);
        if (value !== FAILED) return { value, status: 'HIT', createdAt: entry.createdAt, stored: false };
      }
      if (!read[1]) return 'lease-free';
      // A background refresh holds the lease: its caller has grace and this one none, so they are two
      // policies of one key, and this one asked to let its compute route the request instead.
      if (call.yieldToRefresh && call.graceMs === 0 && read[1].toString().startsWith(REFRESH_LEASE))
        return 'refreshing';
    }
  }

  /**
   * The entry another process stored between our read and our lease (it filled, then released its
   * lease just before we asked): serving it saves a second computation of the same entry.
   */
  private async filledSince<T>(call: ResolvedCall<T>, located: Located): Promise<Fill<T> | null> {
    const read = await this.guard('read', () => this.store.getMany([located.entryKey]));
    if (read === FAILED || !read[0]) return null;
    const entry = this.readEntry(read[0]);
    // An early refresh starts from a fresh entry: only a different one shows that someone refreshed.
    if (!entry || !this.isFresh(entry) || entry.createdAt === located.entry?.createdAt) return null;
    const value = this.decode(call, entry);
    return value === FAILED ? null : { value, status: 'HIT', createdAt: entry.createdAt, stored: false };
  }

  private async computeAndStore<T>(
    call: ResolvedCall<T>,
    located: Located,
    background = false,
  ): Promise<Fill<T>> {
    const startedAt = Date.now();
    let value: T;
    try {
      value = await call.compute({ background });
    } catch (error) {
      const stale = located.stale ? this.decode(call, located.stale) : FAILED;
      if (stale === FAILED) throw error;
      this.report(
        new VersionedCacheError('VC_REFRESH_FAILED', 'versioned-cache: computation failed; served stale', {
          cause: error,
        }),
      );
      return { value: stale, status: 'STALE', createdAt: located.stale!.createdAt, stored: false };
    }
    const createdAt = Date.now();
    if (!call.shouldStore(value)) return { value, status: 'MISS', createdAt, stored: false };
    const ttlMs = typeof call.ttl === 'function' ? parseDuration('ttl', call.ttl(value)) : call.ttl;
    const freshMs = Math.max(1, Math.round(ttlMs * (1 - this.options.jitter * Math.random())));
    let bytes: Buffer;
    try {
      bytes = encodeEntry(
        { createdAt, ttlMs: freshMs, graceMs: call.graceMs, computeMs: createdAt - startedAt },
        call.codec.encode(value),
      );
    } catch (error) {
      this.report(
        new VersionedCacheError('VC_DECODE_ERROR', 'versioned-cache: value could not be encoded', {
          cause: error,
        }),
      );
      return { value, status: 'MISS', createdAt, stored: false };
    }
    const written = await this.guard('write', () =>
      this.store.set(located.entryKey, bytes, freshMs + call.graceMs),
    );
    return { value, status: 'MISS', createdAt, stored: written !== FAILED };
  }

  /** Redis unusable: answer from the computation alone. */
  private async bypass<T>(call: ResolvedCall<T>): Promise<CacheResult<T>> {
    return this.computeOnly(call, 'BYPASS');
  }

  private async computeOnly<T>(call: ResolvedCall<T>, status: CacheStatus): Promise<CacheResult<T>> {
    const value = await call.compute({ background: false });
    return { value, status, createdAt: Date.now(), stored: false };
  }

  private shouldRefreshEarly(entry: Entry, beta: number): boolean {
    // XFetch (Vattani et al.): refresh with a probability that grows as expiry nears, scaled by
    // how long the value takes to compute.
    const expiresAt = entry.createdAt + entry.ttlMs;
    return Date.now() - Math.max(entry.computeMs, 1) * beta * Math.log(Math.random()) >= expiresAt;
  }

  private isFresh(entry: Entry): boolean {
    return Date.now() < entry.createdAt + entry.ttlMs;
  }

  private withinGrace(entry: Entry, routeGraceMs: number): boolean {
    return routeGraceMs > 0 && Date.now() < entry.createdAt + entry.ttlMs + routeGraceMs;
  }

  private readEntry(raw: Buffer): Entry | null {
    const entry = decodeEntry(raw);
    if (!entry)
      this.report(
        new VersionedCacheError('VC_DECODE_ERROR', 'versioned-cache: ignored an entry of unknown format'),
      );
    return entry;
  }

  private decode<T>(call: ResolvedCall<T>, entry: Entry): Guarded<T> {
    try {
      return call.codec.decode(entry.payload);
    } catch (error) {
      this.report(
        new VersionedCacheError('VC_DECODE_ERROR', 'versioned-cache: entry could not be decoded', {
          cause: error,
        }),
      );
      return FAILED;
    }
  }

  private async createVersion(versionKey: string): Promise<string> {
    const start = randomVersion();
    if (await this.store.setIfAbsent(versionKey, start)) return start;
    // Lost the race to another process: use the version it created.
    const [current] = await this.store.getMany([versionKey]);
    if (current) return current.toString();
    throw new VersionedCacheError(
      'VC_STORE_ERROR',
      `versioned-cache: version ${versionKey} vanished while being created`,
    );
  }

  private async bump(ns: string): Promise<string> {
    const { version, previous } = await this.mustSucceed('invalidate', () =>
      this.store.advanceVersion(this.keys.versionKey(ns), randomVersion(), {
        previousKey: this.keys.previousKey(ns),
        durability: this.options.durability || undefined,
      }),
    );
    if (previous !== null) this.previousVersions.set(ns, previous);
    this.knownVersions.set(ns, version);
    return version;
  }

  /**
   * With `invalidationInterval`, a burst of invalidations becomes one bump now and one trailing
   * bump at the end of the interval; every caller's promise resolves after a bump that followed it.
   */
  private coalescedBump(ns: string): Promise<string> {
    const interval = this.options.invalidationIntervalMs;
    if (interval === 0) return this.bump(ns);
    const now = Date.now();
    const state = this.pendingBumps.get(ns);
    if (!state || now - state.at >= interval) {
      this.pendingBumps.set(ns, { at: now, promise: null });
      return this.bump(ns);
    }
    if (state.promise) return state.promise;
    const trailing = sleep(state.at + interval - now).then(() => {
      this.pendingBumps.set(ns, { at: Date.now(), promise: null });
      return this.bump(ns);
    });
    state.promise = trailing;
    return trailing;
  }

  /**
   * Warm invalidation: compute the warmers' entries under a fresh, unpublished version, then publish
   * it with a compare-and-set. If another invalidation moved the version meanwhile, it came after
   * this call began and so already covers it; we warm again against it, a few times at most.
   */
  private async publishWarm(ns: string): Promise<void> {
    const versionKey = this.keys.versionKey(ns);
    for (let attempt = 0; attempt < WARM_PUBLISH_ATTEMPTS; attempt++) {
      const current = await this.version(ns);
      const next = randomVersion();
      await this.computeWarmers(ns, next);
      const published = await this.mustSucceed('invalidate', () =>
        this.store.compareAndSet(versionKey, current, next, this.keys.previousKey(ns)),
      );
      if (published) {
        this.previousVersions.set(ns, current);
        this.knownVersions.set(ns, next);
        return;
      }
    }
  }

  private async computeWarmers(ns: string, nextVersion: string): Promise<void> {
    const warmers = [...(this.warmers.get(ns) ?? [])];
    await Promise.all(
      warmers.map(async (warmer) => {
        const call = this.resolveCall(warmer.namespaces, warmer.key, warmer.compute, warmer.options ?? {});
        const versions: string[] = [];
        for (const other of call.namespaces)
          versions.push(other === ns ? nextVersion : await this.version(other));
        const entryKey = this.keys.entryKey(call.namespaces, versions, call.key);
        try {
          await this.computeAndStore(call, { versions, entryKey, entry: null, stale: null });
        } catch (error) {
          this.report(
            new VersionedCacheError('VC_REFRESH_FAILED', `versioned-cache: warmer '${warmer.key}' failed`, {
              cause: error,
            }),
          );
        }
      }),
    );
  }

  /** The one place store faults are absorbed: bounded by the timeout, reported, never thrown. */
  private async guard<T>(operation: string, run: () => Promise<T>): Promise<Guarded<T>> {
    try {
      return await this.withTimeout(operation, run);
    } catch (error) {
      this.report(toStoreError(operation, error));
      return FAILED;
    }
  }

  /** For operations whose failure the caller must hear of (invalidation): reported and rethrown. */
  private async mustSucceed<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await this.withTimeout(operation, run);
    } catch (error) {
      const wrapped = toStoreError(operation, error);
      this.report(wrapped);
      throw wrapped;
    }
  }

  private withTimeout<T>(operation: string, run: () => Promise<T>): Promise<T> {
    if (this.store.boundsLatency) return run();
    const timeoutMs = this.options.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreTimeoutError(operation, timeoutMs)), timeoutMs);
      timer.unref();
    });
    return Promise.race([run(), timeout]).finally(() => clearTimeout(timer));
  }

  private report(error: VersionedCacheError): void {
    this.options.onError?.(error);
    for (const listener of this.errorListeners) listener(error);
    if (this.options.onError || this.errorListeners.size > 0) return;
    const now = Date.now();
    if (now - (this.lastWarned.get(error.code) ?? 0) < 60_000) return;
    this.lastWarned.set(error.code, now);
    process.emitWarning(error.message, { code: error.code });
  }

  private assertOpen(): void {
    if (this.closed) throw new VersionedCacheError('VC_CLOSED', 'versioned-cache: the cache is closed');
  }
}

/** Creates a cache: Redis when `redis` is given, the embedded memory store otherwise. */
export function createCache(options?: CacheOptions): VersionedCache {
  return new VersionedCache(options);
}
