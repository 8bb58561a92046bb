import { type LogRecord, scanLog } from './access-log.js';
import type { Dataset } from './dataset.js';
import { DAY_MS, IntList, percentile, ratio } from './stats.js';

/**
 * The reports of the dashboard: each one a full pass over the access log, as the real dashboard's
 * queries were. They are pure functions of the dataset, so any process computes the same answer.
 */

interface Counts {
  requests: number;
  serverErrors: number;
  clientErrors: number;
  bytes: number;
}

const zero = (): Counts => ({ requests: 0, serverErrors: 0, clientErrors: 0, bytes: 0 });

function count(counts: Counts, record: LogRecord): void {
  counts.requests++;
  counts.bytes += record.bytes;
  if (record.status >= 500) counts.serverErrors++;
  else if (record.status >= 400) counts.clientErrors++;
}

/** Index of a record's day in `dataset.days`. */
function dayIndexer(dataset: Dataset): (time: number) => number {
  const first = Date.parse(`${dataset.days[0]}T00:00:00Z`) / DAY_MS;
  return (time) => Math.floor(time / DAY_MS) - first;
}

export interface DailyRow {
  date: string;
  requests: number;
  serverErrors: number;
  clientErrors: number;
  p95LatencyMs: number;
}

export interface Summary extends Counts {
  errorRate: number;
  users: number;
  latencyMs: { p50: number; p95: number; p99: number };
  daily: DailyRow[];
}

/** Totals, error rate, latency percentiles, and the daily totals table. */
export function summary(dataset: Dataset): Summary {
  const dayOf = dayIndexer(dataset);
  const total = zero();
  const latencies = new IntList();
  const days = dataset.days.map(() => ({ counts: zero(), latencies: new IntList() }));
  const users = new Set<string>();
  scanLog(dataset.log, (record) => {
    count(total, record);
    latencies.push(record.latencyMs);
    users.add(record.user);
    const day = days[dayOf(record.time)];
    if (day) {
      count(day.counts, record);
      day.latencies.push(record.latencyMs);
    }
  });
  const sorted = latencies.sorted();
  return {
    ...total,
    errorRate: ratio(total.serverErrors, total.requests),
    users: users.size,
    latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
    daily: days.map((day, i) => ({
      date: dataset.days[i]!,
      requests: day.counts.requests,
      serverErrors: day.counts.serverErrors,
      clientErrors: day.counts.clientErrors,
      p95LatencyMs: percentile(day.latencies.sorted(), 95),
    })),
  };
}

export interface UserDetails extends Counts {
  user: string;
  errorRate: number;
  latencyMs: { p50: number; p95: number };
  daily: { date: string; requests: number; errors: number }[];
  topEndpoints: { endpoint: string; requests: number; errors: number }[];
  recentErrors: { at: string; endpoint: string; status: number; latencyMs: number }[];
}

/** One user's activity; `null` when the log has no line for that user. */
export function details(dataset: Dataset, user: string): UserDetails | null {
  const dayOf = dayIndexer(dataset);
  const total = zero();
  const latencies = new IntList();
  const daily = dataset.days.map((date) => ({ date, requests: 0, errors: 0 }));
  const endpoints = new Map<string, { endpoint: string; requests: number; errors: number }>();
  const recentErrors: UserDetails['recentErrors'] = [];
  scanLog(dataset.log, (record) => {
    if (record.user !== user) return;
    count(total, record);
    latencies.push(record.latencyMs);
    const failed = record.status >= 500;
    const day = daily[dayOf(record.time)];
    if (day) {
      day.requests++;
      if (failed) day.errors++;
    }
    let endpoint = endpoints.get(record.endpoint);
    if (!endpoint) {
      endpoint = { endpoint: record.endpoint, requests: 0, errors: 0 };
      endpoints.set(record.endpoint, endpoint);
    }
    endpoint.requests++;
    if (failed) {
      endpoint.errors++;
      recentErrors.push({
        at: new Date(record.time).toISOString(),
        endpoint: record.endpoint,
        status: record.status,
        latencyMs: record.latencyMs,
      });
      if (recentErrors.length > 5) recentErrors.shift();
    }
  });
  if (total.requests === 0) return null;
  const sorted = latencies.sorted();
  return {
    user,
    ...total,
    errorRate: ratio(total.serverErrors, total.requests),
    latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95) },
    daily,
    topEndpoints: [...endpoints.values()].sort((a, b) => b.requests - a.requests).slice(0, 5),
    recentErrors: recentErrors.reverse(),
  };
}

