import { performance } from 'node:perf_hooks';
import { VersionTracker } from '@versioned-cache/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clientNamed, invalidationOf, percentiles, trackerDown, trackerUp } from './support/l1-tracking.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

// The L1 tier trusts a namespace version only while Redis client tracking would tell it of a change:
// these tests drive the tracker against a real redis-server and its real invalidation messages.

describe('VersionTracker on a real Redis', () => {
  let server: RedisServer;
  let client: Redis;
  let tracker: VersionTracker;
  let n = 0;
  let key: string;
  const errors: string[] = [];

  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });

  beforeEach(async () => {
    key = `vc:{tracked-${n++}}:version`;
    await server.admin.set(key, '100');
    tracker = await startTracker(5_000);
  });

  async function startTracker(heartbeatMs: number): Promise<VersionTracker> {
    const started = new VersionTracker(client, {
      heartbeatMs,
      onError: (e) => errors.push(`${e.code} ${e.message}`),
    });
    await trackerUp(started);
    return started;
  }

  /** Tracking works again: the version is trusted once read, and untrusted by the next change. */
  async function expectTrackedAgain(version: string): Promise<void> {
    await tracker.track([key]);
    expect(tracker.version(key)).toBe(version);
    const invalidated = invalidationOf(tracker, key);
    await server.admin.incr(key);
    await invalidated;
    expect(tracker.version(key)).toBeUndefined();
  }

  afterEach(async () => {
    await tracker.close();
  });

  afterAll(async () => {
    client.disconnect();
    await server.stop();
    expect(errors).toEqual([]);
  });

  it('trusts a version it read, and stops trusting it when another client changes it', async () => {
    expect(tracker.version(key)).toBeUndefined();
    await tracker.track([key]);
    expect(tracker.version(key)).toBe('100');

    const invalidated = invalidationOf(tracker, key);
    await server.admin.incr(key);
    await invalidated;
    expect(tracker.version(key)).toBeUndefined();
    await tracker.track([key]);
    expect(tracker.version(key)).toBe('101');
  });

  it('after one round trip through the subscriber, a change acknowledged to its writer is never trusted', async () => {
    let stale = 0;
    const lagMs: number[] = [];
    for (let i = 0; i < 200; i++) {
      await tracker.track([key]);
      const before = tracker.version(key);
      expect(before).toBeDefined();
      let seenAt = 0;
      const seen = invalidationOf(tracker, key).then(() => {
        seenAt = performance.now();
      });
      await server.admin.incr(key);
      const acknowledgedAt = performance.now();
      expect(await tracker.sync()).toBe(true);
      if (tracker.version(key) === before) stale++;
      await seen;
      lagMs.push(Math.max(0, seenAt - acknowledgedAt));
    }
    const { p50, p99, max } = percentiles(lagMs);
    console.log(
      `invalidation seen after the writer's reply (same process): p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, max ${max.toFixed(3)} ms`,
    );
    expect(stale).toBe(0);
    expect(p99).toBeLessThan(100);
  });

  it('does not trust a read that was in flight when the invalidation of its key arrived', async () => {
    const reader = await clientNamed(server.admin, 'vc-l1-tracking');
    const socket = tracker.reader.stream;
    // The read reaches Redis and is answered, but its reply waits in our socket until resumed.
    socket.pause();
    const read = tracker.track([key]);
    for (;;) {
      const info = await clientNamed(server.admin, 'vc-l1-tracking');
      if (info.id === reader.id && info.cmd === 'mget') break;
    }
    const invalidated = invalidationOf(tracker, key);
    await server.admin.incr(key);
    await invalidated;
    socket.resume();
    await read;
    // The reply carried 100, read before the change: trusting it would serve a dead generation.
    expect(tracker.version(key)).toBeUndefined();
    await tracker.track([key]);
    expect(tracker.version(key)).toBe('101');
  });

  it('a flush of the database untrusts every version and tracking stays up', async () => {
    await tracker.track([key]);
    expect(tracker.version(key)).toBe('100');
    const flushed = invalidationOf(tracker, null);
    await server.admin.flushall();
    await flushed;
    expect(tracker.version(key)).toBeUndefined();
    expect(tracker.status).toBe('up');
    await server.admin.set(key, '7');
    await tracker.track([key]);
    expect(tracker.version(key)).toBe('7');
  });

  it('when the subscriber is killed: down at once, nothing trusted, then up with tracking redirected to the new subscriber', async () => {
    await tracker.track([key]);
    const down = trackerDown(tracker);
    await server.admin.client('KILL', 'TYPE', 'pubsub');
    // Changed while no subscriber listens: this invalidation is lost, so nothing may stay trusted.
    await server.admin.incr(key);
    expect(await tracker.sync()).toBe(false);
    expect(await down).toBe('invalidation subscriber closed');
    expect(tracker.version(key)).toBeUndefined();
    // It may be back up already; either way the generation that changed unseen is never trusted.
    await tracker.track([key]);
    expect([undefined, '101']).toContain(tracker.version(key));

    await trackerUp(tracker);
    const subscriber = await clientNamed(server.admin, 'vc-l1-invalidations');
    const reader = await clientNamed(server.admin, 'vc-l1-tracking');
    expect(reader.redir).toBe(subscriber.id);
    await expectTrackedAgain('101');
  });

  it('when the tracking connection is killed: down, then tracking is enabled again on the new connection', async () => {
    await tracker.track([key]);
    const old = await clientNamed(server.admin, 'vc-l1-tracking');
    const down = trackerDown(tracker);
    await server.admin.client('KILL', 'ID', old.id!);
    expect(await down).toBe('tracking connection closed');
    expect(tracker.version(key)).toBeUndefined();
    await server.admin.incr(key);

    await trackerUp(tracker);
    const reader = await clientNamed(server.admin, 'vc-l1-tracking');
    expect(reader.id).not.toBe(old.id);
    expect(reader.flags).toContain('t');
    await expectTrackedAgain('101');
  });

  it('a failed sync ends trust at once, before the connection reports its close', async () => {
    await tracker.track([key]);
    expect(tracker.version(key)).toBe('100');
    // The socket is gone for writes now; ioredis hears of its close only in a later turn.
    tracker.reader.stream.destroy();
    expect(await tracker.sync()).toBe(false);
    expect(tracker.version(key)).toBeUndefined();
    expect(tracker.status).toBe('down');
    await trackerUp(tracker);
  });

  it('a frozen Redis stops the heartbeat: tracking goes down and nothing is trusted until it answers again', async () => {
    await tracker.close();
    tracker = await startTracker(100);
    await tracker.track([key]);
    const down = trackerDown(tracker);
    server.pause();
    try {
      expect(await down).toBe('heartbeat failed');
      expect(tracker.version(key)).toBeUndefined();
    } finally {
      server.resume();
    }
    await trackerUp(tracker);
    await tracker.track([key]);
    expect(tracker.version(key)).toBe('100');
  });
});
