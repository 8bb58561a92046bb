import { channel } from 'node:diagnostics_channel';
import type { CacheStore } from '../stores/store.js';

/** A breaker changed state on one node. Published on `versioned-cache:breaker`. */
export interface BreakerEvent {
  state: 'open' | 'half-open' | 'closed';
  /** The node: a Redis Cluster master as `host:port`, or the store's kind for a single connection. */
  node: string;
  /** The store the breaker guards, so that a subscriber can tell caches apart. */
  store: CacheStore;
  /** Consecutive failures seen on the node when it opened (0 otherwise). */
  failures: number;
}

/**
 * An invalidation that could not be made at once (`onFailure: 'recover'`) went through the queue.
 * Published on `versioned-cache:invalidation`.
 */
export interface InvalidationEvent {
  /** queued: waits for retry; landed: the bump is made; dropped: the queue was full, or the cache closed. */
  state: 'queued' | 'landed' | 'dropped';
  namespace: string;
  store: CacheStore;
  /** Retries made so far. */
  attempts: number;
  /** Milliseconds since the namespace was queued (0 when queued). */
  pendingMs: number;
}

const breakerChannel = channel('versioned-cache:breaker');
const invalidationChannel = channel('versioned-cache:invalidation');

/** Publishes only when someone listens: building the message costs nothing otherwise. */
export function publishBreaker(event: () => BreakerEvent): void {
  if (breakerChannel.hasSubscribers) breakerChannel.publish(event());
}

export function publishInvalidation(event: () => InvalidationEvent): void {
  if (invalidationChannel.hasSubscribers) invalidationChannel.publish(event());
}
