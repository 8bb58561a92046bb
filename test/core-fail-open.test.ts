import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CacheResult,
  createCache,
  type VersionedCache,
  type VersionedCacheError,
} from '@versioned-cache/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

// Invariant 7: with Redis down or hung, requests are still answered by the computation within the
// command timeout, the fault is reported with a stable code, never thrown, and hits resume once
// Redis is back.

const TIMEOUT_MS = 200;
const COMPUTE_MS = 20;
// Only a bound against hanging on a dead Redis, with room for a loaded CI machine; not a speed test.
const BOUND_MS = TIMEOUT_MS + COMPUTE_MS + 500;

describe('fail open against a real Redis', () => {
  let server: RedisServer;
  const caches: VersionedCache[] = [];
  const clients: Redis[] = [];
  let errors: VersionedCacheError[] = [];
  /** Slowest answer per scenario, for the report. */
  const slowest = new Map<string, number>();
  let scenario = '';
  // The server outlives each test; a namespace per test keeps their entries apart.
  let ns = '';
  let tests = 0;

  beforeAll(async () => {
    server = await startRedis();
  });

  afterEach(async () => {
    // Leave the server running for the next test, whatever this one did to it.
    try {
      server.resume();
    } catch {
      await server.restart();
    }
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
    for (const client of clients.splice(0)) client.disconnect();
    errors = [];
  });

  afterAll(async () => {
    await server.stop();
    for (const [name, ms] of slowest)
      console.info(`[measure] ${name}: slowest answer ${ms.toFixed(0)} ms (bound ${BOUND_MS} ms)`);
  });

  function makeCache(redis: string | Redis = server.url): VersionedCache {
    ns = `reports-${tests++}`;
    scenario = expect.getState().currentTestName ?? ns;
    const cache = createCache({ redis, timeout: TIMEOUT_MS, onError: (error) => errors.push(error) });
    caches.push(cache);
    return cache;
  }

  async function timedFetch(cache: VersionedCache, value: string): Promise<CacheResult<string>> {
    const startedAt = performance.now();
    const result = await cache.fetch(ns, 'summary', async () => {
      await sleep(COMPUTE_MS);
      return value;
    });
    const elapsed = performance.now() - startedAt;
    slowest.set(scenario, Math.max(slowest.get(scenario) ?? 0, elapsed));
    expect(elapsed).toBeLessThan(BOUND_MS);
    return result;
  }

  /** Fetches until a HIT (or gives up): reconnecting takes ioredis a retry delay. */
  async function untilHit(cache: VersionedCache, value: string): Promise<CacheResult<string>[]> {
    const seen: CacheResult<string>[] = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const result = await cache.fetch(ns, 'summary', () => value);
      seen.push(result);
      if (result.status === 'HIT') return seen;
      await sleep(25);
    }
    throw new Error(`no hit after Redis came back: ${seen.map((r) => r.status).join(',')}`);
  }

  it('Redis stopped: answers from the computation, reports VC_STORE_UNAVAILABLE, hits resume after restart', async () => {
    const cache = makeCache();
    // On a loaded machine the first commands of a new connection may outlast the 200 ms timeout:
    // start from a stored entry, however long connecting took.
    await untilHit(cache, 'before');
    errors = [];
    expect(await timedFetch(cache, 'unused')).toMatchObject({ status: 'HIT', value: 'before' });

    await server.kill();
    for (let i = 0; i < 5; i++) {
      expect(await timedFetch(cache, `down-${i}`)).toMatchObject({ status: 'BYPASS', value: `down-${i}` });
    }
    expect(errors.length).toBeGreaterThan(0);
    // The third fault in a row opens the breaker, which is reported once (docs/breaker.md).
    expect(new Set(errors.map((error) => error.code))).toEqual(
      new Set(['VC_STORE_UNAVAILABLE', 'VC_CIRCUIT_OPEN']),
    );
    // An invalidation that did not happen must not look as if it did.
    await expect(cache.invalidate(ns)).rejects.toMatchObject({ code: 'VC_STORE_UNAVAILABLE' });

    await server.restart();
    const seen = await untilHit(cache, 'after');
    // Redis came back empty: the first answer it gives is a miss that refills, then hits.
    expect(seen.at(-1)).toMatchObject({ status: 'HIT', value: 'after' });
    expect(seen.filter((r) => r.status === 'MISS')).toHaveLength(1);
    expect(seen.every((r) => r.value === 'after')).toBe(true);
  });

  it('Redis hung (SIGSTOP): answers within the timeout, reports VC_STORE_TIMEOUT, hits resume after SIGCONT', async () => {
    const cache = makeCache();
    // On a loaded machine the first commands of a new connection may outlast the 200 ms timeout:
    // start from a stored entry, however long connecting took.
    await untilHit(cache, 'before');
    errors = [];
    expect(await timedFetch(cache, 'unused')).toMatchObject({ status: 'HIT', value: 'before' });

    server.pause();
    for (let i = 0; i < 3; i++) {
      expect(await timedFetch(cache, `hung-${i}`)).toMatchObject({ status: 'BYPASS', value: `hung-${i}` });
    }
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors.map((error) => error.code))).toEqual(
      new Set(['VC_STORE_TIMEOUT', 'VC_CIRCUIT_OPEN']),
    );
    server.resume();

    const seen = await untilHit(cache, 'unused');
    expect(seen.at(-1)).toMatchObject({ status: 'HIT', value: 'before' });
  });

  it('a client passed in without a command timeout is bounded by the cache’s timeout too', async () => {
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    clients.push(client);
    const cache = makeCache(client);
    await timedFetch(cache, 'before');

    server.pause();
    for (let i = 0; i < 3; i++) {
      expect(await timedFetch(cache, `hung-${i}`)).toMatchObject({ status: 'BYPASS', value: `hung-${i}` });
    }
    expect(new Set(errors.map((error) => error.code))).toEqual(
      new Set(['VC_STORE_TIMEOUT', 'VC_CIRCUIT_OPEN']),
    );
    server.resume();
    expect((await untilHit(cache, 'unused')).at(-1)).toMatchObject({ status: 'HIT', value: 'before' });
  });

  it('a computation that throws still reaches the caller when Redis is down', async () => {
    const cache = makeCache();
    await server.kill();
    try {
      await expect(
        cache.getOrSet(ns, 'broken', () => {
          throw new Error('handler failed');
        }),
      ).rejects.toThrow('handler failed');
    } finally {
      await server.restart();
    }
  });
});
