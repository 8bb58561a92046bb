import { createCache, RedisStore, type VersionedCache } from '@versioned-cache/core';
import { Redis as Redis5 } from 'ioredis5';
import { Redis as Redis6 } from 'ioredis6';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandDelta, settle } from './support/command-delta.js';
import { type RedisServer, startRedis } from './support/redis-server.js';
import { storeContractSuite } from './support/store-contract.js';

// ioredis is a peer dependency accepting 5 and 6: the store and the cache behave the same on a
// client the application built from either major and passed in as an instance.

let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server.stop();
});

const majors = [
  { name: 'ioredis 5', connect: (url: string) => new Redis5(url, { maxRetriesPerRequest: 1 }) },
  { name: 'ioredis 6', connect: (url: string) => new Redis6(url, { maxRetriesPerRequest: 1 }) },
];

describe.each(majors)('$name client passed in', ({ name, connect }) => {
  // The store never closes a client it was given: the test does, once its suites are done.
  const clients: { quit(): Promise<unknown> }[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit()));
  });

  storeContractSuite(`RedisStore on an ${name} client`, () => {
    const client = connect(server.url);
    clients.push(client);
    return new RedisStore(client, { commandTimeoutMs: 1_000 });
  });

  describe('cache', () => {
    let cache: VersionedCache;
    beforeAll(async () => {
      const client = connect(server.url);
      clients.push(client);
      // Behaviour, not fault bounds: a generous timeout keeps a loaded machine from failing calls open.
      cache = createCache({ redis: client, prefix: `majors-${name.replace(' ', '')}`, timeout: '5s' });
      await cache.invalidate('script-warm-up');
    });
    afterAll(async () => {
      await cache.close();
    });

    it('hits with exactly one MGET, and one INCR invalidates', async () => {
      expect(await cache.fetch('sales', 'summary', () => 'v1')).toMatchObject({
        status: 'MISS',
        value: 'v1',
      });
      await settle(cache);
      let hit: unknown;
      const hitDelta = await commandDelta(server, async () => {
        hit = await cache.fetch('sales', 'summary', () => 'never');
      });
      expect(hit).toMatchObject({ status: 'HIT', value: 'v1' });
      expect(hitDelta).toEqual({ mget: 1 });

      const bumpDelta = await commandDelta(server, () => cache.invalidate('sales'));
      // One script: INCRBY a random step, read it back, record the previous version.
      expect(bumpDelta).toEqual({ evalsha: 1, get: 2, incrby: 1, set: 1 });
      expect(await cache.fetch('sales', 'summary', () => 'v2')).toMatchObject({
        status: 'MISS',
        value: 'v2',
      });
      expect(await cache.fetch('sales', 'summary', () => 'never')).toMatchObject({
        status: 'HIT',
        value: 'v2',
      });
    });
  });
});