export interface EndpointRow extends Counts {
  endpoint: string;
  errorRate: number;
  p50LatencyMs: number;
  p95LatencyMs: number;
  avgBytes: number;
}

/** Sub-section: one row per endpoint, busiest first. */
export function endpointsSection(dataset: Dataset): { endpoints: EndpointRow[] } {
  const rows = new Map<string, { counts: Counts; latencies: IntList }>();
  scanLog(dataset.log, (record) => {
    let row = rows.get(record.endpoint);
    if (!row) {
      row = { counts: zero(), latencies: new IntList() };
      rows.set(record.endpoint, row);
    }
    count(row.counts, record);
    row.latencies.push(record.latencyMs);
  });
  const endpoints = [...rows].map(([endpoint, { counts, latencies }]) => {
    const sorted = latencies.sorted();
    return {
      endpoint,
      ...counts,
      errorRate: ratio(counts.serverErrors, counts.requests),
      p50LatencyMs: percentile(sorted, 50),
      p95LatencyMs: percentile(sorted, 95),
      avgBytes: Math.round(counts.bytes / counts.requests),
    };
  });
  return { endpoints: endpoints.sort((a, b) => b.requests - a.requests) };
}

export interface ErrorsSection {
  serverErrors: number;
  clientErrors: number;
  byStatus: { status: number; count: number }[];
  topFailures: { endpoint: string; status: number; count: number }[];
  worstHours: { hour: string; requests: number; serverErrors: number; errorRate: number }[];
}

/** Sub-section: what fails, where, and when (the reprocessed incident shows up in `worstHours`). */
export function errorsSection(dataset: Dataset): ErrorsSection {
  const byStatus = new Map<number, number>();
  const failures = new Map<string, { endpoint: string; status: number; count: number }>();
  const hours = new Map<number, { requests: number; serverErrors: number }>();
  let serverErrors = 0;
  let clientErrors = 0;
  scanLog(dataset.log, (record) => {
    const hour = Math.floor(record.time / 3_600_000);
    let bucket = hours.get(hour);
    if (!bucket) {
      bucket = { requests: 0, serverErrors: 0 };
      hours.set(hour, bucket);
    }
    bucket.requests++;
    if (record.status < 400) return;
    if (record.status >= 500) {
      serverErrors++;
      bucket.serverErrors++;
    } else clientErrors++;
    byStatus.set(record.status, (byStatus.get(record.status) ?? 0) + 1);
    const key = `${record.status} ${record.endpoint}`;
    const failure = failures.get(key);
    if (failure) failure.count++;
    else failures.set(key, { endpoint: record.endpoint, status: record.status, count: 1 });
  });
  return {
    serverErrors,
    clientErrors,
    byStatus: [...byStatus].map(([status, n]) => ({ status, count: n })).sort((a, b) => a.status - b.status),
    topFailures: [...failures.values()]
      .filter((f) => f.status >= 500)
      .sort((a, b) => b.count - a.count)
      .slice(0, 6),
    worstHours: [...hours]
      .map(([hour, b]) => ({
        hour: `${new Date(hour * 3_600_000).toISOString().slice(0, 13).replace('T', ' ')}:00`,
        requests: b.requests,
        serverErrors: b.serverErrors,
        errorRate: ratio(b.serverErrors, b.requests),
      }))
      .sort((a, b) => b.errorRate - a.errorRate)
      .slice(0, 5),
  };
}

