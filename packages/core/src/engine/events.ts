import { type Channel, channel } from 'node:diagnostics_channel';
import { type VersionedCacheError, VersionedCacheTypeError } from '../errors.js';
import type { CacheResult, CacheStatus } from './types.js';

/**
 * The names of the `node:diagnostics_channel` channels the cache publishes on. Nothing is built or
 * published while a channel has no subscriber, so an unobserved cache pays one property read per event.
 */
export const CHANNELS = Object.freeze({
  hit: 'versioned-cache:hit',
  miss: 'versioned-cache:miss',
  stale: 'versioned-cache:stale',
  bypass: 'versioned-cache:bypass',
  fill: 'versioned-cache:fill',
  leaseWait: 'versioned-cache:lease-wait',
  invalidate: 'versioned-cache:invalidate',
  failOpen: 'versioned-cache:fail-open',
  error: 'versioned-cache:error',
} as const);

export type ChannelName = (typeof CHANNELS)[keyof typeof CHANNELS];

/** The part of one call every per-call event carries. */
export interface CallFields {
  /** The call's namespaces, sorted: bounded by the application, fit for a metric label. */
  namespaces: readonly string[];
  /** The call's `label` option (for HTTP: the route's `label`): bounded, fit for a metric label. */
  label: string | undefined;
  /** The entry key: unbounded (user input), for logs and traces, never a metric label. */
  key: string;
}

/** Why a lookup did not use the store. */
export type BypassReason =
  | 'store-unavailable'
  | 'closed'
  | 'credentials'
  | 'no-cache'
  /** An invalidation of one of the namespaces waits to be made (`onFailure: 'recover'`). */
  | 'invalidation-pending';

/** `versioned-cache:hit`, `:miss`, `:stale` and `:bypass`: one per lookup, when its answer is ready. */
export interface LookupEvent extends CallFields {
  status: CacheStatus;
  /** Milliseconds from the start of the call to its answer, the computation included (MISS, BYPASS). */
  durationMs: number;
  /** Milliseconds since the answered value was computed (0 for a value computed by this call). */
  ageMs: number;
  /** BYPASS only (undefined otherwise): why the store was not used. */
  reason: BypassReason | undefined;
}

/** `versioned-cache:fill`: one computation finished (a miss, a background refresh or a warmer). */
export interface FillEvent extends CallFields {
  /** Milliseconds the computation took. */
  computeMs: number;
  /** Milliseconds from the start of the computation until the entry was written (or not). */
  durationMs: number;
  /** Whether the entry was written; false when the value may not be stored or the write failed. */
  stored: boolean;
  /** True for a refresh whose caller was already answered (stale, early refresh). */
  background: boolean;
}

/** How a wait on another process's lease ended. */
export type LeaseWaitOutcome = 'filled' | 'lease-free' | 'timeout' | 'refreshing';

/** `versioned-cache:lease-wait`: this call waited while another process held the entry's fill lease. */
export interface LeaseWaitEvent extends CallFields {
  durationMs: number;
  outcome: LeaseWaitOutcome;
}

/** `versioned-cache:invalidate`: one version bump (or one warm publish) was written. */
export interface InvalidateEvent {
  namespace: string;
  /** The namespace's new version. */
  version: string;
  warm: boolean;
  /** Milliseconds from the start of the `invalidate()` call (or the coalesced trailing bump). */
  durationMs: number;
}

/** `versioned-cache:fail-open`: a store step failed and the call went on without the store. */
export interface FailOpenEvent {
  /** The store step: read, acquire lease, write, release lease, read version, ... */
  operation: string;
  code: VersionedCacheError['code'];
  /** Milliseconds from the start of the call until the step failed. */
  durationMs: number;
  error: VersionedCacheError;
}

/** `versioned-cache:error`: every fault reported to `onError` and the error listeners. */
export interface ErrorEvent {
  code: VersionedCacheError['code'];
  message: string;
  error: VersionedCacheError;
}

const MAX_LABEL_LENGTH = 100;

/** A label becomes a metric label: a short fixed name per call site or route, never request data. */
export function assertLabel(label: unknown): string | undefined {
  if (label === undefined) return undefined;
  const printable = typeof label === 'string' && [...label].every((c) => c.charCodeAt(0) >= 32);
  if (!printable || label.length === 0 || label.length > MAX_LABEL_LENGTH)
    throw new VersionedCacheTypeError(
      'label',
      `must be a non-empty string of at most ${MAX_LABEL_LENGTH} characters without control characters, got ${JSON.stringify(label)}`,
    );
  return label;
}

