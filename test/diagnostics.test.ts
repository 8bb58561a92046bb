import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CHANNELS,
  type ChannelName,
  createCache,
  type ErrorEvent,
  type FailOpenEvent,
  type FillEvent,
  type InvalidateEvent,
  type LeaseWaitEvent,
  type LookupEvent,
  type VersionedCache,
} from '@versioned-cache/core';
import { cacheRoute, versionedCache } from '@versioned-cache/express';
import express from 'express';
import supertest from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

// Every diagnostics channel, subscribed to as an operator would: each event arrives with its
// namespaces, label and timings, against the memory store and a real redis-server.

interface Published {
  channel: ChannelName;
  message: unknown;
}

/** Subscribes to every channel; `stop()` unsubscribes. */
function record(): { events: Published[]; of<T>(channel: ChannelName): T[]; stop(): void } {
  const events: Published[] = [];
  const handlers = Object.values(CHANNELS).map((name) => {
    const handler = (message: unknown) => events.push({ channel: name, message });
    subscribe(name, handler);
    return [name, handler] as const;
  });
  return {
    events,
    of: <T>(channel: ChannelName) => events.filter((e) => e.channel === channel).map((e) => e.message as T),
    stop: () => {
      for (const [name, handler] of handlers) unsubscribe(name, handler);
    },
  };
}

function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const caches: VersionedCache[] = [];
let recorder: ReturnType<typeof record>;

afterEach(async () => {
  recorder?.stop();
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});

function track(cache: VersionedCache): VersionedCache {
  caches.push(cache);
  return cache;
}

describe('diagnostics channels, memory store', () => {
  it('publishes miss and fill (with durations), then hit, with namespaces, label and key', async () => {
    const cache = track(createCache({ onError: () => {} }));
    recorder = record();
    const options = { label: 'daily-report' };
    const first = await cache.fetch(
      ['reports', 'accounts'],
      'r:1',
      async () => {
        await sleep(30);
        return { rows: 3 };
      },
      options,
    );
    expect(first.status).toBe('MISS');
    const second = await cache.fetch(['reports', 'accounts'], 'r:1', () => ({ rows: 0 }), options);
    expect(second.status).toBe('HIT');

    const [miss] = recorder.of<LookupEvent>(CHANNELS.miss);
    expect(miss).toMatchObject({
      namespaces: ['accounts', 'reports'],
      label: 'daily-report',
      key: 'r:1',
      status: 'MISS',
      ageMs: expect.any(Number),
    });
    expect(miss!.durationMs).toBeGreaterThanOrEqual(25);
    const [fill] = recorder.of<FillEvent>(CHANNELS.fill);
    expect(fill).toMatchObject({
      namespaces: ['accounts', 'reports'],
      label: 'daily-report',
      stored: true,
      background: false,
    });
    expect(fill!.computeMs).toBeGreaterThanOrEqual(25);
    expect(fill!.durationMs).toBeGreaterThanOrEqual(fill!.computeMs);
    const hits = recorder.of<LookupEvent>(CHANNELS.hit);
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ namespaces: ['accounts', 'reports'], label: 'daily-report', key: 'r:1' });
    expect(hits[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(hits[0]!.ageMs).toBeGreaterThanOrEqual(0);
    // Each lookup is published once, on the channel of its status.
    expect(recorder.events.map((e) => e.channel)).toEqual([CHANNELS.fill, CHANNELS.miss, CHANNELS.hit]);
  });

  it('publishes stale under grace after an invalidation, the invalidation, and the background fill', async () => {
    const cache = track(createCache({ onError: () => {} }));
    await cache.fetch('dash', 'summary', () => 'v1', { grace: '1m' });
    recorder = record();
    await cache.invalidate('dash');
    const refreshed = deferred();
    const result = await cache.fetch(
      'dash',
      'summary',
      async () => {
        refreshed.resolve();
        return 'v2';
      },
      { grace: '1m' },
    );
    expect(result).toMatchObject({ status: 'STALE', value: 'v1' });
    await refreshed.promise;
    await cache.close();

    const [invalidate] = recorder.of<InvalidateEvent>(CHANNELS.invalidate);
    expect(invalidate).toMatchObject({ namespace: 'dash', version: expect.any(String), warm: false });
    expect(invalidate!.durationMs).toBeGreaterThanOrEqual(0);
    expect(recorder.of<LookupEvent>(CHANNELS.stale)).toMatchObject([
      { namespaces: ['dash'], key: 'summary', status: 'STALE', label: undefined },
    ]);
    expect(recorder.of<FillEvent>(CHANNELS.fill)).toMatchObject([
      { namespaces: ['dash'], background: true, stored: true },
    ]);
  });

  it('publishes a warm invalidation, a bypass once closed, and errors with their code', async () => {
    const cache = track(createCache({ onError: () => {} }));
    cache.addWarmer({ namespaces: 'dash', key: 'summary', compute: () => 'warm' });
    await cache.fetch('dash', 'broken', () => 'v1', { grace: '1m' });
    recorder = record();
    await cache.invalidate('dash', { warm: true });
    expect(recorder.of<InvalidateEvent>(CHANNELS.invalidate)).toMatchObject([
      { namespace: 'dash', warm: true },
    ]);
    expect(recorder.of<FillEvent>(CHANNELS.fill)).toMatchObject([{ key: 'summary', stored: true }]);

    // A failed computation with grace is served stale and reported (VC_REFRESH_FAILED).
    const stale = await cache.fetch('dash', 'broken', () => Promise.reject(new Error('db down')), {
      grace: '1m',
    });
    expect(stale.status).toBe('STALE');
    await cache.close();
    expect(recorder.of<ErrorEvent>(CHANNELS.error)).toMatchObject([
      { code: 'VC_REFRESH_FAILED', message: expect.stringContaining('served stale') },
    ]);

    const closed = await cache.fetch('dash', 'summary', () => 'computed');
    expect(closed.status).toBe('BYPASS');
    expect(recorder.of<LookupEvent>(CHANNELS.bypass)).toMatchObject([
      { namespaces: ['dash'], key: 'summary', status: 'BYPASS', reason: 'closed' },
    ]);
  });

  it('rejects a label that is not a short printable string, naming the option', async () => {
    const cache = track(createCache());
    await expect(cache.fetch('dash', 'k', () => 1, { label: '' })).rejects.toThrow(/invalid label/);
    await expect(cache.fetch('dash', 'k', () => 1, { label: 'x'.repeat(101) })).rejects.toThrow(
      /invalid label/,
    );
    await expect(cache.fetch('dash', 'k', () => 1, { label: 'a\nb' })).rejects.toThrow(/invalid label/);
  });
});

