// One deadline per call, not per round trip: through a TCP proxy that makes every round trip slow
// (but each one well within the timeout), a miss, whose three steps would together take about
// twice the timeout, still waits on Redis no longer than the timeout as its caller sees it. The
// computation's own time does not count (the clock stops while it runs). Hits, one round trip
// each, still answer from the cache. Run on its own after the other files (the package's test
// script), as a latency measurement.
import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, type VersionedCache, type VersionedCacheError } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const TIMEOUT_MS = 250;
/** Each direction: a round trip takes about 160 ms, three of them about 480 ms. */
const LATENCY_MS = 80;
const COMPUTE_MS = 300;
/** Headroom over the deadline for a loaded machine; the per-round-trip failure mode is ~480 ms. */
const BOUND_MS = TIMEOUT_MS + 100;

let redis: RedisServer;
let proxy: TcpProxy;
let cache: VersionedCache;
const errors: VersionedCacheError[] = [];

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startTcpProxy({ port: redis.port });
  // The deadline alone (the breaker, on by default, would skip Redis after a few timeouts).
  cache = createCache({
    redis: proxy.url,
    timeout: TIMEOUT_MS,
    breaker: false,
    onError: (e) => errors.push(e),
  });
  // Connected, scripts loaded and the namespace's version known before the latency starts.
  for (let i = 0; i < 3; i++) await cache.fetch('reports', `warm-${i}`, () => 'w');
  await cache.fetch('reports', 'hit', () => 'cached');
});
afterAll(async () => {
  await cache?.close();
  await proxy?.close();
  await redis?.stop();
});

describe('every round trip slow, each within the timeout', () => {
  it('20 concurrent misses: Redis time per call within the one deadline, every caller gets its value', async () => {
    proxy.setLatency(LATENCY_MS);
    try {
      // A hit still costs one slow round trip and answers from the cache.
      const hitStarted = performance.now();
      expect(await cache.fetch('reports', 'hit', () => 'never')).toMatchObject({
        status: 'HIT',
        value: 'cached',
      });
      const hitMs = performance.now() - hitStarted;
      errors.length = 0;

      const extra = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          let computeMs = 0;
          const startedAt = performance.now();
          const result = await cache.fetch('reports', `miss-${i}`, async () => {
            const t0 = performance.now();
            await sleep(COMPUTE_MS);
            computeMs = performance.now() - t0;
            return `computed-${i}`;
          });
          expect(result.value).toBe(`computed-${i}`);
          // Answered from its computation: a miss whose write ran out of budget, never an error.
          expect(['MISS', 'BYPASS']).toContain(result.status);
          return performance.now() - startedAt - computeMs;
        }),
      );
      const sorted = [...extra].sort((a, b) => a - b);
      console.info(
        `[measure] slow round trips (${2 * LATENCY_MS} ms each): hit ${hitMs.toFixed(0)} ms; misses' ` +
          `Redis time p50 ${sorted[10]!.toFixed(0)} ms, max ${sorted[19]!.toFixed(0)} ms ` +
          `(deadline ${TIMEOUT_MS} ms, bound ${BOUND_MS} ms, three round trips ~${6 * LATENCY_MS} ms)`,
      );
      expect(hitMs).toBeGreaterThanOrEqual(2 * LATENCY_MS - 5);
      for (const ms of extra) expect(ms).toBeLessThanOrEqual(BOUND_MS);
      // The budget ran out on every miss (three round trips do not fit): reported as timeouts.
      expect(errors.length).toBeGreaterThanOrEqual(20);
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['VC_STORE_TIMEOUT']));
    } finally {
      proxy.setLatency(0);
    }
  });
});
