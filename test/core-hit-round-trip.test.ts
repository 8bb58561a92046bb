import { createCache, type VersionedCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandDelta, settle } from './support/command-delta.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

// Invariant 5: a hit costs one Redis round trip (one MGET of version(s) and entry) once this
// process has seen the namespace's version; only a moved version costs a second read.

describe('a hit is one round trip on a real Redis', () => {
  let server: RedisServer;
  let cache: VersionedCache;
  let other: VersionedCache;
  let computations = 0;
  const compute = (value: string) => () => {
    computations++;
    return value;
  };

  beforeAll(async () => {
    server = await startRedis();
    // Behaviour, not fault bounds: a generous timeout keeps a loaded machine from failing calls open.
    cache = createCache({ redis: server.url, timeout: '5s' });
    other = createCache({ redis: server.url, timeout: '5s' });
    await other.invalidate('script-warm-up');
  });

  afterAll(async () => {
    await Promise.all([cache.close(), other.close()]);
    await server.stop();
  });

  it('a hit on one namespace sends exactly one MGET and nothing else', async () => {
    expect(await cache.fetch('sales', 'summary', compute('v1'))).toMatchObject({
      status: 'MISS',
      value: 'v1',
    });
    await settle(cache);
    computations = 0;
    let result: unknown;
    const delta = await commandDelta(server, async () => {
      result = await cache.fetch('sales', 'summary', compute('never'));
    });
    expect(result).toMatchObject({ status: 'HIT', value: 'v1' });
    expect(delta).toEqual({ mget: 1 });
    expect(computations).toBe(0);
  });

  it('a hit on an entry that depends on two namespaces is still one MGET', async () => {
    const namespaces = ['sales', 'regions'];
    expect(await cache.fetch(namespaces, 'by-region', compute('r1'))).toMatchObject({ status: 'MISS' });
    await settle(cache);
    let result: unknown;
    const delta = await commandDelta(server, async () => {
      result = await cache.fetch(['regions', 'sales'], 'by-region', compute('never'));
    });
    expect(result).toMatchObject({ status: 'HIT', value: 'r1' });
    expect(delta).toEqual({ mget: 1 });
  });

  it('n hits are n MGETs', async () => {
    await cache.getOrSet('sales', 'details', compute('d1'));
    await settle(cache);
    const delta = await commandDelta(server, async () => {
      for (let i = 0; i < 25; i++)
        expect(await cache.getOrSet('sales', 'details', compute('never'))).toBe('d1');
    });
    expect(delta).toEqual({ mget: 25 });
  });

  it('after another process moved the version, one extra read, then one MGET again', async () => {
    await cache.getOrSet('charts', 'line', compute('c1'));
    await other.invalidate('charts');
    // The other process fills the new generation; this one still knows the old version.
    expect(await other.getOrSet('charts', 'line', compute('c2'))).toBe('c2');
    await settle(other);
    let first: unknown;
    const moved = await commandDelta(server, async () => {
      first = await cache.fetch('charts', 'line', compute('never'));
    });
    expect(first).toMatchObject({ status: 'HIT', value: 'c2' });
    expect(moved).toEqual({ mget: 2 });
    const steady = await commandDelta(server, () => cache.fetch('charts', 'line', compute('never')));
    expect(steady).toEqual({ mget: 1 });
  });

  it('a process that has never seen the namespace reads the version first, then one MGET per hit', async () => {
    await other.getOrSet('metadata', 'info', compute('m1'));
    await settle(other);
    const fresh = createCache({ redis: server.url, timeout: '5s' });
    try {
      await fresh.version('script-warm-up'); // connects, so that the handshake is not counted below
      const cold = await commandDelta(server, () => fresh.fetch('metadata', 'info', compute('never')));
      expect(cold).toEqual({ mget: 2 });
      const warm = await commandDelta(server, () => fresh.fetch('metadata', 'info', compute('never')));
      expect(warm).toEqual({ mget: 1 });
    } finally {
      await fresh.close();
    }
  });
});
