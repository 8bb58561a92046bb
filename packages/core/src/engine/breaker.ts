import { VersionedCacheError } from '../errors.js';
import type { CacheStore } from '../stores/store.js';
import { publishBreaker } from './breaker-events.js';
import type { ResolvedBreaker } from './breaker-options.js';

/** The key(s) a store step touches: how the registry finds the node(s) it runs on. */
export type Route = string | readonly string[];

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
type State = typeof CLOSED | typeof OPEN | typeof HALF_OPEN;
const STATE_NAMES = ['closed', 'open', 'half-open'] as const;

const SWEEP_MIN_MS = 10_000;

/** What `admit` answers when a breaker refuses the step. */
export const REFUSED: unique symbol = Symbol('breaker-refused');

// Replies of a node that is up but cannot serve (cluster state fail, a replica without its master,
// a node loading its dataset): the node is as unusable as a dead one.
const REFUSING_REPLY = /^(CLUSTERDOWN|MASTERDOWN|LOADING|TRYAGAIN)\b/;

/** Faults that say the node cannot serve. Other replies (WRONGTYPE, OOM) show that it answered. */
export function isNodeFault(error: VersionedCacheError): boolean {
  if (error.code === 'VC_STORE_TIMEOUT' || error.code === 'VC_STORE_UNAVAILABLE') return true;
  const { cause } = error;
  return error.code === 'VC_STORE_ERROR' && cause instanceof Error && REFUSING_REPLY.test(cause.message);
}

/** The node a store named on a fault of a step that spanned several (Redis Cluster, several slots). */
function faultNode(error: VersionedCacheError): string | undefined {
  const own = (error as { node?: unknown }).node;
  if (typeof own === 'string') return own;
  const fromCause = (error.cause as { node?: unknown } | undefined)?.node;
  return typeof fromCause === 'string' ? fromCause : undefined;
}

/** How pending invalidations take part in a recovery: they land before a breaker closes. */
export interface Recovery {
  pendingOn(node: string): boolean;
  /** Retries the pending invalidations now (a breaker half-opened, or its probe succeeded). */
  retry(): void;
}

/**
 * One node's breaker. Closed: steps run, consecutive node faults are counted. Open: steps are
 * refused at once for the cool-down. Half-open: one step probes; when it succeeds, the node's pending
 * invalidations land first (only they may run), then the breaker closes; any fault opens it again.
 */
export class Breaker {
  state: State = CLOSED;
  failures = 0;
  private openedAt = 0;
  /** Last time a step asked this breaker while it was not clean; the registry forgets it when old. */
  askedAt = 0;
  private probeAt = 0;
  private probing = false;
  private verified = false;
  private troubled = false;
  private forgotten = false;

  constructor(
    readonly node: string,
    private readonly registry: BreakerRegistry,
  ) {}

  allow(recovery: boolean): boolean {
    if (this.state === CLOSED) return true;
    const now = Date.now();
    this.askedAt = now;
    const { coolDownMs } = this.registry.options;
    if (this.state === OPEN) {
      // Pending invalidations probe on their own backoff, cool-down or not: the sooner they land,
      // the shorter the time other processes may still serve what they invalidated.
      if (!recovery && now - this.openedAt < coolDownMs) return false;
      this.probing = false;
      this.verified = false;
      this.moveTo(HALF_OPEN);
    }
    if (this.verified) return recovery;
    // A probe that never settled (its step was not bounded) must not hold the breaker half-open.
    if (this.probing && now - this.probeAt < coolDownMs) return false;
    if (!recovery && this.registry.pendingOn(this.node)) {
      this.registry.recover();
      return false;
    }
    this.probing = true;
    this.probeAt = now;
    return true;
  }

  succeeded(): void {
    if (this.state === OPEN) return;
    if (this.state === CLOSED) {
      this.failures = 0;
      this.sync();
      return;
    }
    this.probing = false;
    this.verified = true;
    this.closeIfRecovered();
  }

  failed(error: VersionedCacheError): void {
    this.askedAt = Date.now();
    if (this.state === OPEN) return;
    if (this.state === CLOSED && ++this.failures < this.registry.options.threshold) {
      this.sync();
      return;
    }
    const wasClosed = this.state === CLOSED;
    this.openedAt = Date.now();
    this.moveTo(OPEN);
    // Reported once per outage; each failed probe is reported as the fault it met.
    if (wasClosed) this.registry.opened(this, error);
  }

  /** Closes a verified half-open breaker once no invalidation waits on its node; else retries them. */
  closeIfRecovered(): void {
    if (this.state !== HALF_OPEN || !this.verified) return;
    if (this.registry.pendingOn(this.node)) this.registry.recover();
    else {
      this.failures = 0;
      this.moveTo(CLOSED);
    }
  }

  private moveTo(state: State): void {
    this.state = state;
    this.sync();
    publishBreaker(() => ({
      state: STATE_NAMES[state],
      node: this.node,
      store: this.registry.store,
      failures: state === OPEN ? this.failures : 0,
    }));
  }

  /** Leaves the registry's count, when the registry forgets this breaker. */
  forget(): void {
    if (this.troubled) this.registry.troubled--;
    this.troubled = false;
    // A step still under way may settle on it: that must not count it again.
    this.forgotten = true;
  }

