import { Cluster, type Redis } from 'ioredis';
import type { Entry } from '../envelope.js';
import { type VersionedCacheError, VersionedCacheTypeError } from '../errors.js';
import type { KeySchema } from '../keys.js';
import { RedisStore } from '../stores/redis-store.js';
import type { CacheStore } from '../stores/store.js';
import { EntryTier } from './entry-tier.js';
import type { ResolvedL1Options } from './l1-options.js';
import { type TrackerStatus, VersionTracker } from './version-tracker.js';

/** A hit served from process memory, in the shape of the engine's own lookups. */
export interface TierHit {
  versions: readonly string[];
  entryKey: string;
  entry: Entry;
  stale: null;
}

/**
 * The in-process tier: entries in a bounded LRU, served only at versions the tracker vouches for.
 * Anything else (a version not yet tracked, tracking down, an entry not here) goes to Redis as
 * without the tier, and what Redis returns feeds the tier.
 */
export class L1Tier {
  readonly tracker: VersionTracker;
  private readonly entries: EntryTier;

  constructor(
    client: Redis,
    private readonly keys: KeySchema,
    options: ResolvedL1Options,
    onError?: (error: VersionedCacheError) => void,
  ) {
    this.entries = new EntryTier(options);
    this.tracker = new VersionTracker(client, onError ? { onError } : {});
    // Entries are only reachable through trusted versions, so this frees memory rather than
    // guarding correctness; it also keeps the tier empty for as long as tracking is down.
    this.tracker.on('down', () => this.entries.clear());
    this.tracker.on('invalidate', (keys) => {
      if (keys === null) this.entries.clear();
    });
  }

  get status(): TrackerStatus {
    return this.tracker.status;
  }

  /** Entries held in process memory. */
  get size(): number {
    return this.entries.size;
  }

  /** A fresh entry at the versions tracking vouches for, or null: then ask Redis. */
  locate(namespaces: readonly string[], versionKeys: readonly string[], key: string): TierHit | null {
    const versions: string[] = [];
    for (const versionKey of versionKeys) {
      const version = this.tracker.version(versionKey);
      if (version === undefined) return null;
      versions.push(version);
    }
    const entryKey = this.keys.entryKey(namespaces, versions, key);
    const entry = this.entries.get(entryKey);
    return entry ? { versions, entryKey, entry, stale: null } : null;
  }

  /**
   * After a lookup in Redis: start tracking its versions, and keep its fresh entry. An entry is
   * kept whatever the versions, since its key embeds them: it is served only once they are trusted.
   */
  remember(versionKeys: readonly string[], located: { entryKey: string; entry: Entry | null }): void {
    if (this.tracker.status !== 'up') return;
    void this.tracker.track(versionKeys);
    if (located.entry) this.entries.set(located.entryKey, located.entry);
  }

  /** This process changed these versions: trust them no more, without waiting for Redis to say so. */
  forget(versionKeys: readonly string[]): void {
    this.tracker.forget(versionKeys);
  }

  /** See {@link VersionTracker.sync}. */
  sync(): Promise<boolean> {
    return this.tracker.sync();
  }

  async close(): Promise<void> {
    this.entries.clear();
    await this.tracker.close();
  }
}

/** The tier for a cache's store, or undefined when `l1` is off; the options were checked at setup. */
export function createL1Tier(
  options: ResolvedL1Options | null,
  store: CacheStore,
  keys: KeySchema,
  onError: (error: VersionedCacheError) => void,
): L1Tier | undefined {
  if (!options) return undefined;
  if (!(store instanceof RedisStore) || store.client instanceof Cluster) {
    throw new VersionedCacheTypeError('l1', 'needs a standalone or Sentinel Redis store');
  }
  return new L1Tier(store.client, keys, options, onError);
}