describe('diagnostics channels, real Redis', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('publishes a lease wait when another cache holds the fill lease, then its hit', async () => {
    const lease = { ttl: '10s', maxWait: '10s', pollInterval: '10ms' } as const;
    const holder = track(createCache({ redis: server.url, prefix: 'diag-lease', lease }));
    const waiter = track(createCache({ redis: server.url, prefix: 'diag-lease', lease }));
    await holder.version('orders');
    await waiter.version('orders');
    recorder = record();
    const started = deferred();
    const release = deferred<string>();
    const holding = holder.fetch(
      'orders',
      'totals',
      async () => {
        started.resolve();
        return release.promise;
      },
      { label: 'totals' },
    );
    await started.promise;
    const mgets = async () => (await server.commandStats()).get('mget') ?? 0;
    const before = await mgets();
    const waiting = waiter.fetch('orders', 'totals', () => 'second computation', { label: 'totals' });
    // The waiter's lookup is one MGET and its first poll of the lease the next: from then on it waits.
    while ((await mgets()) < before + 2) await sleep(5);
    const waitingSince = Date.now();
    await sleep(100);
    const heldFor = Date.now() - waitingSince;
    release.resolve('first computation');
    expect(await holding).toMatchObject({ status: 'MISS', value: 'first computation' });
    expect(await waiting).toMatchObject({ status: 'HIT', value: 'first computation' });

    const [wait] = recorder.of<LeaseWaitEvent>(CHANNELS.leaseWait);
    expect(wait).toMatchObject({ namespaces: ['orders'], key: 'totals', label: 'totals', outcome: 'filled' });
    expect(wait!.durationMs).toBeGreaterThanOrEqual(heldFor - 1);
    expect(recorder.of<LookupEvent>(CHANNELS.hit)).toMatchObject([{ key: 'totals', label: 'totals' }]);
    expect(recorder.of<LookupEvent>(CHANNELS.miss)).toMatchObject([{ key: 'totals', label: 'totals' }]);
  });

  it('publishes fail-open, error and bypass when Redis is frozen (SIGSTOP), and nothing is thrown', async () => {
    const cache = track(
      createCache({
        redis: server.url,
        prefix: 'diag-frozen',
        timeout: 200,
        lease: false,
        onError: () => {},
      }),
    );
    await cache.fetch('dash', 'summary', () => 'v1');
    recorder = record();
    server.pause();
    try {
      const result = await cache.fetch('dash', 'summary', () => 'computed', { label: 'summary' });
      expect(result).toMatchObject({ status: 'BYPASS', value: 'computed' });
    } finally {
      server.resume();
    }
    const [failOpen] = recorder.of<FailOpenEvent>(CHANNELS.failOpen);
    expect(failOpen).toMatchObject({ operation: 'read', code: 'VC_STORE_TIMEOUT' });
    expect(failOpen!.durationMs).toBeGreaterThanOrEqual(150);
    expect(recorder.of<ErrorEvent>(CHANNELS.error)).toMatchObject([{ code: 'VC_STORE_TIMEOUT' }]);
    expect(recorder.of<LookupEvent>(CHANNELS.bypass)).toMatchObject([
      { namespaces: ['dash'], label: 'summary', reason: 'store-unavailable' },
    ]);
  });

  it('publishes fail-open when Redis is killed, and an error event for a rejected invalidation', async () => {
    const cache = track(
      createCache({
        redis: server.url,
        prefix: 'diag-killed',
        timeout: 200,
        lease: false,
        onError: () => {},
      }),
    );
    await cache.fetch('dash', 'summary', () => 'v1');
    recorder = record();
    await server.kill();
    try {
      const result = await cache.fetch('dash', 'summary', () => 'computed');
      expect(result.status).toBe('BYPASS');
      await expect(cache.invalidate('dash')).rejects.toMatchObject({
        code: expect.stringMatching(/^VC_STORE/),
      });
    } finally {
      await server.restart();
    }
    expect(recorder.of<FailOpenEvent>(CHANNELS.failOpen)).toMatchObject([{ operation: 'read' }]);
    // The rejected invalidation is an error, not a fail-open: the caller hears of it.
    const errors = recorder.of<ErrorEvent>(CHANNELS.error);
    expect(errors).toHaveLength(2);
    expect(recorder.of<InvalidateEvent>(CHANNELS.invalidate)).toEqual([]);
  });
});

