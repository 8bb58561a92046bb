import { LogWriter } from './access-log.js';
import { cumulativeOf, fnv1a, mulberry32, normal, pick, type Random } from './prng.js';

/**
 * The synthetic access log every piece of the dashboard is derived from. The same epoch always gives
 * the same log lines on every process, so a dataset can be "shared" by sharing one number: the epoch.
 */
export interface Dataset {
  epoch: number;
  seed: number;
  /** The access log, one line per request in time order (see access-log.ts). */
  log: Buffer;
  /** Lines in the log. */
  rows: number;
  /** The UTC days the log covers, `YYYY-MM-DD`, oldest first. */
  days: string[];
  /** When this process (re)processed the log, epoch ms. */
  processedAt: number;
  /** How long generating the log took, ms. */
  processMs: number;
}

export const DEFAULT_ROWS = 300_000;
const FIRST_DAY = Date.UTC(2025, 5, 1);
const DAY_COUNT = 14;
const DAY_MS = 86_400_000;

export const USERS: readonly string[] = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
  'mallory',
  'niaj',
  'olivia',
  'peggy',
  'rupert',
  'sybil',
  'trent',
  'victor',
  'walter',
  'wendy',
  'xavier',
  'yvonne',
  'zoe',
  'amir',
  'bea',
  'chen',
  'dmitri',
  'elif',
  'femi',
  'goran',
  'hana',
  'ines',
  'jamal',
  'kenji',
  'lena',
  'mateo',
];

interface EndpointProfile {
  path: string;
  /** Share of traffic. */
  weight: number;
  /** Median latency, ms. */
  latencyMs: number;
  /** Probability of a 5xx. */
  serverErrorRate: number;
  /** Probability of a 4xx, and which one. */
  clientErrorRate: number;
  clientError: number;
  /** Median response size, bytes. */
  bytes: number;
}

const ENDPOINTS: readonly EndpointProfile[] = [
  {
    path: '/api/orders',
    weight: 18,
    latencyMs: 45,
    serverErrorRate: 0.006,
    clientErrorRate: 0.01,
    clientError: 400,
    bytes: 4200,
  },
  {
    path: '/api/orders/:id',
    weight: 14,
    latencyMs: 25,
    serverErrorRate: 0.004,
    clientErrorRate: 0.05,
    clientError: 404,
    bytes: 1800,
  },
  {
    path: '/api/search',
    weight: 16,
    latencyMs: 120,
    serverErrorRate: 0.012,
    clientErrorRate: 0.03,
    clientError: 400,
    bytes: 9600,
  },
  {
    path: '/api/products',
    weight: 15,
    latencyMs: 35,
    serverErrorRate: 0.003,
    clientErrorRate: 0.005,
    clientError: 404,
    bytes: 6400,
  },
  {
    path: '/api/cart',
    weight: 9,
    latencyMs: 30,
    serverErrorRate: 0.005,
    clientErrorRate: 0.01,
    clientError: 409,
    bytes: 1200,
  },
  {
    path: '/api/checkout',
    weight: 4,
    latencyMs: 260,
    serverErrorRate: 0.02,
    clientErrorRate: 0.02,
    clientError: 402,
    bytes: 900,
  },
  {
    path: '/api/login',
    weight: 6,
    latencyMs: 90,
    serverErrorRate: 0.004,
    clientErrorRate: 0.08,
    clientError: 401,
    bytes: 600,
  },
  {
    path: '/api/reports',
    weight: 3,
    latencyMs: 600,
    serverErrorRate: 0.015,
    clientErrorRate: 0.01,
    clientError: 403,
    bytes: 48_000,
  },
  {
    path: '/api/export',
    weight: 1,
    latencyMs: 1400,
    serverErrorRate: 0.03,
    clientErrorRate: 0.01,
    clientError: 403,
    bytes: 350_000,
  },
  {
    path: '/api/recommendations',
    weight: 7,
    latencyMs: 150,
    serverErrorRate: 0.01,
    clientErrorRate: 0.002,
    clientError: 400,
    bytes: 5200,
  },
  {
    path: '/api/profile',
    weight: 5,
    latencyMs: 20,
    serverErrorRate: 0.002,
    clientErrorRate: 0.02,
    clientError: 429,
    bytes: 1500,
  },
  {
    path: '/health',
    weight: 2,
    latencyMs: 2,
    serverErrorRate: 0.0005,
    clientErrorRate: 0,
    clientError: 400,
    bytes: 40,
  },
];

export const ENDPOINT_PATHS: readonly string[] = ENDPOINTS.map((e) => e.path);

