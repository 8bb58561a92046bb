import type { CacheStore } from '../stores/store.js';
import type { BackgroundWork } from './background.js';
import { type CallGuard, FAILED } from './call-guard.js';

/**
 * Keeps a fill lease alive while its holder computes, and lets it go. The lease is short, so that a
 * holder that dies or loses Redis frees it within one TTL; a live holder renews it every third of
 * its TTL, so that a computation longer than the TTL is not duplicated. Renewals and releases are
 * background work with budgets of their own: they never add to the latency of the call that holds
 * the lease, and none of them can reject unhandled.
 */
export class LeaseKeeper {
  constructor(
    private readonly store: CacheStore,
    private readonly guard: CallGuard,
    private readonly background: BackgroundWork,
    private readonly ttlMs: number,
  ) {}

  /** Runs `work` (the computation) while renewing the lease; renewing stops once the lease is lost. */
  async renewing<T>(leaseKey: string, token: string, work: () => Promise<T>): Promise<T> {
    let lost = false;
    const renew = () => {
      if (lost) return;
      const renewal = this.guard
        .run('renew lease', this.guard.begin(), () => this.store.renewLease(leaseKey, token, this.ttlMs))
        .then((renewed) => {
          // Taken over after it expired: the entry is still written, but the lease is not ours.
          if (renewed === false) lost = true;
        });
      this.background.track(renewal);
    };
    const timer = setInterval(renew, Math.max(1, Math.floor(this.ttlMs / 3)));
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  /** Releases the lease in the background, retried once; past that, its TTL frees it. */
  release(leaseKey: string, token: string): void {
    const attempt = () =>
      this.guard.run(
        'release lease',
        this.guard.begin(),
        () => this.store.deleteIfEquals(leaseKey, token),
        leaseKey,
      );
    this.background.track(attempt().then((released) => (released === FAILED ? attempt() : released)));
  }
}
