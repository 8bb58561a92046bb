import { createCache, type VersionedCache } from '@versioned-cache/core';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffStats } from './support/command-delta.js';
import { type RedisCluster, startRedisCluster } from './support/redis-cluster.js';

// Invariant 5 on Redis Cluster: a namespace's version, entries and leases share a hash tag, so they
// live in one slot; an entry of several namespaces reads each slot separately; nothing CROSSSLOTs.

describe('on a real 3-master Redis Cluster', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  let nodeAdmins: Redis[];
  let cache: VersionedCache;
  const errors: string[] = [];
  /** The master port serving each slot. */
  const owner = new Map<number, number>();

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.nodes);
    await client.ping();
    nodeAdmins = cluster.nodes.map((node) => new Redis({ ...node, maxRetriesPerRequest: 1 }));
    for (const [start, end, master] of await client.cluster('SLOTS')) {
      for (let slot = start; slot <= end; slot++) owner.set(slot, master![1]);
    }
    cache = createCache({
      redis: client,
      // Behaviour, not fault bounds: a generous timeout keeps a loaded machine from failing calls open.
      timeout: '5s',
      onError: (error) => errors.push(`${error.code}: ${error.message}`),
    });
  });

  afterAll(async () => {
    await cache?.close();
    client?.disconnect();
    for (const admin of nodeAdmins ?? []) admin.disconnect();
    await cluster?.stop();
  });

  const keySlot = async (key: string) => Number(await client.cluster('KEYSLOT', key));

  /** Commands run on all masters during `action`, summed; ioredis's own topology reads left out. */
  async function clusterDelta(action: () => Promise<unknown>): Promise<Record<string, number>> {
    const read = () =>
      Promise.all(
        nodeAdmins.map(async (admin) => {
          const stats = new Map<string, number>();
          const info = await admin.info('commandstats');
          for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(m[1]!, Number(m[2]));
          return stats;
        }),
      );
    const before = await read();
    await action();
    const after = await read();
    const total: Record<string, number> = {};
    after.forEach((stats, i) => {
      for (const [name, calls] of Object.entries(diffStats(before[i]!, stats))) {
        if (name.startsWith('cluster')) continue;
        total[name] = (total[name] ?? 0) + calls;
      }
    });
    return total;
  }

  /** Two namespaces whose keys live on different masters, in the cache's (sorted) order. */
  async function namespacesOnTwoNodes(): Promise<[string, string]> {
    const first = 'regions';
    const firstPort = owner.get(await keySlot(cache.keys.versionKey(first)));
    for (let i = 0; i < 100; i++) {
      const candidate = `sales-${i}`;
      if (owner.get(await keySlot(cache.keys.versionKey(candidate))) !== firstPort) return [first, candidate];
    }
    throw new Error('no namespace on another master');
  }

  it('keeps a namespace’s version, entry and lease keys in one slot', async () => {
    for (const ns of ['sales', 'regions', 'ns:with:colons', 'x'.repeat(128)]) {
      const version = await cache.version(ns);
      const slot = await keySlot(cache.keys.versionKey(ns));
      const entry = cache.keys.entryKey([ns], [version], 'GET /api/report?year=2024');
      const hashed = cache.keys.entryKey([ns], [version], `GET /${'long'.repeat(200)}`);
      expect(hashed.length).toBeLessThan(600);
      expect(await keySlot(entry)).toBe(slot);
      expect(await keySlot(hashed)).toBe(slot);
      expect(await keySlot(cache.keys.leaseKey(entry))).toBe(slot);
    }
    // Namespaces spread over the masters, or the test below would prove nothing about routing.
    const ports = new Set<number | undefined>();
    for (let i = 0; i < 30; i++) ports.add(owner.get(await keySlot(cache.keys.versionKey(`spread-${i}`))));
    expect(ports.size).toBe(3);
  });

  it('serves misses, hits and invalidations on every master without CROSSSLOT', async () => {
    for (let i = 0; i < 30; i++) {
      const ns = `spread-${i}`;
      expect(await cache.fetch(ns, 'page', () => `v1-${i}`)).toMatchObject({
        status: 'MISS',
        value: `v1-${i}`,
      });
      expect(await cache.fetch(ns, 'page', () => 'never')).toMatchObject({ status: 'HIT', value: `v1-${i}` });
      await cache.invalidate(ns);
      expect(await cache.fetch(ns, 'page', () => `v2-${i}`)).toMatchObject({
        status: 'MISS',
        value: `v2-${i}`,
      });
      expect(await cache.fetch(ns, 'page', () => 'never')).toMatchObject({ status: 'HIT', value: `v2-${i}` });
    }
    expect(errors).toEqual([]);
  });

  it('a hit is one MGET, on the namespace’s master', async () => {
    await cache.getOrSet('sales', 'summary', () => 's1');
    await cache.version('sales'); // after the fill's unawaited lease release
    const delta = await clusterDelta(async () => {
      expect(await cache.fetch('sales', 'summary', () => 'never')).toMatchObject({
        status: 'HIT',
        value: 's1',
      });
    });
    expect(delta).toEqual({ mget: 1 });
  });

  it('an entry depending on two namespaces on different masters hits, misses and goes stale with either', async () => {
    const [first, second] = await namespacesOnTwoNodes();
    const slots = [await keySlot(cache.keys.versionKey(first)), await keySlot(cache.keys.versionKey(second))];
    expect(slots[0]).not.toBe(slots[1]);
    expect(owner.get(slots[0]!)).not.toBe(owner.get(slots[1]!));
    const namespaces = [first, second];

    expect(await cache.fetch(namespaces, 'joined', () => 'j1')).toMatchObject({
      status: 'MISS',
      value: 'j1',
    });
    await cache.version(first);
    // One MGET per slot, sent together: the primary's version with the entry, the other's version.
    const hit = await clusterDelta(async () => {
      expect(await cache.fetch(namespaces, 'joined', () => 'never')).toMatchObject({
        status: 'HIT',
        value: 'j1',
      });
    });
    expect(hit).toEqual({ mget: 2 });

    await cache.invalidate(second);
    expect(await cache.fetch(namespaces, 'joined', () => 'j2')).toMatchObject({
      status: 'MISS',
      value: 'j2',
    });
    expect(await cache.fetch(namespaces, 'joined', () => 'never')).toMatchObject({
      status: 'HIT',
      value: 'j2',
    });
    await cache.invalidate(first);
    expect(await cache.fetch(namespaces, 'joined', () => 'j3')).toMatchObject({
      status: 'MISS',
      value: 'j3',
    });
    await cache.invalidate([first, second]);
    expect(await cache.fetch(namespaces, 'joined', () => 'j4')).toMatchObject({
      status: 'MISS',
      value: 'j4',
    });
    expect(await cache.fetch(namespaces, 'joined', () => 'never')).toMatchObject({
      status: 'HIT',
      value: 'j4',
    });

    // The entry lives in the slot of its first namespace, next to that namespace's version.
    const versions = [await cache.version(first), await cache.version(second)];
    expect(await keySlot(cache.keys.entryKey(namespaces, versions, 'joined'))).toBe(slots[0]);
    expect(await client.exists(cache.keys.entryKey(namespaces, versions, 'joined'))).toBe(1);
    expect(errors).toEqual([]);
  });

  it('invalidation on the cluster is one script in the namespace slot', async () => {
    await cache.invalidate('sales');
    const delta = await clusterDelta(() => cache.invalidate('sales'));
    expect(delta).toEqual({ evalsha: 1, get: 2, incrby: 1, set: 1 });
  });
});