const hit = channel(CHANNELS.hit);
const miss = channel(CHANNELS.miss);
const stale = channel(CHANNELS.stale);
const bypass = channel(CHANNELS.bypass);
const fill = channel(CHANNELS.fill);
const leaseWait = channel(CHANNELS.leaseWait);
const invalidate = channel(CHANNELS.invalidate);
const failOpen = channel(CHANNELS.failOpen);
const error = channel(CHANNELS.error);

const LOOKUPS: Readonly<Record<CacheStatus, Channel>> = {
  HIT: hit,
  MISS: miss,
  STALE: stale,
  BYPASS: bypass,
};

/** A call's `Deadline` (structurally: the guard depends on this module, not the reverse). */
interface Started {
  readonly startedAt: number;
}

interface Call {
  readonly namespaces: readonly string[];
  readonly key: string;
  readonly label: string | undefined;
}

/**
 * Publishes a lookup's answer on the channel of its status, once it is ready; returns the answer as
 * given (the same promise when no one listens).
 */
export function answered<T>(
  call: Call,
  deadline: Started,
  result: CacheResult<T> | Promise<CacheResult<T>>,
  reason?: BypassReason,
): CacheResult<T> | Promise<CacheResult<T>> {
  if (!(hit.hasSubscribers || miss.hasSubscribers || stale.hasSubscribers || bypass.hasSubscribers))
    return result;
  if (!(result instanceof Promise)) {
    publishLookup(call, deadline.startedAt, result, reason);
    return result;
  }
  return result.then((settled) => {
    publishLookup(call, deadline.startedAt, settled, reason);
    return settled;
  });
}

/** A lookup the HTTP layer answered without the store (credentials without `perUser`, no-cache). */
export function bypassed(
  namespaces: readonly string[],
  label: string | undefined,
  reason: BypassReason,
): void {
  if (!bypass.hasSubscribers) return;
  const event: LookupEvent = {
    namespaces,
    label,
    key: '',
    status: 'BYPASS',
    durationMs: 0,
    ageMs: 0,
    reason,
  };
  bypass.publish(event);
}

function publishLookup<T>(
  call: Call,
  startedAt: number,
  result: CacheResult<T>,
  reason?: BypassReason,
): void {
  const target = LOOKUPS[result.status];
  if (!target.hasSubscribers) return;
  const now = Date.now();
  // One object shape for every lookup event: spelled out, `reason` always present.
  const event: LookupEvent = {
    namespaces: call.namespaces,
    label: call.label,
    key: call.key,
    status: result.status,
    durationMs: now - startedAt,
    ageMs: Math.max(0, now - result.createdAt),
    reason: result.status === 'BYPASS' ? (reason ?? 'store-unavailable') : undefined,
  };
  target.publish(event);
}

/** Publishes a finished computation and returns its result. */
export function fillEnded<T>(
  call: Call,
  startedAt: number,
  background: boolean,
  result: CacheResult<T>,
): CacheResult<T> {
  if (fill.hasSubscribers) {
    const event: FillEvent = {
      ...callFields(call),
      computeMs: result.createdAt - startedAt,
      durationMs: Date.now() - startedAt,
      stored: result.stored,
      background,
    };
    fill.publish(event);
  }
  return result;
}

/** Publishes a lease wait once it ends; returns its outcome. */
export function leaseWaited<R extends CacheResult<unknown> | Exclude<LeaseWaitOutcome, 'filled'>>(
  call: Call,
  startedAt: number,
  wait: Promise<R>,
): Promise<R> {
  if (!leaseWait.hasSubscribers) return wait;
  return wait.then((outcome) => {
    const event: LeaseWaitEvent = {
      ...callFields(call),
      durationMs: Date.now() - startedAt,
      outcome: typeof outcome === 'string' ? outcome : 'filled',
    };
    leaseWait.publish(event);
    return outcome;
  });
}

export function invalidated(namespace: string, version: string, warm: boolean, deadline: Started): void {
  if (!invalidate.hasSubscribers) return;
  const event: InvalidateEvent = { namespace, version, warm, durationMs: Date.now() - deadline.startedAt };
  invalidate.publish(event);
}

export function failedOpen(operation: string, deadline: Started, failure: VersionedCacheError): void {
  if (!failOpen.hasSubscribers) return;
  const event: FailOpenEvent = {
    operation,
    code: failure.code,
    durationMs: Date.now() - deadline.startedAt,
    error: failure,
  };
  failOpen.publish(event);
}

export function reported(failure: VersionedCacheError): void {
  if (!error.hasSubscribers) return;
  const event: ErrorEvent = { code: failure.code, message: failure.message, error: failure };
  error.publish(event);
}

function callFields(call: Call): CallFields {
  return { namespaces: call.namespaces, label: call.label, key: call.key };
}
