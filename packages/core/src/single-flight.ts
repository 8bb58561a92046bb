/** Concurrent callers for one key share one promise; the key is forgotten once it settles. */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  get size(): number {
    return this.inFlight.size;
  }

  has(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Runs `work` unless a run for `key` is under way; `leader` tells the caller which happened. */
  run(key: string, work: () => Promise<T>): { promise: Promise<T>; leader: boolean } {
    const existing = this.inFlight.get(key);
    if (existing) return { promise: existing, leader: false };
    const promise = work().finally(() => {
      if (this.inFlight.get(key) === promise) this.inFlight.delete(key);
    });
    this.inFlight.set(key, promise);
    return { promise, leader: true };
  }

  /** Resolves once every run under way has settled. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }
}
