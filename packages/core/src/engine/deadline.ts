import { performance } from 'node:perf_hooks';

/**
 * The time budget of one public call: every store step of the call (locate, lease, poll, write,
 * bump) is bounded by what is left of it, so that the call as a whole, not each command, waits on
 * the store for at most `budgetMs`, whatever the client queues.
 *
 * The clock stops while the call waits for a computation: its own (`compute`, a warmer), or the
 * one another process runs under the fill lease. That time is the caller's own work, bounded by
 * `lease.maxWait` and the lease's TTL, not the store's latency; a store step made meanwhile (a poll)
 * is still bounded by what was left when the clock stopped.
 *
 * Monotonic time (`performance.now`): a wall-clock jump must not expire or extend a budget.
 */
export class Deadline {
  /** Epoch milliseconds when the call began, for the durations events report. */
  readonly startedAt = Date.now();
  private expiresAt: number;
  private pausedAt = 0;
  private pauses = 0;

  constructor(readonly budgetMs: number) {
    this.expiresAt = performance.now() + budgetMs;
  }

  /** Milliseconds left for store steps; constant while the clock is stopped. */
  remaining(): number {
    return this.expiresAt - (this.pauses > 0 ? this.pausedAt : performance.now());
  }

  /**
   * When store steps begun now must have ended, on the `performance.now()` clock: what `remaining()`
   * says, without reading the clock unless it is stopped.
   */
  expiry(): number {
    return this.pauses > 0 ? performance.now() + this.expiresAt - this.pausedAt : this.expiresAt;
  }

  /**
   * Runs a computation with the clock stopped. Nested or concurrent ones (warmers computed in
   * parallel) stop it once: the budget is extended by the time at least one of them ran.
   */
  async paused<T>(work: () => Promise<T> | T): Promise<T> {
    if (this.pauses++ === 0) this.pausedAt = performance.now();
    try {
      return await work();
    } finally {
      if (--this.pauses === 0) this.expiresAt += performance.now() - this.pausedAt;
    }
  }
}

/**
 * Whether a store that bounds each step by itself within `latencyBoundMs` (undefined: it does not)
 * answers within `remainingMs` without a timer of the cache's own.
 */
export function storeBoundsWithin(latencyBoundMs: number | undefined, remainingMs: number): boolean {
  return latencyBoundMs !== undefined && latencyBoundMs <= Math.max(0, remainingMs);
}
