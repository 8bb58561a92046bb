import {
  StoreTimeoutError,
  toStoreError,
  type VersionedCacheError,
  VersionedCacheTypeError,
} from '../errors.js';
import type { CacheStore } from '../stores/store.js';
import { Deadline } from './deadline.js';
import { failedOpen, reported } from './events.js';

export { Deadline } from './deadline.js';

/** What a store step returns instead of throwing when the guard absorbed its fault (fail-open). */
export const FAILED: unique symbol = Symbol('store-failed');
export type Guarded<T> = T | typeof FAILED;

export type ErrorListener = (error: VersionedCacheError) => void;

export interface CallGuardOptions {
  store: CacheStore;
  timeoutMs: number;
  onError: ErrorListener | undefined;
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

  constructor(private readonly options: CallGuardOptions) {}

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

  /** Runs one store step; a fault is reported and becomes `FAILED`, never an exception. */
  async run<T>(operation: string, deadline: Deadline, step: () => Promise<T>): Promise<Guarded<T>> {
    try {
      return await this.bounded(operation, deadline, step);
    } catch (error) {
      const failure = toStoreError(operation, error);
      this.report(failure);
      failedOpen(operation, deadline, failure);
      return FAILED;
    }
  }

  /** For steps whose failure the caller must hear of (invalidation): reported and rethrown. */
  async mustRun<T>(operation: string, deadline: Deadline, step: () => Promise<T>): Promise<T> {
    try {
      return await this.bounded(operation, deadline, step);
    } catch (error) {
      const wrapped = toStoreError(operation, error);
      this.report(wrapped);
      throw wrapped;
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
    // An in-process store answers at once: no timer on its hit path, and no budget to spend.
    if (this.options.store.boundsLatency) return step();
    const remaining = deadline.remaining();
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

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
