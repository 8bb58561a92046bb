import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BreakerEvent,
  createCache,
  type InvalidationEvent,
  type VersionedCache,
  type VersionedCacheError,
} from '@versioned-cache/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

// Drill: invalidations issued while Redis is down, with onFailure: 'recover', are never lost. Redis
// keeps its data across the restart (AOF, fsync always), so the old generation is still there when
// it comes back: only the bump, landing late, keeps it from being served.

const NAMESPACES = Array.from({ length: 10 }, (_, i) => `report-${i}`);
const CHANNEL = 'versioned-cache:invalidation';
const BREAKER_CHANNEL = 'versioned-cache:breaker';

/** The cache's invalidation events, and the order of its invalidation and breaker events together. */
function record(cache: VersionedCache): { events: InvalidationEvent[]; order: string[]; stop(): void } {
  const events: InvalidationEvent[] = [];
  const order: string[] = [];
  const onMessage = (message: unknown) => {
    const event = message as InvalidationEvent;
    if (event.store !== cache.store) return;
    events.push(event);
    order.push(`${event.state} ${event.namespace}`);
  };
  const onBreaker = (message: unknown) => {
    const event = message as BreakerEvent;
    if (event.store === cache.store) order.push(`breaker ${event.state}`);
  };
  subscribe(CHANNEL, onMessage);
  subscribe(BREAKER_CHANNEL, onBreaker);
  return {
    events,
    order,
    stop: () => {
      unsubscribe(CHANNEL, onMessage);
      unsubscribe(BREAKER_CHANNEL, onBreaker);
    },
  };
}

async function untilHit(cache: VersionedCache, ns: string, value: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await cache.fetch(ns, 'summary', () => value)).status !== 'HIT') {
    if (Date.now() > deadline) throw new Error(`no hit on ${ns}`);
    await sleep(10);
  }
}

