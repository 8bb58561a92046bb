// Durable invalidation: a version bump followed by WAIT on the same connection, one round trip,
// rejected with VC_NOT_DURABLE when fewer replicas than asked hold it. Real master and replica.
import { createCache, isVersionedCacheError, RedisStore } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandDelta } from './support/command-delta.js';
import { type RedisServer, startRedis, waitForReplica } from './support/redis-server.js';

let master: RedisServer;
let replica: RedisServer;
let store: RedisStore;

beforeAll(async () => {
  master = await startRedis();
  replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  await waitForReplica(master, 1);
  store = new RedisStore(master.url, { commandTimeoutMs: 2_000 });
});

afterAll(async () => {
  await store?.close();
  await replica?.stop();
  await master?.stop();
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('durable version bumps', () => {
  it('resolve once the replica holds the new version, in one pipelined script and WAIT', async () => {
    const key = 'dur:{a}:version';
    await store.advanceVersion(key, '5000000000', { durability: { replicas: 1, timeoutMs: 5_000 } });
    let bumped = '';
    const delta = await commandDelta(master, async () => {
      const bump = await store.advanceVersion(key, '1', {
        previousKey: 'dur:{a}:previous',
        durability: { replicas: 1, timeoutMs: 5_000 },
      });
      bumped = bump.version;
      expect(bump.previous).toBe('5000000000');
    });
    // REPLCONF is the replica's acknowledgement to the master, not a command of the store.
    const { replconf, ...sent } = delta;
    expect(replconf).toBeGreaterThanOrEqual(1);
    expect(sent).toEqual({ evalsha: 1, get: 2, incrby: 1, set: 1, wait: 1 });
    // Acknowledged means the replica has it: read it there, no waiting.
    expect(await replica.admin.get(key)).toBe(bumped);
  });

  it('reject with VC_NOT_DURABLE when the replica does not acknowledge in time', async () => {
    const key = 'dur:{b}:version';
    await store.bumpVersion(key, '6000000000');
    replica.pause();
    try {
      const refused = await rejection(
        store.bumpVersion(key, '1', { durability: { replicas: 1, timeoutMs: 300 } }),
      );
      expect(isVersionedCacheError(refused) && refused.code).toBe('VC_NOT_DURABLE');
      expect(String((refused as Error).message)).toMatch(/reached 0 of 1 replicas within 300 ms/);
    } finally {
      replica.resume();
    }
  });

  it('a durable compare-and-set is one pipelined script and WAIT, and the replica holds what it acknowledged', async () => {
    const key = 'dur:{cas}:version';
    await store.bumpVersion(key, '4000000000', { durability: { replicas: 1, timeoutMs: 5_000 } });
    let replaced = false;
    const delta = await commandDelta(master, async () => {
      replaced = await store.compareAndSet(key, '4000000000', '4000000777', 'dur:{cas}:previous', {
        replicas: 1,
        timeoutMs: 5_000,
      });
    });
    expect(replaced).toBe(true);
    const { replconf, ...sent } = delta;
    expect(replconf).toBeGreaterThanOrEqual(1);
    // The script's first use on the durable connection goes out as EVAL, later ones as EVALSHA.
    const { eval: evals = 0, evalsha = 0, ...rest } = sent;
    expect({ scripts: evals + evalsha, ...rest }).toEqual({ scripts: 1, get: 1, set: 2, wait: 1 });
    expect(await replica.admin.get(key)).toBe('4000000777');
    expect(await replica.admin.get('dur:{cas}:previous')).toBe('4000000000>4000000777');
    replica.pause();
    try {
      const refused = await rejection(
        store.compareAndSet(key, '4000000777', '4000000999', undefined, { replicas: 1, timeoutMs: 300 }),
      );
      expect(isVersionedCacheError(refused) && refused.code).toBe('VC_NOT_DURABLE');
    } finally {
      replica.resume();
    }
  });

  it('reject when more replicas are asked for than exist', async () => {
    const refused = await rejection(
      store.bumpVersion('dur:{c}:version', '7000000000', { durability: { replicas: 2, timeoutMs: 200 } }),
    );
    expect(isVersionedCacheError(refused) && refused.code).toBe('VC_NOT_DURABLE');
  });

  it('through the cache: invalidate rejects when not durable, and hits do not queue behind the WAIT', async () => {
    const cache = createCache({
      redis: master.url,
      timeout: '2s',
      durability: { replicas: 1, timeout: '1s' },
    });
    const faults: string[] = [];
    cache.on('error', (error) => faults.push(error.code));
    try {
      expect(await cache.getOrSet('orders', 'list', () => 'v1')).toBe('v1');
      await cache.invalidate('orders');
      expect(await cache.getOrSet('orders', 'list', () => 'v2')).toBe('v2');
      replica.pause();
      const settled: string[] = [];
      const invalidation = cache.invalidate('orders').then(
        () => settled.push('invalidate resolved'),
        (error: unknown) => settled.push(`invalidate rejected ${(error as { code?: string }).code}`),
      );
      // The WAIT blocks its own connection only: a hit on the cache's main connection answers first.
      const hit = await cache.fetch('other', 'k', () => 'x');
      settled.push(`read ${hit.status}`);
      await invalidation;
      expect(settled).toEqual(['read MISS', 'invalidate rejected VC_NOT_DURABLE']);
      expect(faults).toContain('VC_NOT_DURABLE');
    } finally {
      replica.resume();
      await cache.close();
    }
  });
  it('through the cache: a warm invalidation is acknowledged by the replica, or rejected when it is not', async () => {
    const cache = createCache({
      redis: master.url,
      prefix: 'warmdur',
      timeout: '2s',
      durability: { replicas: 1, timeout: '1s' },
    });
    let computed = 0;
    cache.addWarmer({ namespaces: 'reports', key: 'summary', compute: () => `summary ${++computed}` });
    try {
      expect(await cache.getOrSet('reports', 'summary', () => `summary ${++computed}`)).toBe('summary 1');
      await cache.invalidate('reports', { warm: true });
      const published = await cache.version('reports');
      // Acknowledged: the replica already holds the published version, so a failover now keeps it.
      const [versionKey] = (await master.admin.keys('warmdur*reports*version')) as string[];
      expect(await replica.admin.get(versionKey!)).toBe(published);
      expect(await cache.getOrSet('reports', 'summary', () => 'never')).toBe('summary 2');
      replica.pause();
      const refused = await rejection(cache.invalidate('reports', { warm: true }));
      expect(isVersionedCacheError(refused) && refused.code).toBe('VC_NOT_DURABLE');
    } finally {
      replica.resume();
      await cache.close();
    }
  });

  it("through the cache: the invalidation's deadline is the timeout plus the replicas' wait", async () => {
    const cache = createCache({
      redis: master.url,
      timeout: 250,
      durability: { replicas: 1, timeout: '3s' },
    });
    try {
      await cache.invalidate('slow-replica');
      // The replica answers after 600 ms: past the 250 ms timeout, within the 3 s durability wait.
      replica.pause();
      const startedAt = performance.now();
      setTimeout(() => replica.resume(), 600);
      await cache.invalidate('slow-replica');
      const elapsed = performance.now() - startedAt;
      console.info(
        `[measure] durable invalidation with a replica 600 ms late: resolved in ${elapsed.toFixed(0)} ms`,
      );
      expect(elapsed).toBeGreaterThanOrEqual(550);
      expect(elapsed).toBeLessThan(250 + 3_000);
    } finally {
      replica.resume();
      await cache.close();
    }
  });
});
