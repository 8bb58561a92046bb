import { StoreTimeoutError, toStoreError, VersionedCacheError, VersionedCacheTypeError } from '../errors.js';
import type { CacheStore } from '../stores/store.js';
import { type Breaker, BreakerRegistry, REFUSED, type Route } from './breaker.js';
import type { ResolvedBreaker } from './breaker-options.js';
import { Deadline, storeBoundsWithin } from './deadline.js';
import { failedOpen, reported } from './events.js';
import { FAILED, type Guarded } from './failed.js';
import type { ReadFaults } from './read-coalescer.js';

export { Deadline } from './deadline.js';

export { FAILED, type Guarded } from './failed.js';

export type ErrorListener = (error: VersionedCacheError) => void;

export interface CallGuardOptions {
  store: CacheStore;
  timeoutMs: number;
  onError: ErrorListener | undefined;
  breaker: ResolvedBreaker | false;
}

const WARN_INTERVAL_MS = 60_000;

/**
 * The one place store faults are decided: every store step runs through it, bounded in time,
 * reported, and either absorbed (fail-open) or rethrown (invalidation). Listeners are isolated so
 * that no fault, however reported, can crash the process.
 */
export class CallGuard implements ReadFaults {
  private readonly listeners = new Set<ErrorListener>();
  private readonly lastWarned = new Map<string, number>();
  /** One breaker per store node; null when turned off. */
  readonly breakers: BreakerRegistry | null;

  constructor(private readonly options: CallGuardOptions) {
    const { store, breaker } = options;
    this.breakers = breaker ? new BreakerRegistry(store, breaker, (error) => this.report(error)) : null;
  }

  /**
   * Starts the budget of one public call (or of one piece of background work, which has its own):
   * the cache's `timeout`, plus `extraMs` for a step that waits on purpose (durable bumps' WAIT).
   */
  begin(extraMs = 0): Deadline {
    return new Deadline(this.options.timeoutMs + extraMs);
  }

  addListener(listener: unknown): void {
    if (typeof listener !== 'function') {
      throw new VersionedCacheTypeError('listener', `must be a function, got ${describe(listener)}`);
    }
    this.listeners.add(listener as ErrorListener);
  }

  removeListener(listener: ErrorListener): void {
    this.listeners.delete(listener);
  }

  /**
   * Runs one store step; a fault is reported and becomes `FAILED`, never an exception. `route`, the
   * key(s) the step touches, tells which node's breaker speaks for it.
   */
  run<T>(operation: string, deadline: Deadline, step: () => Promise<T>, route?: Route): Promise<Guarded<T>> {
    return this.absorbing(operation, deadline, step, route, true);
  }

  /** As `run`, for a step that holds itself to `deadline` (the coalesced hit read): no timer of the guard's. */
  runSelfBounded<T>(
    operation: string,
    deadline: Deadline,
    step: () => Promise<T>,
    route?: Route,
  ): Promise<Guarded<T>> {
    return this.absorbing(operation, deadline, step, route, false);
  }

  /**
   * No breaker is open or counting faults: a step's success needs no recording, so a step may run
   * outside the guard and hand it only its fault (`absorb()`), as the coalesced hit read does.
   */
  get clean(): boolean {
    return this.breakers === null || this.breakers.troubled === 0;
  }

  /** The fault of a step run outside the guard while `clean`: reported, counted against its node, absorbed. */
  absorb(operation: string, deadline: Deadline, error: unknown, route: Route | undefined): typeof FAILED {
    return this.failOpen(operation, deadline, error, null, route);
  }

  /**
   * For steps whose failure the caller must hear of (invalidation): reported and rethrown. An open
   * breaker rejects at once (`VC_STORE_UNAVAILABLE`, not attempted); `recovery` marks the retries of
   * pending invalidations, the only steps a recovering breaker lets through.
   */
  async mustRun<T>(
    operation: string,
    deadline: Deadline,
    step: () => Promise<T>,
    route?: Route,
    recovery = false,
  ): Promise<T> {
    const breakers = this.breakers;
    let breaker: Breaker | null = null;
    if (breakers !== null && breakers.troubled !== 0) {
      const admitted = breakers.admit(route, recovery);
      if (admitted === REFUSED) throw circuitOpen(operation);
      breaker = admitted;
    }
    try {
      const result = await this.bounded(operation, deadline, step);
      if (breakers !== null && (breaker !== null || breakers.troubled !== 0))
        breakers.succeeded(breaker, route);
      return result;
    } catch (error) {
      throw this.fault(operation, error, breaker, route);
    }
  }