/** Chart data: requests and errors per day. */
export function dailyChart(dataset: Dataset): {
  points: { date: string; requests: number; serverErrors: number; clientErrors: number }[];
} {
  const dayOf = dayIndexer(dataset);
  const points = dataset.days.map((date) => ({ date, requests: 0, serverErrors: 0, clientErrors: 0 }));
  scanLog(dataset.log, (record) => {
    const point = points[dayOf(record.time)];
    if (!point) return;
    point.requests++;
    if (record.status >= 500) point.serverErrors++;
    else if (record.status >= 400) point.clientErrors++;
  });
  return { points };
}

/** Chart data: requests and server errors by hour of day (UTC), over the whole window. */
export function hourlyChart(dataset: Dataset): {
  points: { hour: number; requests: number; serverErrors: number }[];
} {
  const points = Array.from({ length: 24 }, (_, hour) => ({ hour, requests: 0, serverErrors: 0 }));
  scanLog(dataset.log, (record) => {
    const point = points[Math.floor((record.time % DAY_MS) / 3_600_000)]!;
    point.requests++;
    if (record.status >= 500) point.serverErrors++;
  });
  return { points };
}

const LATENCY_BOUNDS = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/** Chart data: latency histogram (upper bounds in ms; the last bucket is everything slower). */
export function latencyChart(dataset: Dataset): {
  buckets: { le: number | null; count: number }[];
  p50: number;
  p95: number;
  p99: number;
} {
  const counts = new Array<number>(LATENCY_BOUNDS.length + 1).fill(0);
  const latencies = new IntList();
  scanLog(dataset.log, (record) => {
    latencies.push(record.latencyMs);
    let bucket = 0;
    while (bucket < LATENCY_BOUNDS.length && record.latencyMs > LATENCY_BOUNDS[bucket]!) bucket++;
    counts[bucket]!++;
  });
  const sorted = latencies.sorted();
  return {
    buckets: counts.map((n, i) => ({ le: LATENCY_BOUNDS[i] ?? null, count: n })),
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
  };
}

export interface Metadata {
  epoch: number;
  seed: string;
  rows: number;
  logBytes: number;
  checksum: string;
  firstAt: string;
  lastAt: string;
  days: number;
  users: string[];
  endpoints: string[];
  processedAt: string;
  processMs: number;
}

/** Metadata: what was processed, when, and a checksum of the log, so two processes can be compared. */
export function metadata(dataset: Dataset): Metadata {
  const users = new Set<string>();
  const endpoints = new Set<string>();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  const rows = scanLog(dataset.log, (record) => {
    users.add(record.user);
    endpoints.add(record.endpoint);
    if (record.time < first) first = record.time;
    if (record.time > last) last = record.time;
  });
  let checksum = 0x811c9dc5;
  const log = dataset.log;
  for (let i = 0; i < log.length; i++) checksum = Math.imul(checksum ^ log[i]!, 0x01000193);
  return {
    epoch: dataset.epoch,
    seed: dataset.seed.toString(16).padStart(8, '0'),
    rows,
    logBytes: log.length,
    checksum: (checksum >>> 0).toString(16).padStart(8, '0'),
    firstAt: rows ? new Date(first).toISOString() : '',
    lastAt: rows ? new Date(last).toISOString() : '',
    days: dataset.days.length,
    users: [...users].sort(),
    endpoints: [...endpoints].sort(),
    processedAt: new Date(dataset.processedAt).toISOString(),
    processMs: Math.round(dataset.processMs),
  };
}

/** The sub-sections and charts by URL name. */
export const SECTIONS = { endpoints: endpointsSection, errors: errorsSection } as const;
export const CHARTS = { daily: dailyChart, hourly: hourlyChart, latency: latencyChart } as const;
export type SectionName = keyof typeof SECTIONS;
export type ChartName = keyof typeof CHARTS;

export function isSection(name: string): name is SectionName {
  return Object.hasOwn(SECTIONS, name);
}

export function isChart(name: string): name is ChartName {
  return Object.hasOwn(CHARTS, name);
}
