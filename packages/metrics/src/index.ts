import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type Attributes, type Histogram, type Meter, metrics } from '@opentelemetry/api';
import {
  CHANNELS,
  type ErrorEvent,
  type FailOpenEvent,
  type FillEvent,
  type InvalidateEvent,
  type LeaseWaitEvent,
  type LookupEvent,
} from '@versioned-cache/core';

/** The instruments' names, as OpenTelemetry spells them (a Prometheus exporter writes `_` for `.`). */
export const METRIC_NAMES = Object.freeze({
  lookups: 'versioned_cache.lookups',
  fillDuration: 'versioned_cache.fill.duration',
  leaseWaits: 'versioned_cache.lease.waits',
  leaseWaitDuration: 'versioned_cache.lease.wait.duration',
  failOpens: 'versioned_cache.fail_opens',
  invalidations: 'versioned_cache.invalidations',
  errors: 'versioned_cache.errors',
} as const);

export interface InstrumentOptions {
  /**
   * The meter the instruments are created on.
   * @default `metrics.getMeter('@versioned-cache/metrics')` from the global meter provider
   */
  meter?: Meter;
}

/** Seconds, as OpenTelemetry's semantic conventions measure durations; fine buckets for cache work. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Records the cache's diagnostics events as OpenTelemetry metrics, for every cache in the process.
 * Attributes are bounded by the application: namespaces, the `label` of a call or route (as `route`),
 * statuses, reasons, store operations and error codes; never an entry key. Returns a function that
 * unsubscribes.
 */
export function instrumentVersionedCache(options: InstrumentOptions = {}): () => void {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('@versioned-cache/metrics: options must be an object');
  const meter = options.meter ?? metrics.getMeter('@versioned-cache/metrics');
  if (typeof meter?.createCounter !== 'function')
    throw new TypeError('@versioned-cache/metrics: invalid meter: must be an OpenTelemetry Meter');
  const lookups = meter.createCounter(METRIC_NAMES.lookups, {
    description:
      'Cache lookups by namespace and status (hit, miss, stale, bypass); one per namespace of a lookup',
  });
  const fillDuration = durationHistogram(
    meter,
    METRIC_NAMES.fillDuration,
    'Time to compute and store one entry',
  );
  const leaseWaits = meter.createCounter(METRIC_NAMES.leaseWaits, {
    description: "Waits on another process's fill lease, by outcome",
  });
  const leaseWaitDuration = durationHistogram(
    meter,
    METRIC_NAMES.leaseWaitDuration,
    "Time spent waiting on another process's fill lease",
  );
  const failOpens = meter.createCounter(METRIC_NAMES.failOpens, {
    description: 'Store steps that failed and were answered without the store, by operation and code',
  });
  const invalidations = meter.createCounter(METRIC_NAMES.invalidations, {
    description: 'Namespace version bumps written (warm: published after warming)',
  });
  const errors = meter.createCounter(METRIC_NAMES.errors, {
    description: 'Faults reported by the cache, by error code',
  });

  const lookup = (message: unknown) => {
    const event = message as LookupEvent;
    for (const namespace of event.namespaces) {
      const attributes: Attributes = { namespace, status: event.status.toLowerCase() };
      if (event.label !== undefined) attributes.route = event.label;
      if (event.reason !== undefined) attributes.reason = event.reason;
      lookups.add(1, attributes);
    }
  };
  const handlers: Record<string, (message: unknown) => void> = {
    [CHANNELS.hit]: lookup,
    [CHANNELS.miss]: lookup,
    [CHANNELS.stale]: lookup,
    [CHANNELS.bypass]: lookup,
    [CHANNELS.fill]: (message) => {
      const event = message as FillEvent;
      const attributes = callAttributes(event.namespaces, event.label);
      attributes.stored = event.stored;
      attributes.background = event.background;
      fillDuration.record(event.durationMs / 1000, attributes);
    },
    [CHANNELS.leaseWait]: (message) => {
      const event = message as LeaseWaitEvent;
      const attributes = callAttributes(event.namespaces, event.label);
      attributes.outcome = event.outcome;
      leaseWaits.add(1, attributes);
      leaseWaitDuration.record(event.durationMs / 1000, attributes);
    },
    [CHANNELS.failOpen]: (message) => {
      const event = message as FailOpenEvent;
      failOpens.add(1, { operation: event.operation, code: event.code });
    },
    [CHANNELS.invalidate]: (message) => {
      const event = message as InvalidateEvent;
      invalidations.add(1, { namespace: event.namespace, warm: event.warm });
    },
    [CHANNELS.error]: (message) => {
      errors.add(1, { code: (message as ErrorEvent).code });
    },
  };
  // A subscriber that throws surfaces as an uncaught exception: recording must never do that.
  const guarded = Object.entries(handlers).map(([name, handler]) => {
    const safe = (message: unknown) => {
      try {
        handler(message);
      } catch {
        // A metric lost is better than a process lost.
      }
    };
    subscribe(name, safe);
    return [name, safe] as const;
  });
  let active = true;
  return () => {
    if (!active) return;
    active = false;
    for (const [name, safe] of guarded) unsubscribe(name, safe);
  };
}

/** A fill or a lease wait over several namespaces is one event: its namespaces joined, sorted. */
function callAttributes(namespaces: readonly string[], label: string | undefined): Attributes {
  const attributes: Attributes = { namespace: namespaces.join(',') };
  if (label !== undefined) attributes.route = label;
  return attributes;
}

function durationHistogram(meter: Meter, name: string, description: string): Histogram {
  return meter.createHistogram(name, {
    description,
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
}