const SERVER_ERRORS = cumulativeOf([50, 15, 20, 15]);
const SERVER_ERROR_CODES = [500, 502, 503, 504];

/** The seed of an epoch: every epoch is a different, reproducible processing of the logs. */
export function seedOf(epoch: number): number {
  return fnv1a(`analytics:${epoch}`);
}

export function dayList(): string[] {
  return Array.from({ length: DAY_COUNT }, (_, i) =>
    new Date(FIRST_DAY + i * DAY_MS).toISOString().slice(0, 10),
  );
}

/** Relative traffic at a moment: office hours peak, nights and weekends are quiet. */
const FIRST_WEEKDAY = new Date(FIRST_DAY).getUTCDay();

function trafficAt(t: number): number {
  const offset = t - FIRST_DAY;
  const hour = (offset % DAY_MS) / 3_600_000;
  const weekday = (FIRST_WEEKDAY + Math.floor(offset / DAY_MS)) % 7;
  const daytime = hour >= 6 && hour <= 22 ? Math.sin((Math.PI * (hour - 6)) / 16) ** 1.5 : 0;
  return (0.15 + 0.85 * daytime) * (weekday === 0 || weekday === 6 ? 0.55 : 1);
}

/** Request times over the window, shaped by `trafficAt`, sorted. */
function timestamps(count: number, random: Random): Float64Array {
  const times = new Float64Array(count);
  const span = DAY_COUNT * DAY_MS;
  for (let i = 0; i < count; ) {
    const t = FIRST_DAY + random() * span;
    if (random() < trafficAt(t)) times[i++] = t;
  }
  return times.sort();
}

/**
 * Generates the log of one epoch. Each epoch has its own traffic mix, error rates and one incident
 * (an endpoint failing for a few hours), so that reprocessing visibly changes every number.
 */
export function generateDataset(epoch: number, rows = DEFAULT_ROWS): Dataset {
  const started = performance.now();
  const seed = seedOf(epoch);
  const random = mulberry32(seed);
  const count = Math.round(rows * (0.96 + 0.08 * random()));

  const users = cumulativeOf(USERS.map((_, i) => (1 / (i + 1) ** 0.9) * Math.exp(0.3 * normal(random))));
  const endpoints = ENDPOINTS.map((e) => ({
    ...e,
    latencyMs: e.latencyMs * Math.exp(0.15 * normal(random)),
    serverErrorRate: e.serverErrorRate * Math.exp(0.5 * normal(random)),
  }));
  const endpointTable = cumulativeOf(endpoints.map((e) => e.weight));
  const incident = {
    endpoint: pick(cumulativeOf(endpoints.map((e) => e.weight * e.latencyMs)), random),
    from: FIRST_DAY + Math.floor(2 + random() * 10) * DAY_MS + Math.floor(8 + random() * 10) * 3_600_000,
    hours: 2 + Math.floor(random() * 3),
  };
  const incidentEnd = incident.from + incident.hours * 3_600_000;

  const times = timestamps(count, random);
  const writer = new LogWriter(count);
  for (let i = 0; i < count; i++) {
    const time = times[i]!;
    const user = USERS[pick(users, random)]!;
    const index = pick(endpointTable, random);
    const endpoint = endpoints[index]!;
    const inIncident = index === incident.endpoint && time >= incident.from && time < incidentEnd;
    const serverErrorRate = inIncident
      ? Math.min(0.5, endpoint.serverErrorRate * 25 + 0.1)
      : endpoint.serverErrorRate;
    let latencyMs = Math.max(
      1,
      Math.round(endpoint.latencyMs * (inIncident ? 3 : 1) * Math.exp(0.55 * normal(random))),
    );
    let bytes = Math.round(endpoint.bytes * Math.exp(0.4 * normal(random)));
    let status = 200;
    const roll = random();
    if (roll < serverErrorRate) {
      status = SERVER_ERROR_CODES[pick(SERVER_ERRORS, random)]!;
      bytes = 180 + Math.floor(random() * 200);
      if (status === 504) latencyMs = 5000 + Math.floor(random() * 5000);
    } else if (roll < serverErrorRate + endpoint.clientErrorRate) {
      status = endpoint.clientError;
      bytes = 120 + Math.floor(random() * 100);
    } else if (endpoint.path === '/api/products' && roll > 0.9) {
      status = 304;
      bytes = 0;
    }
    writer.write({ time: Math.floor(time), user, endpoint: endpoint.path, status, latencyMs, bytes });
  }
  return {
    epoch,
    seed,
    log: writer.finish(),
    rows: count,
    days: dayList(),
    processedAt: Date.now(),
    processMs: performance.now() - started,
  };
}
