import type { Entry } from '../envelope.js';
import { VersionedCacheError } from '../errors.js';
import { SingleFlight } from '../single-flight.js';
import type { BackgroundWork } from './background.js';
import { type CallGuard, FAILED } from './call-guard.js';
import type { ResolvedCall } from './call-policy.js';
import type { EntryDecoder } from './entries.js';
import type { Filler } from './filler.js';
import type { Located } from './reader.js';
import type { CacheResult } from './types.js';

/**
 * Answers from material that is not fresh while one refresh runs in the background: an entry in
 * its grace period or the previous generation's (stale-while-revalidate), and hits that XFetch
 * picks to refresh before they expire.
 */
export class StaleServer {
  /** Background refreshes apart from fills, so that a waiting request never joins one that may give up. */
  private readonly refreshes = new SingleFlight<CacheResult<unknown> | null>();

  constructor(
    private readonly guard: CallGuard,
    private readonly entries: EntryDecoder,
    private readonly filler: Filler,
    private readonly background: BackgroundWork,
  ) {}

  /** The located stale entry as a STALE answer, with a refresh started; null when there is none. */
  serve<T>(call: ResolvedCall<T>, located: Located): CacheResult<T> | null {
    const { stale } = located;
    if (!stale) return null;
    const value = this.entries.value(call, stale);
    if (value === FAILED) return null;
    this.refresh(call, located);
    return { value, status: 'STALE', createdAt: stale.createdAt, stored: false };
  }

  /** On a hit with early refresh, starts a refresh when XFetch picks this entry to recompute before it expires. */
  refreshEarly<T>(call: ResolvedCall<T>, located: Located, entry: Entry): void {
    if (shouldRefreshEarly(entry, call.earlyBeta)) this.refresh(call, located);
  }

  /** Resolves once every refresh under way has settled. */
  drain(): Promise<void> {
    return this.refreshes.drain();
  }

  /** Starts a background refresh unless one for this entry is already under way here. */
  private refresh<T>(call: ResolvedCall<T>, located: Located): void {
    const { entryKey } = located;
    if (this.background.closed || this.filler.isFilling(entryKey) || this.refreshes.has(entryKey)) return;
    // Its caller is answered already: the refresh is a call of its own, with its own deadline.
    const deadline = this.guard.begin();
    const { promise } = this.refreshes.run(
      entryKey,
      () =>
        this.filler.fill(call, located, deadline, {
          background: true,
        }) as Promise<CacheResult<unknown> | null>,
    );
    const tracked = promise.catch((error: unknown) =>
      this.guard.report(
        new VersionedCacheError('VC_REFRESH_FAILED', 'versioned-cache: background refresh failed', {
          cause: error,
        }),
      ),
    );
    this.background.track(tracked);
  }
}

function shouldRefreshEarly(entry: Entry, beta: number): boolean {
  // XFetch (Vattani et al.): refresh with a probability that grows as expiry nears, scaled by
  // how long the value takes to compute.
  const expiresAt = entry.createdAt + entry.ttlMs;
  return Date.now() - Math.max(entry.computeMs, 1) * beta * Math.log(Math.random()) >= expiresAt;
}
