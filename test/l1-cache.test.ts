import { createCache, type VersionedCache } from '@versioned-cache/core';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandDelta } from './support/command-delta.js';
import { trackerDown, trackerUp } from './support/l1-tracking.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

// With `l1`, a hit at versions Redis tracking vouches for is served from process memory: zero
// round trips, and still never a generation another client has invalidated.

/** Commands the data path sent, leaving out the tracker's heartbeat PINGs. */
function dataCommands(delta: Record<string, number>): Record<string, number> {
  const { ping: _heartbeat, ...rest } = delta;
  return rest;
}

describe('the l1 option', () => {
  it('is refused at setup without Redis, with a custom store, on Cluster, or with bad bounds', () => {
    expect(() => createCache({ l1: true })).toThrow(/invalid l1: needs the redis option/);
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      expect(() => createCache({ redis: cluster, l1: true })).toThrow(
        /invalid l1: is not supported on Redis Cluster/,
      );
    } finally {
      cluster.disconnect();
    }
    const url = 'redis://127.0.0.1:1';
    expect(() => createCache({ redis: url, l1: 'yes' as never })).toThrow(/invalid l1: must be a boolean/);
    expect(() => createCache({ redis: url, l1: { maxEntries: 0 } })).toThrow(/invalid l1\.maxEntries/);
    expect(() => createCache({ redis: url, l1: { maxBytes: 1.5 } })).toThrow(/invalid l1\.maxBytes/);
    expect(() => createCache({ redis: url, l1: { max: 1 } as never })).toThrow(
      /invalid l1\.max: is not a known/,
    );
    expect(() => createCache({ redis: url, l1: 1 as never })).toThrow(TypeError);
  });

  it('is off by default and with false', async () => {
    const off = createCache({ redis: 'redis://127.0.0.1:1', l1: false });
    expect(off.l1).toBeUndefined();
    expect(createCache().l1).toBeUndefined();
    await off.close();
  });
});

