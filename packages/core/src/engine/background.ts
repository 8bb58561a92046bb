/** Work that outlives the request that started it (refreshes, lease releases); closing waits for it. */
export class BackgroundWork {
  private readonly pending = new Set<Promise<unknown>>();
  private stopped = false;

  /** True once the cache is closing: no new background work starts. */
  get closed(): boolean {
    return this.stopped;
  }

  track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    // Both branches: a rejection here is already reported and must not become an unhandled one.
    const done = () => this.pending.delete(promise);
    promise.then(done, done);
  }

  /** Stops accepting work and resolves once everything tracked has settled. */
  async close(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.pending]);
  }
}
