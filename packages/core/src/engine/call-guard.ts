import {
  StoreTimeoutError,
  toStoreError,
  type VersionedCacheError,
  VersionedCacheTypeError,
} from '../errors.js';
import type { CacheStore } from '../stores/store.js';
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

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