describe('drill: invalidations while Redis is down', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function persistentRedis(): Promise<RedisServer> {
    const server = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
    cleanup.push(() => server.stop());
    return server;
  }

  function cacheOn(server: RedisServer, errors: VersionedCacheError[] = [], extra = {}): VersionedCache {
    const cache = createCache({ redis: server.url, timeout: 250, onError: (e) => errors.push(e), ...extra });
    cleanup.push(() => cache.close());
    return cache;
  }

  it("'recover': every namespace invalidated during the outage moves past its old version, and its old generation is not served", async () => {
    const server = await persistentRedis();
    const invalidating = cacheOn(server);
    const other = cacheOn(server);
    const { events, order, stop } = record(invalidating);
    cleanup.push(stop);
    for (const ns of NAMESPACES) {
      await untilHit(invalidating, ns, `${ns}:old`);
      await untilHit(other, ns, `${ns}:old`);
    }
    const before = new Map<string, string>();
    for (const ns of NAMESPACES) before.set(ns, await invalidating.version(ns));

    await server.kill();
    // Three invalidations per namespace during the outage: each call resolves, one bump waits per namespace.
    for (let round = 0; round < 3; round++) {
      await Promise.all(NAMESPACES.map((ns) => invalidating.invalidate(ns, { onFailure: 'recover' })));
    }
    expect(events.filter((e) => e.state === 'queued').map((e) => e.namespace)).toEqual(NAMESPACES);
    // The default still tells its caller.
    await expect(invalidating.invalidate(NAMESPACES[0]!)).rejects.toMatchObject({
      code: 'VC_STORE_UNAVAILABLE',
    });
    let servedOld = 0;
    for (const ns of NAMESPACES) {
      const result = await invalidating.fetch(ns, 'summary', () => `${ns}:new`);
      expect(result).toMatchObject({ status: 'BYPASS', value: `${ns}:new` });
    }

    await server.restart();
    const startedAt = Date.now();
    const landedAt = new Map<string, number>();
    let otherOldBeforeLanding = 0;
    while (landedAt.size < NAMESPACES.length) {
      if (Date.now() - startedAt > 20_000) throw new Error(`landed only ${landedAt.size} namespaces`);
      for (const e of events)
        if (e.state === 'landed' && !landedAt.has(e.namespace)) landedAt.set(e.namespace, Date.now());
      for (const ns of NAMESPACES) {
        const callStart = Date.now();
        if ((await invalidating.fetch(ns, 'summary', () => `${ns}:new`)).value === `${ns}:old`) servedOld++;
        const seen = await other.fetch(ns, 'summary', () => `${ns}:new`);
        if (seen.value !== `${ns}:old`) continue;
        // Another process knows nothing of the pending bump until it lands.
        const landed = landedAt.get(ns);
        if (landed !== undefined && landed <= callStart) servedOld++;
        else otherOldBeforeLanding++;
      }
      await sleep(5);
    }
    const landingMs = Math.max(...landedAt.values()) - startedAt;

    for (const ns of NAMESPACES) {
      // Three invalidations, one bump: the version moved past the one before the outage, and the
      // record the bump wrote beside it names that one as its previous version.
      const after = await invalidating.version(ns);
      expect(BigInt(after)).toBeGreaterThan(BigInt(before.get(ns)!));
      expect(await server.admin.get(invalidating.keys.previousKey(ns))).toBe(`${before.get(ns)}>${after}`);
      for (const cache of [invalidating, other]) {
        const result = await cache.fetch(ns, 'summary', () => `${ns}:new`);
        expect(result.value).toBe(`${ns}:new`);
      }
    }
    expect(servedOld).toBe(0);
    // The breaker opened during the outage and closed only once every pending bump had landed.
    const lastLanded = order.reduce((last, event, i) => (event.startsWith('landed') ? i : last), -1);
    expect(order.slice(0, lastLanded)).toContain('breaker open');
    expect(order.slice(0, lastLanded)).not.toContain('breaker closed');
    expect(order.slice(lastLanded)).toContain('breaker closed');
    expect(events.filter((e) => e.state === 'landed')).toHaveLength(NAMESPACES.length);
    expect(events.filter((e) => e.state === 'dropped')).toHaveLength(0);
    console.info(
      `[measure] recover drill: ${NAMESPACES.length}×3 invalidations during the outage, 0 lost; all landed ` +
        `${landingMs} ms after the restart; the other process read the old generation ${otherOldBeforeLanding} ` +
        'times before the bumps landed, 0 after',
    );
  });

  it('a full queue rejects the invalidation and reports it; closing with bumps still pending reports each', async () => {
    const server = await persistentRedis();
    const errors: VersionedCacheError[] = [];
    const cache = cacheOn(server, errors, { pendingInvalidations: { max: 2 } });
    const { events, stop } = record(cache);
    cleanup.push(stop);
    await untilHit(cache, 'q-0', 'value');

    await server.kill();
    await cache.invalidate('q-0', { onFailure: 'recover' });
    await cache.invalidate('q-1', { onFailure: 'recover' });
    await expect(cache.invalidate('q-2', { onFailure: 'recover' })).rejects.toMatchObject({
      code: 'VC_INVALIDATION_QUEUE_FULL',
    });
    // A namespace already pending takes no more room.
    await cache.invalidate('q-0', { onFailure: 'recover' });
    expect(errors.map((e) => e.code)).toContain('VC_INVALIDATION_QUEUE_FULL');
    expect(events.map((e) => `${e.state} ${e.namespace}`)).toEqual([
      'queued q-0',
      'queued q-1',
      'dropped q-2',
    ]);

    await cache.close();
    expect(events.slice(3).map((e) => `${e.state} ${e.namespace}`)).toEqual(['dropped q-0', 'dropped q-1']);
    expect(errors.filter((e) => e.code === 'VC_CLOSED')).toHaveLength(2);
  });
});
