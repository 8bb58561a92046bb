import { setTimeout as sleep } from 'node:timers/promises';
import type { KeySchema } from '../keys.js';
import type { CacheStore, DurabilityRequest } from '../stores/store.js';
import { randomVersion } from '../versions.js';
import type { CallGuard, Deadline } from './call-guard.js';
import { invalidated } from './events.js';
import type { Reader } from './reader.js';

export interface InvalidatorOptions {
  intervalMs: number;
  durability: DurabilityRequest | false;
}

/**
 * Invalidation: one atomic version bump per namespace (by a random step, created at a random start
 * when missing, the replaced version recorded beside it), whatever the number of entries;
 * optionally coalesced per namespace, optionally acknowledged by replicas (durability).
 */
export class Invalidator {
  private readonly pendingBumps = new Map<string, { at: number; promise: Promise<string> | null }>();

  constructor(
    private readonly store: CacheStore,
    private readonly keys: KeySchema,
    private readonly guard: CallGuard,
    private readonly reader: Reader,
    private readonly options: InvalidatorOptions,
  ) {}

  /** What a bump may wait on top of the cache's timeout: the replicas' acknowledgement (WAIT). */
  get waitMs(): number {
    return this.options.durability ? this.options.durability.timeoutMs : 0;
  }

  /**
   * With an interval, a burst of invalidations becomes one bump now and one trailing bump at the
   * end of the interval; every caller's promise resolves after a bump that followed it.
   */
  invalidate(ns: string, deadline: Deadline): Promise<string> {
    const interval = this.options.intervalMs;
    if (interval === 0) return this.bump(ns, deadline);
    const now = Date.now();
    const state = this.pendingBumps.get(ns);
    if (!state || now - state.at >= interval) {
      this.pendingBumps.set(ns, { at: now, promise: null });
      return this.bump(ns, deadline);
    }
    if (state.promise) return state.promise;
    const trailing = sleep(state.at + interval - now).then(() => {
      this.pendingBumps.set(ns, { at: Date.now(), promise: null });
      // The trailing bump answers every caller of the burst: it runs as a call of its own.
      return this.bump(ns, this.guard.begin(this.waitMs));
    });
    state.promise = trailing;
    return trailing;
  }

  /** One bump now, not coalesced; `recovery` marks the retry of a pending invalidation. */
  async bump(ns: string, deadline: Deadline, recovery = false): Promise<string> {
    const versionKey = this.keys.versionKey(ns);
    // The bump records the version it replaced, so that grace finds the previous generation even
    // in a process that never saw it (versions move by a random step, never re-issued).
    const { version, previous } = await this.guard.mustRun(
      'invalidate',
      deadline,
      () =>
        this.store.advanceVersion(versionKey, randomVersion(), {
          previousKey: this.keys.previousKey(ns),
          durability: this.options.durability || undefined,
        }),
      versionKey,
      recovery,
    );
    this.reader.moved(ns, previous, version);
    invalidated(ns, version, false, deadline);
    return version;
  }
}
