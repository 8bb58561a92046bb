import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/support/redis-server.ts';
import { Analytics } from '../src/analytics.js';
import { createApp } from '../src/app.js';
import { NAMESPACE, PREFIX } from '../src/config.js';
import { MemoryEpochs } from '../src/epochs.js';
import { type CacheMetrics, startMetrics } from '../src/metrics.js';
import { get, TEST_ROWS } from './helpers.js';

/** One sample of the Prometheus text format: `name{label="value",...} number`. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const found = [];
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    found.push({ labels: labels as Record<string, string>, value: Number(match[3]) });
  }
  return found;
}

function sum(text: string, name: string, where: Record<string, string> = {}): number {
  return samples(text, name)
    .filter((s) => Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

// The cache's metrics as Prometheus scrapes them: the dashboard on a real redis-server (the cache's
// store; the dataset epoch stays in memory so that a frozen Redis only touches the cache).
describe('cache metrics at /metrics', () => {
  let redis: RedisServer;
  let cache: VersionedCache;
  let metrics: CacheMetrics;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    redis = await startRedis();
    cache = createCache({ redis: redis.url, prefix: PREFIX, ttl: '10m', timeout: 200 });
    cache.on('error', () => {});
    metrics = startMetrics();
    const analytics = new Analytics(new MemoryEpochs(), TEST_ROWS);
    server = createApp({ cache, analytics, metrics }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await cache?.close();
    await metrics?.close();
    await redis?.stop();
  });

  it('counts lookups per namespace and status (the hit ratio), fill times, and fail-opens', async () => {
    // 2 pieces computed once each, then read 3 more times: 2 misses, 6 hits.
    for (const path of ['/api/summary', '/api/metadata']) {
      expect((await get(url, path)).cache).toBe('MISS');
      for (let i = 0; i < 3; i++) expect((await get(url, path)).cache).toBe('HIT');
    }
    let text = await (await fetch(`${url}/metrics`)).text();
    const lookups = 'versioned_cache_lookups_total';
    const hits = sum(text, lookups, { namespace: NAMESPACE, status: 'hit' });
    const all = sum(text, lookups, { namespace: NAMESPACE });
    expect([hits, all]).toEqual([6, 8]);
    expect(hits / all).toBe(0.75);
    expect(sum(text, 'versioned_cache_fill_duration_count', { namespace: NAMESPACE })).toBe(2);
    expect(sum(text, 'versioned_cache_fill_duration_sum', { namespace: NAMESPACE })).toBeGreaterThan(0);
    expect(sum(text, 'versioned_cache_fail_opens_total')).toBe(0);

    // Redis frozen: the read times out, the page is still answered (BYPASS), and the fault is counted.
    redis.pause();
    try {
      const answer = await get(url, '/api/summary');
      expect([answer.status, answer.cache]).toEqual([200, 'BYPASS']);
    } finally {
      redis.resume();
    }
    text = await (await fetch(`${url}/metrics`)).text();
    expect(
      sum(text, 'versioned_cache_fail_opens_total', { operation: 'read', code: 'VC_STORE_TIMEOUT' }),
    ).toBe(1);
    expect(sum(text, 'versioned_cache_errors_total', { code: 'VC_STORE_TIMEOUT' })).toBe(1);
    expect(sum(text, lookups, { namespace: NAMESPACE, status: 'bypass', reason: 'store-unavailable' })).toBe(
      1,
    );
    expect(
      sum(text, lookups, { namespace: NAMESPACE, status: 'hit' }) /
        sum(text, lookups, { namespace: NAMESPACE }),
    ).toBeCloseTo(6 / 9);

    // An invalidation is counted per namespace.
    await cache.invalidate(NAMESPACE);
    text = await (await fetch(`${url}/metrics`)).text();
    expect(sum(text, 'versioned_cache_invalidations_total', { namespace: NAMESPACE, warm: 'false' })).toBe(1);
  });
});
