import { createCache, MemoryStore, type VersionedCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

// A version key overwritten by hand with something that is not an integer must not wedge the
// namespace: reads keep working by equality, grace finds no predecessor instead of throwing, and the
// next invalidation starts a fresh random generation instead of failing forever on INCR.

describe.each(['redis', 'memory'] as const)('a non-integer version (%s)', (kind) => {
  let server: RedisServer | undefined;
  let cache: VersionedCache;
  let overwrite: (key: string, value: string) => Promise<void>;

  beforeAll(async () => {
    if (kind === 'redis') {
      server = await startRedis();
      // Behaviour, not fault bounds: a generous timeout keeps a loaded machine from failing calls open.
      cache = createCache({ redis: server.url, timeout: '5s' });
      overwrite = async (key, value) => {
        await server!.admin.set(key, value);
      };
    } else {
      const store = new MemoryStore();
      cache = createCache({ store });
      overwrite = async (key, value) => {
        store.delete(key);
        await store.setIfAbsent(key, value);
      };
    }
  });

  afterAll(async () => {
    await cache.close();
    await server?.stop();
  });

  it('keeps reading, serves no stale, and invalidates to a fresh random version', async () => {
    const ns = `corrupt-${kind}`;
    expect(await cache.getOrSet(ns, 'k', () => 'before')).toBe('before');
    await overwrite(cache.keys.versionKey(ns), 'not-a-number');

    let computed = 0;
    const compute = () => `after-${++computed}`;
    expect(await cache.getOrSet(ns, 'k2', compute)).toBe('after-1');
    expect(await cache.getOrSet(ns, 'k2', compute)).toBe('after-1');
    // A process that never saw the namespace looks for grace material one INCR back: such a version
    // has no predecessor, and the read must not throw.
    const fresh = createCache({ store: cache.store });
    expect(await fresh.getOrSet(ns, 'k3', compute, { grace: '1m' })).toBe('after-2');

    await cache.invalidate(ns);
    const version = await cache.version(ns);
    expect(version).toMatch(/^\d+$/);
    expect(BigInt(version) >= 2n ** 32n).toBe(true);
    expect(await cache.getOrSet(ns, 'k2', compute)).toBe('after-3');
  });
});