  /** Tells `onError` and the listeners; with neither, a process warning at most once a minute per code. */
  report(error: VersionedCacheError): void {
    const { onError } = this.options;
    reported(error);
    if (onError) this.notify(onError, error);
    for (const listener of this.listeners) this.notify(listener, error);
    if (!onError && this.listeners.size === 0) this.warn(error.message, error.code);
  }

  private notify(listener: ErrorListener, error: VersionedCacheError): void {
    try {
      listener(error);
    } catch (thrown) {
      // A listener runs inside store steps and background work: its own fault must stay its own.
      const message = thrown instanceof Error ? thrown.message : String(thrown);
      this.warn(`versioned-cache: an error listener threw: ${message}`, 'VC_LISTENER_FAILED');
    }
  }

  private async absorbing<T>(
    operation: string,
    deadline: Deadline,
    step: () => Promise<T>,
    route: Route | undefined,
    bound: boolean,
  ): Promise<Guarded<T>> {
    const breakers = this.breakers;
    // While some breaker is not clean: a refused step fails open at once, every outcome is recorded.
    const admitted = breakers !== null && breakers.troubled !== 0;
    const breaker = admitted ? breakers.admit(route, false) : null;
    // Not reported: the breaker's opening was, and a refusal per call would flood the listeners.
    if (breaker === REFUSED) return FAILED;
    try {
      const result = await (bound ? this.bounded(operation, deadline, step) : step());
      if (admitted) breakers.succeeded(breaker, route);
      return result;
    } catch (error) {
      return this.failOpen(operation, deadline, error, breaker, route);
    }
  }

  /** A fault the caller will not hear of: reported, counted against its node, published, `FAILED`. */
  private failOpen(
    operation: string,
    deadline: Deadline,
    error: unknown,
    breaker: Breaker | null,
    route: Route | undefined,
  ): typeof FAILED {
    failedOpen(operation, deadline, this.fault(operation, error, breaker, route));
    return FAILED;
  }

  /** Reports the fault, then counts it against its node (which may open that node's breaker). */
  private fault(
    operation: string,
    error: unknown,
    breaker: Breaker | null,
    route: Route | undefined,
  ): VersionedCacheError {
    const wrapped = toStoreError(operation, error);
    this.report(wrapped);
    this.breakers?.failed(breaker, route, wrapped);
    return wrapped;
  }

  private warn(message: string, code: string): void {
    const now = Date.now();
    if (now - (this.lastWarned.get(code) ?? 0) < WARN_INTERVAL_MS) return;
    this.lastWarned.set(code, now);
    process.emitWarning(message, { code });
  }

  /**
   * Bounds a step by what is left of its call's budget, with a timer that starts when the call's
   * step starts, not when the client sends the command: an ioredis connection queues commands behind
   * a hung pipelined batch, and its own command timeout only starts once they leave. A step that
   * loses the race keeps running in the client and settles there unobserved.
   */
  private bounded<T>(operation: string, deadline: Deadline, step: () => Promise<T>): Promise<T> {
    const remaining = deadline.remaining();
    // The store bounds this step by itself within what is left (an in-process store always does;
    // a connection the cache opened, from the call on, by its command timeout): no timer per hit.
    if (storeBoundsWithin(this.options.store.latencyBoundMs, remaining)) return step();
    if (remaining <= 0) return Promise.reject(new StoreTimeoutError(operation, deadline.budgetMs));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new StoreTimeoutError(operation, deadline.budgetMs)),
        Math.ceil(remaining),
      );
      const settle = () => clearTimeout(timer);
      let pending: Promise<T>;
      try {
        pending = step();
      } catch (error) {
        // A custom store that throws instead of rejecting is a fault like any other.
        settle();
        reject(error);
        return;
      }
      pending.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }
}

/** Unavailable, as far as the caller can tell: its breaker says the node is down, so it was not tried. */
function circuitOpen(operation: string): VersionedCacheError {
  return new VersionedCacheError(
    'VC_STORE_UNAVAILABLE',
    `versioned-cache: store ${operation} not attempted: the breaker of its Redis node is open`,
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
