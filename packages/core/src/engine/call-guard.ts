import { StoreTimeoutError, toStoreError, VersionedCacheError, VersionedCacheTypeError } from '../errors.js';
import type { CacheStore } from '../stores/store.js';
import { type Breaker, BreakerRegistry, REFUSED, type Route } from './breaker.js';
import type { ResolvedBreaker } from './breaker-options.js';
import { failedOpen, reported } from './events.js';

/** What a store step returns instead of throwing when the guard absorbed its fault (fail-open). */
export const FAILED: unique symbol = Symbol('store-failed');
export type Guarded<T> = T | typeof FAILED;

export type ErrorListener = (error: VersionedCacheError) => void;

/**
 * The time budget of one public call. The facade creates one per call and every store step of that
 * call (locate, lease, poll, write) passes the same object to the guard, so that bounding the whole
 * call, rather than each command, is a change to `CallGuard.run` alone.
 */
export interface Deadline {
  /** Epoch milliseconds when the call began. */
  readonly startedAt: number;
}

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
export class CallGuard {
  private readonly listeners = new Set<ErrorListener>();
  private readonly lastWarned = new Map<string, number>();
  /** One breaker per store node; null when turned off. */
  readonly breakers: BreakerRegistry | null;

  constructor(private readonly options: CallGuardOptions) {
    const { store, breaker } = options;
    this.breakers = breaker ? new BreakerRegistry(store, breaker, (error) => this.report(error)) : null;
  }

  /** Starts the budget of one public call (or of one background refresh, which has its own). */
  begin(): Deadline {
    return { startedAt: Date.now() };
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
  async run<T>(
    operation: string,
    deadline: Deadline,
    step: () => Promise<T>,
    route?: Route,
  ): Promise<Guarded<T>> {
    const breakers = this.breakers;
    if (breakers !== null && breakers.troubled !== 0)
      return this.runAdmitted(operation, deadline, step, route);
    try {
      return await this.bounded(operation, deadline, step);
    } catch (error) {
      failedOpen(operation, deadline, this.fault(operation, error, null, route));
      return FAILED;
    }
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

  /** While some breaker is not clean: a refused step fails open at once, every outcome is recorded. */
  private async runAdmitted<T>(
    operation: string,
    deadline: Deadline,
    step: () => Promise<T>,
    route: Route | undefined,
  ): Promise<Guarded<T>> {
    const breakers = this.breakers!;
    const breaker = breakers.admit(route, false);
    // Not reported: the breaker's opening was, and a refusal per call would flood the listeners.
    if (breaker === REFUSED) return FAILED;
    try {
      const result = await this.bounded(operation, deadline, step);
      breakers.succeeded(breaker, route);
      return result;
    } catch (error) {
      failedOpen(operation, deadline, this.fault(operation, error, breaker, route));
      return FAILED;
    }
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

  /** Today each step gets the command timeout; `deadline` is where a per-call bound will apply. */
  private bounded<T>(operation: string, _deadline: Deadline, step: () => Promise<T>): Promise<T> {
    const { store, timeoutMs } = this.options;
    if (store.boundsLatency) return step();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreTimeoutError(operation, timeoutMs)), timeoutMs);
      timer.unref();
    });
    return Promise.race([step(), timeout]).finally(() => clearTimeout(timer));
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
