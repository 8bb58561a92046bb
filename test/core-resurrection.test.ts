import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, type RedisStore, type VersionedCache } from '@versioned-cache/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

// Invariant 2: a lost version never makes an older entry valid again. A missing version is created
// with a random start (never 0 or 1), and versions are compared by equality only.
// Invariant 4: every entry has a TTL, version keys have none.

const MIN_START = 2n ** 32n;
const MAX_SAFE = 2n ** 53n;

function assertRandomStart(version: string | null): void {
  expect(version).toMatch(/^\d+$/);
  const value = BigInt(version!);
  expect(value >= MIN_START).toBe(true);
  expect(value < MAX_SAFE).toBe(true);
}

async function waitForReady(cache: VersionedCache): Promise<void> {
  const { client } = cache.store as RedisStore;
  const deadline = Date.now() + 10_000;
  while (client.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`cache client still ${client.status}`);
    await sleep(20);
  }
}

describe('no resurrection on a real Redis', () => {
  let server: RedisServer;
  let cache: VersionedCache;
  const errors: string[] = [];

  beforeAll(async () => {
    server = await startRedis();
  });

  beforeEach(() => {
    errors.length = 0;
    // Behaviour, not fault bounds: a generous timeout keeps a loaded machine from failing calls open.
    cache = createCache({ redis: server.url, timeout: '5s', onError: (error) => errors.push(error.code) });
  });

  afterEach(async () => {
    await cache.close();
  });

  afterAll(async () => {
    await server.stop();
  });

  /** Caches v1, invalidates, caches v2; returns both generations' versions and entry keys. */
  async function twoGenerations(ns: string) {
    expect(await cache.getOrSet(ns, 'page', () => 'v1')).toBe('v1');
    const first = await cache.version(ns);
    await cache.invalidate(ns);
    expect(await cache.getOrSet(ns, 'page', () => 'v2')).toBe('v2');
    const second = await cache.version(ns);
    expect(BigInt(second) > BigInt(first)).toBe(true);
    const entryKeys = [
      cache.keys.entryKey([ns], [first], 'page'),
      cache.keys.entryKey([ns], [second], 'page'),
    ];
    // Both generations are still stored: only the version decides what is read.
    expect(await server.admin.exists(...entryKeys)).toBe(2);
    return { versions: [first, second], entryKeys };
  }

  it('a deleted version key is recreated at random and the next read computes afresh', async () => {
    const ns = 'deleted';
    const { versions } = await twoGenerations(ns);
    await server.admin.del(cache.keys.versionKey(ns));

    expect(await cache.fetch(ns, 'page', () => 'v3')).toMatchObject({ status: 'MISS', value: 'v3' });
    const recreated = await server.admin.get(cache.keys.versionKey(ns));
    assertRandomStart(recreated);
    expect(versions).not.toContain(recreated);
    // Another process, which never saw the old versions, agrees.
    const other = createCache({ redis: server.url, timeout: '5s' });
    try {
      expect(await other.fetch(ns, 'page', () => 'never')).toMatchObject({ status: 'HIT', value: 'v3' });
    } finally {
      await other.close();
    }
  });

  it('invalidating a namespace whose version was deleted starts at random, not at 1', async () => {
    const ns = 'deleted-then-bumped';
    const { versions } = await twoGenerations(ns);
    await server.admin.del(cache.keys.versionKey(ns));

    await cache.invalidate(ns);
    const bumped = await server.admin.get(cache.keys.versionKey(ns));
    assertRandomStart(bumped);
    expect(versions).not.toContain(bumped);
    expect(await cache.fetch(ns, 'page', () => 'v3')).toMatchObject({ status: 'MISS', value: 'v3' });
  });

  it('after Redis restarts empty, entries that outlived their version are never served', async () => {
    const ns = 'restarted';
    const { versions, entryKeys } = await twoGenerations(ns);
    const oldEntries = await Promise.all(entryKeys.map((key) => server.admin.getBuffer(key)));

    await server.restart();
    await waitForReady(cache);
    // Entries can outlive their version (an evicted version key, entries restored from a snapshot
    // older than the version): put both old generations back, without a version.
    for (const [i, key] of entryKeys.entries()) await server.admin.set(key, oldEntries[i]!, 'PX', 60_000);

    expect(await cache.fetch(ns, 'page', () => 'v3')).toMatchObject({ status: 'MISS', value: 'v3' });
    const recreated = await server.admin.get(cache.keys.versionKey(ns));
    assertRandomStart(recreated);
    expect(versions).not.toContain(recreated);
    expect(await cache.fetch(ns, 'page', () => 'never')).toMatchObject({ status: 'HIT', value: 'v3' });
  });

  it('a missing version is created with a random start, never 0 or 1, distinct per namespace', async () => {
    const created = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.version(`fresh-${i}`)));
    for (const version of created) assertRandomStart(version);
    expect(new Set(created).size).toBe(50);
    // The first read of an unseen namespace creates it the same way.
    await cache.getOrSet('fresh-by-read', 'k', () => 1);
    assertRandomStart(await server.admin.get(cache.keys.versionKey('fresh-by-read')));
    // And so does the first invalidation of one.
    await cache.invalidate('fresh-by-invalidate');
    assertRandomStart(await server.admin.get(cache.keys.versionKey('fresh-by-invalidate')));
    expect(errors).toEqual([]);
  });

  it('version keys have no TTL; every entry has one', async () => {
    await cache.getOrSet(['ttl-a', 'ttl-b'], 'page', () => 'x', { ttl: '30s' });
    const versions = [await cache.version('ttl-a'), await cache.version('ttl-b')];
    expect(await server.admin.pttl(cache.keys.versionKey('ttl-a'))).toBe(-1);
    expect(await server.admin.pttl(cache.keys.versionKey('ttl-b'))).toBe(-1);
    await cache.invalidate('ttl-a');
    expect(await server.admin.pttl(cache.keys.versionKey('ttl-a'))).toBe(-1);
    const entryTtl = await server.admin.pttl(cache.keys.entryKey(['ttl-a', 'ttl-b'], versions, 'page'));
    expect(entryTtl).toBeGreaterThan(0);
    expect(entryTtl).toBeLessThanOrEqual(30_000);
  });
});