describe('diagnostics channels through an adapter (Express)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });

  it('labels lookups with the route label, and publishes a bypass for credentials without perUser', async () => {
    const cache = track(createCache({ jitter: 0 }));
    const app = express();
    app.use(versionedCache('reports', { cache, label: 'app' }));
    app.get('/reports/:id', cacheRoute({ label: '/reports/:id' }), (req, res) => {
      res.json({ id: req.params.id });
    });
    app.get('/plain', (_req, res) => {
      res.json({ plain: true });
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const http = supertest(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    recorder = record();

    expect((await http.get('/reports/7')).headers['x-cache']).toBe('MISS');
    expect((await http.get('/reports/7')).headers['x-cache']).toBe('HIT');
    expect((await http.get('/plain')).headers['x-cache']).toBe('MISS');
    const secret = await http.get('/reports/7').set('Authorization', 'Bearer someone');
    expect(secret.headers['x-cache']).toBe('BYPASS');

    // The route's own label, never the path that was asked (/reports/7).
    const routeHits = recorder.of<LookupEvent>(CHANNELS.hit).filter((e) => e.label === '/reports/:id');
    expect(routeHits).toMatchObject([{ namespaces: ['reports'], status: 'HIT' }]);
    expect(recorder.of<LookupEvent>(CHANNELS.miss).map((e) => e.label)).toContain('app');
    expect(recorder.of<FillEvent>(CHANNELS.fill).map((e) => e.label)).toContain('/reports/:id');
    const bypasses = recorder.of<LookupEvent>(CHANNELS.bypass);
    expect(bypasses).toHaveLength(1);
    // The middleware learned that the route looks up itself: the route's policy decided the bypass.
    expect(bypasses[0]).toMatchObject({
      namespaces: ['reports'],
      label: '/reports/:id',
      reason: 'credentials',
    });
    const labels = recorder.events.map((e) => (e.message as { label?: string }).label);
    expect(labels.some((label) => label?.includes('7'))).toBe(false);
  });

  it('rejects a route label that is not a short printable string at setup', () => {
    const cache = track(createCache());
    expect(() => versionedCache('reports', { cache, label: '' })).toThrow(/invalid label/);
    expect(() => cacheRoute({ label: 'x'.repeat(200) })).toThrow(/invalid label/);
  });
});