describe('l1 against a real Redis', () => {
  let server: RedisServer;
  let cache: VersionedCache;
  let other: VersionedCache;
  const errors: string[] = [];
  let computations = 0;
  const compute = (value: string) => () => {
    computations++;
    return value;
  };

  /** Reads until the tier serves the entry, so that every read after it is a memory hit. */
  async function warm(ns: string, key: string): Promise<void> {
    await cache.fetch(ns, key, compute('warm'));
    await cache.fetch(ns, key, compute('warm'));
    await cache.l1!.tracker.track([`vc:{${ns}}:version`]);
  }

  beforeAll(async () => {
    server = await startRedis();
    cache = createCache({
      redis: server.url,
      l1: true,
      onError: (e) => errors.push(`${e.code} ${e.message}`),
    });
    other = createCache({ redis: server.url });
    await trackerUp(cache.l1!.tracker);
    await other.invalidate('script-warm-up');
  });

  afterAll(async () => {
    await Promise.all([cache.close(), other.close()]);
    await server.stop();
    expect(errors).toEqual([]);
  });

  it('serves N hits after the first from memory with zero Redis commands', async () => {
    await cache.fetch('sales', 'summary', compute('s1'));
    await warm('sales', 'summary');
    const before = computations;
    const delta = await commandDelta(server, async () => {
      for (let i = 0; i < 100; i++) {
        expect(await cache.fetch('sales', 'summary', compute('never'))).toMatchObject({
          value: 's1',
          status: 'HIT',
        });
      }
    });
    expect(dataCommands(delta)).toEqual({});
    expect(computations).toBe(before);
    expect(cache.l1!.size).toBeGreaterThan(0);
  });

  it('memory hits of one turn resume together, after the turn that asked', async () => {
    await cache.fetch('turns', 'page', compute('t1'));
    await warm('turns', 'page');
    const statuses: string[] = [];
    let seenByTheNextCallback = -1;
    const delta = await commandDelta(server, async () => {
      const hits = Array.from({ length: 20 }, () =>
        cache.fetch('turns', 'page', compute('never')).then((r) => statuses.push(`${r.status} ${r.value}`)),
      );
      for (let i = 0; i < 100; i++) await Promise.resolve();
      expect(statuses).toEqual([]); // not inside the callback that asked
      setImmediate(() => {
        seenByTheNextCallback = statuses.length;
      });
      await Promise.all(hits);
      await new Promise((resolve) => setImmediate(resolve));
    });
    expect(seenByTheNextCallback).toBe(20);
    expect(statuses).toEqual(Array(20).fill('HIT t1'));
    expect(dataCommands(delta)).toEqual({});
  });

  it('after another client invalidates, the next read goes to Redis and returns the new value', async () => {
    await cache.fetch('regions', 'map', compute('r1'));
    await warm('regions', 'map');
    await other.invalidate('regions');
    // One round trip through the subscriber: the invalidation, queued before `other` got its reply,
    // has now been handled.
    expect(await cache.l1!.sync()).toBe(true);
    const delta = await commandDelta(server, async () => {
      expect(await cache.fetch('regions', 'map', compute('r2'))).toMatchObject({
        value: 'r2',
        status: 'MISS',
      });
    });
    expect(dataCommands(delta).mget).toBeGreaterThanOrEqual(1);
    expect(await other.fetch('regions', 'map', compute('never'))).toMatchObject({
      value: 'r2',
      status: 'HIT',
    });
  });

  it('its own invalidate() is seen by its very next read, before Redis says so', async () => {
    await cache.fetch('own', 'k', compute('o1'));
    await warm('own', 'k');
    for (let i = 2; i < 50; i++) {
      await cache.invalidate('own');
      expect(await cache.fetch('own', 'k', compute(`o${i}`))).toMatchObject({
        value: `o${i}`,
        status: 'MISS',
      });
      await cache.fetch('own', 'k', compute('never'));
    }
  });

  it('an entry on two namespaces is invalidated by either', async () => {
    await cache.fetch(['a', 'b'], 'chart', compute('c1'));
    await cache.fetch(['a', 'b'], 'chart', compute('c1'));
    await cache.l1!.tracker.track(['vc:{a}:version', 'vc:{b}:version']);
    const delta = await commandDelta(server, () => cache.fetch(['b', 'a'], 'chart', compute('never')));
    expect(dataCommands(delta)).toEqual({});
    await other.invalidate('b');
    expect(await cache.l1!.sync()).toBe(true);
    expect(await cache.fetch(['a', 'b'], 'chart', compute('c2'))).toMatchObject({
      value: 'c2',
      status: 'MISS',
    });
  });

  it('when the tracking connection is killed: the tier empties, reads go to Redis with no stale read, then memory hits resume', async () => {
    await cache.fetch('kill', 'k', compute('k1'));
    await warm('kill', 'k');
    expect(cache.l1!.size).toBeGreaterThan(0);
    const down = trackerDown(cache.l1!.tracker);
    await server.admin.client('KILL', 'TYPE', 'pubsub');
    // Invalidated while no subscriber listens: this message is lost.
    await other.invalidate('kill');
    // Either the drop was already handled, or this round trip finds the subscriber gone (or, once
    // reconnected, brings no trust from before): no version read before the kill survives it.
    await cache.l1!.sync();
    await down;
    expect(cache.l1!.size).toBe(0);
    const delta = await commandDelta(server, async () => {
      expect(await cache.fetch('kill', 'k', compute('k2'))).toMatchObject({ value: 'k2', status: 'MISS' });
    });
    expect(dataCommands(delta).mget).toBeGreaterThanOrEqual(1);

    await trackerUp(cache.l1!.tracker);
    await warm('kill', 'k');
    const hits = await commandDelta(server, async () => {
      expect(await cache.fetch('kill', 'k', compute('never'))).toMatchObject({ value: 'k2', status: 'HIT' });
    });
    expect(dataCommands(hits)).toEqual({});
  });

  it('when Redis refuses tracking, it reports once and serves every read from Redis', async () => {
    await server.admin.acl('SETUSER', 'notrack', 'on', '>pw', '~*', '&*', '+@all', '-client|tracking');
    const errorsHere: string[] = [];
    const refused = createCache({
      redis: { port: server.port, host: '127.0.0.1', username: 'notrack', password: 'pw' },
      l1: true,
      onError: (e) => errorsHere.push(e.code),
    });
    try {
      await refused.fetch('refused', 'k', compute('x'));
      await refused.fetch('refused', 'k', compute('x'));
      await refused.l1!.tracker.track(['vc:{refused}:version']);
      expect(refused.l1!.status).toBe('down');
      const delta = await commandDelta(server, () => refused.fetch('refused', 'k', compute('never')));
      expect(dataCommands(delta).mget).toBe(1);
      expect(errorsHere).toEqual(['VC_STORE_ERROR']);
    } finally {
      await refused.close();
    }
  });

  it('keeps no more entries than l1.maxEntries', async () => {
    const small = createCache({ redis: server.url, l1: { maxEntries: 3 } });
    try {
      await trackerUp(small.l1!.tracker);
      for (let i = 0; i < 10; i++) {
        await small.fetch('bounded', `k${i}`, compute(`v${i}`));
        await small.fetch('bounded', `k${i}`, compute(`v${i}`));
      }
      expect(small.l1!.size).toBe(3);
    } finally {
      await small.close();
    }
  });
});

describe('l1 with a client the application owns', () => {
  it('reads through the client’s key prefix and leaves the client open', async () => {
    const server = await startRedis();
    const client = new Redis(server.url, { keyPrefix: 'app:' });
    const cache = createCache({ redis: client, l1: true });
    const other = createCache({ redis: new Redis(server.url, { keyPrefix: 'app:' }) });
    try {
      await trackerUp(cache.l1!.tracker);
      await cache.fetch('p', 'k', () => 'v1');
      await cache.fetch('p', 'k', () => 'v1');
      await cache.l1!.tracker.track(['vc:{p}:version']);
      expect(cache.l1!.tracker.version('vc:{p}:version')).toBe(await server.admin.get('app:vc:{p}:version'));
      await other.invalidate('p');
      expect(await cache.l1!.sync()).toBe(true);
      expect(cache.l1!.tracker.version('vc:{p}:version')).toBeUndefined();
      expect(await cache.fetch('p', 'k', () => 'v2')).toMatchObject({ value: 'v2', status: 'MISS' });
      await cache.close();
      expect(client.status).toBe('ready');
    } finally {
      client.disconnect();
      (other.store as unknown as { client: Redis }).client.disconnect();
      await other.close();
      await server.stop();
    }
  });
});
