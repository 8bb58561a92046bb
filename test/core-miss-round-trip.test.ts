import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

// A miss costs at most three round trips when this process knows the namespace's version (the
// common case): the read (MGET of version and entry), the lease taken with the entry re-read in one
// script, the entry stored with the lease released in one script. Nothing follows in the
// background, except for a value that may not be stored: then the release is its own script. Counted with MONITOR, which shows each command a client sent, and marks the commands
// a script ran itself as `lua` (left out: they are not round trips).

describe('a miss is three round trips on a real Redis', () => {
  let server: RedisServer;
  let monitor: Redis;
  let cache: VersionedCache;
  let other: VersionedCache;
  let sent: string[] = [];

  beforeAll(async () => {
    server = await startRedis();
    cache = createCache({ redis: server.url, timeout: '2s' });
    other = createCache({ redis: server.url, timeout: '2s' });
    // Scripts loaded and the versions known: the first use of a script costs a NOSCRIPT retry.
    await cache.fetch('sales', 'warm-up', () => 'w');
    await other.fetch('sales', 'warm-up-other', () => 'w');
    // Started once the caches are connected: a client's connection-time INFO arriving while ioredis
    // switches the monitor connection into MONITOR mode is read as a reply ("Command queue state error").
    monitor = await server.admin.duplicate().monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === 'lua') return;
      const name = String(args[0]).toLowerCase();
      // ioredis sends a script's body (EVAL) the first time a connection uses it, its SHA after.
      sent.push(name === 'eval' || name === 'evalsha' ? 'script' : name);
    });
  });

  afterAll(async () => {
    monitor?.disconnect();
    await Promise.all([cache.close(), other.close()]);
    await server.stop();
  });

  /** The commands sent while `action` ran and in the 100 ms after it (background work included). */
  async function roundTrips(action: () => Promise<unknown>): Promise<string[]> {
    await sleep(100);
    sent = [];
    await action();
    await sleep(100);
    return sent;
  }

  it('a miss at a known version: MGET, lease script, store-and-release script', async () => {
    let result: unknown;
    const commands = await roundTrips(async () => {
      result = await cache.fetch('sales', 'summary', () => 'computed');
    });
    expect(result).toMatchObject({ status: 'MISS', value: 'computed', stored: true });
    expect(commands).toEqual(['mget', 'script', 'script']);
    // The lease is gone with the store: nobody waits on it, no release follows.
    const entryKey = cache.keys.entryKey(['sales'], [await cache.version('sales')], 'summary');
    expect(await server.admin.exists(entryKey, cache.keys.leaseKey(entryKey))).toBe(1);
    expect(await cache.fetch('sales', 'summary', () => 'never')).toMatchObject({
      status: 'HIT',
      value: 'computed',
    });
  });

  it('a miss on two namespaces at known versions is three round trips too', async () => {
    await cache.fetch('regions', 'warm-up', () => 'w');
    const commands = await roundTrips(() => cache.fetch(['sales', 'regions'], 'by-region', () => 'r'));
    expect(commands).toEqual(['mget', 'script', 'script']);
  });

  it('after another process moved the version: one more read to find the entry at the new version', async () => {
    await other.invalidate('sales');
    const commands = await roundTrips(() => cache.fetch('sales', 'after-move', () => 'm'));
    expect(commands).toEqual(['mget', 'mget', 'script', 'script']);
  });

  it('a value that may not be stored: the lease is released in the background, and the next caller computes at once', async () => {
    const commands = await roundTrips(() =>
      cache.fetch('sales', 'private', () => 'p', { shouldStore: () => false }),
    );
    expect(commands).toEqual(['mget', 'script', 'script']);
    expect(await cache.fetch('sales', 'private', () => 'p2', { shouldStore: () => false })).toMatchObject({
      status: 'MISS',
      value: 'p2',
    });
  });
});
