import { VersionedCacheError, VersionedCacheTypeError } from '../errors.js';
import type { KeySchema } from '../keys.js';
import type { CacheStore } from '../stores/store.js';
import type { Recovery } from './breaker.js';
import { type InvalidationEvent, publishInvalidation } from './breaker-events.js';
import type { ResolvedPendingInvalidations } from './breaker-options.js';
import type { CallGuard, Deadline } from './call-guard.js';

/** What an invalidation that cannot be made does: reject its caller, or wait in the queue for retry. */
export type OnFailure = 'reject' | 'recover';

/** One version bump, not coalesced; `recovery` lets it through a breaker that waits for it. */
export type Bump = (ns: string, deadline: Deadline, recovery: boolean) => Promise<unknown>;

const FIRST_RETRY_MS = 50;
// Faults of the store, or of the way to it: the bump may land later. Anything else is the caller's.
const RECOVERABLE = new Set([
  'VC_STORE_TIMEOUT',
  'VC_STORE_UNAVAILABLE',
  'VC_STORE_ERROR',
  'VC_CIRCUIT_OPEN',
]);

interface Pending {
  /** Invalidations of the namespace since it was queued: a bump lands them all if none joined during it. */
  joins: number;
  attempts: number;
  since: number;
  inFlight: boolean;
}

/** `durable`: the cache asks for durable invalidations, which a queue held in one process cannot give. */
export function assertOnFailure(value: unknown, durable: boolean): OnFailure {
  if (value === undefined || value === 'reject') return 'reject';
  if (value !== 'recover') {
    throw new VersionedCacheTypeError('onFailure', `must be 'reject' or 'recover', got ${String(value)}`);
  }
  if (durable) {
    throw new VersionedCacheTypeError(
      'onFailure',
      "'recover' cannot be combined with the cache's durability: a queued invalidation lives in this process only",
    );
  }
  return value;
}

/**
 * Invalidations that could not be made, kept until they land: one entry per namespace (many
 * invalidations of it need one bump), bounded, retried with backoff and at once when a breaker
 * half-opens. While a namespace is pending this process neither reads nor stores its entries, so
 * that the generation it invalidated cannot come back from this process.
 */
export class PendingInvalidations implements Recovery {
  /** Namespaces pending; the hit path reads this one field. */
  count = 0;
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private delayMs = FIRST_RETRY_MS;
  private retrying: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(
    private readonly guard: CallGuard,
    private readonly keys: KeySchema,
    private readonly store: CacheStore,
    private readonly options: ResolvedPendingInvalidations,
    private readonly bump: Bump,
  ) {
    guard.breakers?.attach(this);
  }

  /** Whether a call on these namespaces must bypass the cache (compute, neither read nor store). */
  blocks(namespaces: readonly string[]): boolean {
    for (const ns of namespaces) if (this.pending.has(ns)) return true;
    return false;
  }

  /** Runs one invalidation of `ns`; with 'recover', a store fault queues it instead of rejecting. */
  async invalidate(ns: string, onFailure: OnFailure, attempt: () => Promise<unknown>): Promise<void> {
    const entry = this.pending.get(ns);
    if (entry && onFailure === 'recover') {
      // Its next retry starts after this call: one bump covers both.
      entry.joins++;
      return;
    }
    const joins = entry?.joins;
    try {
      await attempt();
    } catch (error) {
      if (onFailure === 'reject' || !(error instanceof VersionedCacheError) || !RECOVERABLE.has(error.code))
        throw error;
      this.queue(ns, error);
      return;
    }
    // A bump that began after every invalidation of a pending namespace lands them as well.
    if (entry && this.pending.get(ns) === entry && entry.joins === joins) this.landed(ns, entry);
  }

  pendingOn(node: string): boolean {
    const { breakers } = this.guard;
    for (const ns of this.pending.keys()) {
      if (!breakers || breakers.nodeOf(this.keys.versionKey(ns)) === node) return true;
    }
    return false;
  }

