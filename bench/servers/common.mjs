// What every benchmark server shares: the 1 KB body, the count of handler runs (the runner reads it
// to prove that measured requests were hits), the cache a scenario builds, and the readiness line.
import { createServer } from 'node:http';
import { createCache } from '@versioned-cache/core';
import { Redis } from 'ioredis';

/** About 1 KB of JSON, the same for every framework and scenario. */
export const BODY = {
  rows: Array.from({ length: 20 }, (_, i) => ({ day: i, total: i * 1000, label: 'x'.repeat(20) })),
};
export const BODY_TEXT = JSON.stringify(BODY);
export const JSON_TYPE = 'application/json; charset=utf-8';
export const NAMESPACE = 'bench';
const TTL = '1h';

let handlerRuns = 0;
/** Faults the cache absorbed (Redis timeouts on a saturated machine...), by error code. */
const faults = {};

/** The route's work: counted, so that a hit (which must not run it) can be told from a miss. */
export function produce() {
  handlerRuns++;
  return BODY;
}

/** The scenario and Redis URL the runner passes in the environment. */
export function readScenario() {
  return { scenario: JSON.parse(process.env.BENCH_SCENARIO ?? '{}'), redisUrl: process.env.BENCH_REDIS_URL };
}

/** The versioned cache of a scenario; the runner builds one too, to learn whether the core accepts its options. */
/** The middleware's options for a scenario: the cache, plus the scenario's HTTP options. */
export function middlewareOptions(scenario, redisUrl) {
  return { cache: createScenarioCache(scenario, redisUrl), ...scenario.httpOptions };
}

export function createScenarioCache(scenario, redisUrl) {
  const store = scenario.store === 'redis' ? { redis: redisUrl } : {};
  const cache = createCache({ ...store, ttl: TTL, ...scenario.cacheOptions });
  cache.on('error', (error) => {
    faults[error.code] = (faults[error.code] ?? 0) + 1;
  });
  return cache;
}

/**
 * Plain cache-aside, the floor a versioned read is held to: one GET of a key, the stored bytes sent
 * as they are; a miss computes, SETs with a TTL, and sends.
 */
export function createNaiveCache(redisUrl) {
  // Auto-pipelining, as the versioned cache's own connection uses it.
  const redis = new Redis(redisUrl, { enableAutoPipelining: true });
  return async function bytesFor(url) {
    const key = `naive:${url}`;
    const hit = await redis.getBuffer(key);
    if (hit) return hit;
    const bytes = Buffer.from(JSON.stringify(produce()));
    await redis.set(key, bytes, 'EX', 3600);
    return bytes;
  };
}

/** Resolves once the turn's I/O callbacks have run: the floor's responses go out together, as Redis replies do. */
export const afterTurn = () => new Promise((resolve) => setImmediate(resolve));

/** The headers of the floor scenario: type and length only. */
export function fixedHeaders(bytes) {
  return { 'content-type': JSON_TYPE, 'content-length': bytes.length };
}

export function unsupported(framework, scenario) {
  console.error(`${framework} has no server for scenario kind "${scenario.kind}"`);
  process.exit(2);
}

/** Announces the port on stdout and answers the runner's `stats` messages over IPC. */
export function ready(port) {
  process.on('message', (message) => {
    if (message === 'stats') process.send({ handlerRuns, faults });
  });
  process.on('disconnect', () => process.exit(0));
  console.log(`listening ${port}`);
}

export async function listenNode(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  ready(server.address().port);
}
