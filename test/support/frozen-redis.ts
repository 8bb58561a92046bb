import { createCache, type VersionedCache } from '@versioned-cache/core';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { startRedis } from './redis-server.js';

export interface FreezableCache {
  /** A cache on the test's own client (which it does not close), with a 2 s timeout. */
  cache: VersionedCache;
  /** Codes of the faults the cache reported. */
  faults: string[];
  /** Freezes the redis-server (SIGSTOP): connections stay open and nothing answers. */
  freeze(): void;
}

/**
 * Runs `drill` against a cache on a private redis-server that the drill can freeze, then stops the
 * server (SIGKILL ends a frozen one too) and removes its directory, whatever the drill did. The
 * timeouts are generous: healthy requests never reach them on a loaded machine, and a frozen server
 * never answers, so a frozen request reaches them every time.
 */
export async function withFreezableRedis(drill: (setup: FreezableCache) => Promise<void>): Promise<void> {
  const redis = await startRedis();
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1, commandTimeout: 2_000 });
  client.on('error', () => {});
  const cache = createCache({ redis: client, timeout: '2s' });
  const faults: string[] = [];
  cache.on('error', (error) => faults.push(error.code));
  try {
    await drill({ cache, faults, freeze: () => redis.pause() });
  } finally {
    await cache.close();
    client.disconnect();
    await redis.stop();
  }
}

interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * The fail-open drill of an adapter: a miss, a hit, then with Redis frozen the handler answers
 * (BYPASS, its second computation) and the timeout is reported. `get` requests the cached route,
 * whose handler answers `{ calls }`.
 */
export async function expectFailsOpen(
  get: () => PromiseLike<HttpReply>,
  { faults, freeze }: Pick<FreezableCache, 'faults' | 'freeze'>,
): Promise<void> {
  expect((await get()).headers['x-cache']).toBe('MISS');
  expect((await get()).headers['x-cache']).toBe('HIT');
  expect(faults).toEqual([]);
  freeze();
  const down = await get();
  expect([down.status, down.headers['x-cache'], down.body]).toEqual([200, 'BYPASS', { calls: 2 }]);
  expect(faults).toContain('VC_STORE_TIMEOUT');
}