  retry(): void {
    if (this.pending.size === 0 || this.closed) return;
    if (this.retrying) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    // Not from inside the breaker's check that asked for it: the retries go through that check.
    this.timer = setTimeout(() => this.retryAll(), 0);
    this.timer.unref();
  }

  /** One last attempt; what still does not land is reported, never dropped in silence. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.retrying;
    if (this.pending.size > 0) await this.retryAll(false);
    for (const [ns, entry] of this.pending) {
      this.publish('dropped', ns, entry);
      this.guard.report(
        new VersionedCacheError(
          'VC_CLOSED',
          `versioned-cache: the invalidation of '${ns}' was still pending when the cache closed`,
        ),
      );
    }
    this.pending.clear();
    this.count = 0;
  }

  private queue(ns: string, cause: VersionedCacheError): void {
    const since = Date.now();
    if (this.pending.size >= this.options.max) {
      this.publish('dropped', ns, { joins: 1, attempts: 0, since, inFlight: false });
      const error = new VersionedCacheError(
        'VC_INVALIDATION_QUEUE_FULL',
        `versioned-cache: the invalidation of '${ns}' failed and ${this.options.max} namespaces already ` +
          'wait for retry',
        { cause },
      );
      this.guard.report(error);
      throw error;
    }
    const entry: Pending = { joins: 1, attempts: 0, since, inFlight: false };
    this.pending.set(ns, entry);
    this.count = this.pending.size;
    this.publish('queued', ns, entry);
    this.schedule();
  }

  private landed(ns: string, entry: Pending): void {
    this.pending.delete(ns);
    this.count = this.pending.size;
    this.publish('landed', ns, entry);
  }

  private schedule(): void {
    if (this.timer || this.retrying || this.pending.size === 0 || this.closed) return;
    this.timer = setTimeout(() => this.retryAll(), this.delayMs);
    // A process may exit with invalidations pending while Redis is down; `close()` reports them.
    this.timer.unref();
  }

  /** Retries every pending namespace: per node, one first, and the rest only if it lands. */
  private retryAll(reschedule = true): Promise<void> {
    this.timer = null;
    this.again = false;
    const byNode = new Map<string, [string, Pending][]>();
    for (const item of this.pending) {
      if (item[1].inFlight) continue;
      const node = this.guard.breakers?.nodeOf(this.keys.versionKey(item[0])) ?? this.store.kind;
      const group = byNode.get(node);
      if (group) group.push(item);
      else byNode.set(node, [item]);
    }
    const retrying = (async () => {
      const landed = await Promise.all(
        [...byNode.values()].map(async ([first, ...rest]) => {
          if (!(await this.retryOne(first!))) return 0;
          return 1 + (await Promise.all(rest.map((item) => this.retryOne(item)))).filter(Boolean).length;
        }),
      );
      const any = landed.some((n) => n > 0);
      this.delayMs = any ? FIRST_RETRY_MS : Math.min(this.delayMs * 2, this.options.maxRetryDelayMs);
      if (any) this.guard.breakers?.recovered();
    })().finally(() => {
      this.retrying = null;
      if (!reschedule) return;
      if (this.again) this.retry();
      else this.schedule();
    });
    this.retrying = retrying;
    return retrying;
  }

  private async retryOne([ns, entry]: [string, Pending]): Promise<boolean> {
    const joins = entry.joins;
    entry.inFlight = true;
    entry.attempts++;
    try {
      await this.bump(ns, this.guard.begin(), true);
    } catch {
      // Reported by the guard (or refused by an open breaker); the namespace stays pending.
      return false;
    } finally {
      entry.inFlight = false;
    }
    if (this.pending.get(ns) !== entry) return true;
    if (entry.joins !== joins) {
      // Invalidated again while the bump was under way: it may have been made before, so one more.
      this.again = true;
      return true;
    }
    this.landed(ns, entry);
    return true;
  }

  private publish(state: InvalidationEvent['state'], namespace: string, entry: Pending): void {
    publishInvalidation(() => ({
      state,
      namespace,
      store: this.store,
      attempts: entry.attempts,
      pendingMs: state === 'queued' ? 0 : Date.now() - entry.since,
    }));
  }
}