  /** Keeps the registry's count of breakers that are not closed and clean, the hit path's only check. */
  private sync(): void {
    const troubled = this.state !== CLOSED || this.failures !== 0;
    if (troubled === this.troubled || this.forgotten) return;
    this.troubled = troubled;
    this.registry.troubled += troubled ? 1 : -1;
  }
}

/**
 * The breakers of a store, one per node: one for a single connection (Redis, Sentinel), one per
 * master on Redis Cluster (the store's `nodeOf`), so that namespaces on healthy masters keep Redis.
 */
export class BreakerRegistry {
  /**
   * Breakers not closed, or closed with faults counted. While it is 0 a step needs no breaker at
   * all: the hit path reads this one field.
   */
  troubled = 0;
  private readonly single: Breaker | null;
  private readonly nodes = new Map<string, Breaker>();
  private recovery: Recovery | null = null;
  private sweptAt = Date.now();

  constructor(
    readonly store: CacheStore,
    readonly options: ResolvedBreaker,
    private readonly report: (error: VersionedCacheError) => void,
  ) {
    this.single = typeof store.nodeOf === 'function' ? null : new Breaker(store.kind, this);
  }

  attach(recovery: Recovery): void {
    this.recovery = recovery;
  }

  /** The node serving `key`. */
  nodeOf(key: string): string {
    return this.single ? this.single.node : this.store.nodeOf!(key);
  }

  /**
   * Before a step: the breaker that admitted it (the probe's, when half-open), null when no single
   * breaker speaks for it (no route, or several nodes, all closed), or REFUSED.
   */
  admit(route: Route | undefined, recovery: boolean): Breaker | null | typeof REFUSED {
    if (this.single) return this.single.allow(recovery) ? this.single : REFUSED;
    this.sweep();
    if (route === undefined) return null;
    if (typeof route === 'string' || route.length === 1) {
      const breaker = this.of(typeof route === 'string' ? route : route[0]!);
      return breaker.allow(recovery) ? breaker : REFUSED;
    }
    // A step over several nodes is never a probe: it runs only while each of its nodes is closed.
    for (const key of route) if (this.of(key).state !== CLOSED) return REFUSED;
    return null;
  }

  succeeded(breaker: Breaker | null, route: Route | undefined): void {
    if (breaker) breaker.succeeded();
    else if (this.single) this.single.succeeded();
    else if (typeof route === 'string') this.of(route).succeeded();
    else if (route !== undefined) for (const key of route) this.of(key).succeeded();
  }

  /** After a fault: counted against the node that failed, when it can be told. */
  failed(breaker: Breaker | null, route: Route | undefined, error: VersionedCacheError): void {
    if (!isNodeFault(error)) {
      // The node answered (WRONGTYPE, OOM): for the breaker that is a success.
      this.succeeded(breaker, route);
      return;
    }
    const node = faultNode(error);
    if (node !== undefined) this.breakerOf(node).failed(error);
    else if (breaker) breaker.failed(error);
    else if (this.single) this.single.failed(error);
    else if (typeof route === 'string') this.of(route).failed(error);
    else if (route !== undefined) {
      // Several nodes and no word on which one failed: only when they are one node can it be blamed.
      const nodes = new Set(route.map((key) => this.nodeOf(key)));
      if (nodes.size === 1) this.breakerOf(nodes.values().next().value!).failed(error);
    }
  }

  opened(breaker: Breaker, cause: VersionedCacheError): void {
    this.report(
      new VersionedCacheError(
        'VC_CIRCUIT_OPEN',
        `versioned-cache: ${breaker.node} failed ${breaker.failures} times in a row; calls skip it for ` +
          `${this.options.coolDownMs} ms, then one probes`,
        { cause },
      ),
    );
  }

  pendingOn(node: string): boolean {
    return this.recovery?.pendingOn(node) === true;
  }

  recover(): void {
    this.recovery?.retry();
  }

  /** Pending invalidations landed: breakers waiting on them may close. */
  recovered(): void {
    if (this.troubled === 0) return;
    if (this.single) this.single.closeIfRecovered();
    else for (const breaker of this.nodes.values()) breaker.closeIfRecovered();
  }

  /**
   * Forgets the breakers no step has asked for a while: after a failover the lost master serves no
   * slot, and its open breaker would otherwise keep every step off the one-field fast path.
   */
  private sweep(): void {
    const now = Date.now();
    const idleMs = Math.max(SWEEP_MIN_MS, 10 * this.options.coolDownMs);
    if (now - this.sweptAt < idleMs) return;
    this.sweptAt = now;
    for (const [node, breaker] of this.nodes) {
      if (now - breaker.askedAt < idleMs) continue;
      breaker.forget();
      this.nodes.delete(node);
    }
  }

  private of(key: string): Breaker {
    return this.breakerOf(this.nodeOf(key));
  }

  private breakerOf(node: string): Breaker {
    if (this.single) return this.single;
    let breaker = this.nodes.get(node);
    if (!breaker) {
      breaker = new Breaker(node, this);
      this.nodes.set(node, breaker);
    }
    return breaker;
  }
}
