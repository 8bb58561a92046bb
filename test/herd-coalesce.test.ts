// invalidationInterval: a burst of invalidations from one process costs one bump at once and one
// trailing bump, and every call resolves only after a bump that followed it, so a read after its
// promise never sees data from before the call. Bumps are counted with INFO commandstats.
import { createCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

const NS = 'dashboard';
const KEY = 'summary';
const BASE = { jitter: 0, timeout: '2s', prefix: 'herd-coalesce' } as const;

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

async function calls(command: string): Promise<number> {
  return (await redis.commandStats()).get(command) ?? 0;
}

describe('invalidation coalescing', () => {
  it('10 invalidations in a burst are 2 INCRs, and a read after any of their promises sees the new data', async () => {
    const writer = createCache({ redis: redis.url, ...BASE, invalidationInterval: '1s' });
    const reader = createCache({ redis: redis.url, ...BASE }); // another process serving reads
    let source = 'v1';
    const compute = async () => source;
    try {
      expect(await reader.fetch(NS, KEY, compute)).toMatchObject({ status: 'MISS', value: 'v1' });
      const before = BigInt(await writer.version(NS));
      const incrs = await calls('incrby');

      source = 'v2';
      const leading = writer.invalidate(NS);
      await leading;
      expect(await reader.fetch(NS, KEY, compute)).toMatchObject({ status: 'MISS', value: 'v2' });

      // New data lands right after the leading bump: the nine calls that follow must not be
      // answered by that bump, or the reader's v2 entry would survive them.
      source = 'v3';
      const trailing = Array.from({ length: 9 }, () => writer.invalidate(NS));
      await Promise.all(trailing);
      expect(await reader.fetch(NS, KEY, compute)).toMatchObject({ status: 'MISS', value: 'v3' });

      expect((await calls('incrby')) - incrs).toBe(2);
      expect(BigInt(await reader.version(NS)) > before).toBe(true);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('without an interval every invalidation is its own INCR', async () => {
    const cache = createCache({ redis: redis.url, ...BASE });
    try {
      const before = BigInt(await cache.version('plain'));
      const incrs = await calls('incrby');
      await Promise.all(Array.from({ length: 10 }, () => cache.invalidate('plain')));
      expect((await calls('incrby')) - incrs).toBe(10);
      // Each bump adds less than 2^31.
      const moved = BigInt(await cache.version('plain')) - before;
      expect(moved >= 10n && moved < 10n * 2n ** 31n).toBe(true);
    } finally {
      await cache.close();
    }
  });
});
