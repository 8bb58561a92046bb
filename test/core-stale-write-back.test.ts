import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

// Invariant 3: the version is read before the value is computed and the entry is written under that
// version, so a computation that outlives an invalidation writes into a generation nobody reads.

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A computation that signals when it starts and finishes only when the test says so. */
function heldComputation(value: string) {
  const started = deferred<void>();
  const release = deferred<void>();
  const compute = async () => {
    started.resolve();
    await release.promise;
    return value;
  };
  return { compute, started: started.promise, release: () => release.resolve() };
}

describe('no stale write-back on a real Redis', () => {
  let server: RedisServer;
  let cache: VersionedCache;
  let other: VersionedCache;

  beforeAll(async () => {
    server = await startRedis();
    // Behaviour, not fault bounds: a generous timeout keeps a loaded machine from failing calls open.
    cache = createCache({ redis: server.url, timeout: '5s' });
    other = createCache({ redis: server.url, timeout: '5s' });
  });

  afterAll(async () => {
    await Promise.all([cache.close(), other.close()]);
    await server.stop();
  });

  it('a computation spanning an invalidation is stored in the dead generation and never served', async () => {
    const ns = 'same-process';
    const versionBefore = await cache.version(ns);
    const held = heldComputation('old');
    const slow = cache.fetch(ns, 'report', held.compute);
    await held.started;

    await cache.invalidate(ns);
    held.release();
    // Its own caller asked before the invalidation and gets the value; it is stored, but under the
    // version read before computing.
    expect(await slow).toMatchObject({ value: 'old', status: 'MISS', stored: true });
    expect(await server.admin.exists(cache.keys.entryKey([ns], [versionBefore], 'report'))).toBe(1);

    expect(await cache.fetch(ns, 'report', () => 'new')).toMatchObject({ status: 'MISS', value: 'new' });
    expect(await cache.fetch(ns, 'report', () => 'never')).toMatchObject({ status: 'HIT', value: 'new' });
    expect(await other.fetch(ns, 'report', () => 'never')).toMatchObject({ status: 'HIT', value: 'new' });
  });

  it('the same holds when another process invalidates during the computation', async () => {
    const ns = 'other-process';
    await other.version(ns);
    const held = heldComputation('old');
    const slow = cache.fetch(ns, 'report', held.compute);
    await held.started;

    await other.invalidate(ns);
    held.release();
    expect(await slow).toMatchObject({ value: 'old', stored: true });

    expect(await cache.fetch(ns, 'report', () => 'new')).toMatchObject({ status: 'MISS', value: 'new' });
    expect(await other.fetch(ns, 'report', () => 'never')).toMatchObject({ status: 'HIT', value: 'new' });
  });

  it('a read after the invalidation does not join the computation still running for the old version', async () => {
    const ns = 'no-join';
    const held = heldComputation('old');
    const slow = cache.fetch(ns, 'report', held.compute);
    await held.started;
    await cache.invalidate(ns);

    // Answered while the old computation is still held: it did not wait for it or share it.
    const fresh = await Promise.race([
      cache.fetch(ns, 'report', () => 'new'),
      sleep(5_000).then(() => 'joined the old computation'),
    ]);
    expect(fresh).toMatchObject({ status: 'MISS', value: 'new' });

    held.release();
    expect(await slow).toMatchObject({ value: 'old' });
    expect(await cache.fetch(ns, 'report', () => 'never')).toMatchObject({ status: 'HIT', value: 'new' });
  });
});
