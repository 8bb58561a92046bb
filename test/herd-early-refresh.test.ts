// Early refresh (XFetch): near expiry a hit starts one background recomputation and is still
// answered as a HIT at once. "Near" is beta × compute time: a huge beta puts every entry in the
// window, beta 1 with a 60 s TTL puts none there, so both outcomes are certain, not likely.
import { createCache } from '@versioned-cache/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, eventually, HerdGroup } from './fixtures/herd-workers.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

const NS = 'dashboard';
const KEY = 'summary';
const BASE = { jitter: 0, timeout: '2s' } as const;
const LEASE = { ttl: '5s', maxWait: '5s', pollInterval: '10ms' } as const;
const ALWAYS = 1e9;

let redis: RedisServer;
let group: HerdGroup | undefined;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await group?.stop();
  group = undefined;
});

function summary(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const label = `${answer.status} ${answer.source ?? answer.error}`;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

describe('early refresh in one process', () => {
  it('far from expiry it never refreshes; near it, one background refresh for 200 concurrent hits', async () => {
    const cache = createCache({ redis: redis.url, prefix: 'herd-xfetch-local', ...BASE, lease: LEASE });
    let computed = 0;
    let source = 'v1';
    let gate: Promise<void> = Promise.resolve();
    let open!: () => void;
    const compute = async () => {
      computed++;
      const value = source;
      await gate;
      return value;
    };
    try {
      await cache.fetch(NS, KEY, compute, { ttl: '60s', earlyRefresh: true });
      source = 'v2';
      const far = await Promise.all(
        Array.from({ length: 200 }, () => cache.fetch(NS, KEY, compute, { ttl: '60s', earlyRefresh: true })),
      );
      expect(far.every((r) => r.status === 'HIT' && r.value === 'v1')).toBe(true);
      expect(computed).toBe(1);

      gate = new Promise((resolve) => {
        open = resolve;
      });
      const near = await Promise.all(
        Array.from({ length: 200 }, () =>
          cache.fetch(NS, KEY, compute, { ttl: '60s', earlyRefresh: ALWAYS }),
        ),
      );
      // Every hit answered while the refresh is still held at its gate.
      expect(near.every((r) => r.status === 'HIT' && r.value === 'v1')).toBe(true);
      await eventually(() => computed === 2, 'the background refresh to start');
      open();
      await eventually(
        async () => (await cache.fetch(NS, KEY, compute)).value === 'v2',
        'the refreshed entry',
      );
      expect(await cache.fetch(NS, KEY, compute)).toMatchObject({ status: 'HIT', value: 'v2' });
      expect(computed).toBe(2);
    } finally {
      await cache.close();
    }
  });
});

describe('early refresh across processes', () => {
  it('4 processes × 100 hits in the refresh window: all HITs at once, exactly one recomputation', async () => {
    group = new HerdGroup();
    const counter = 't:xfetch:computes';
    const source = 't:xfetch:source';
    await redis.admin.set(source, 'v1');
    const workers = await group.start(4, redis.url, { prefix: 'herd-xfetch', ...BASE, lease: LEASE });
    const compute = { counter, source };
    await workers[0]!.burst({ ns: NS, key: KEY, count: 1, compute, options: { ttl: '60s' } });
    await redis.admin.set(source, 'v2');

    const early = { ttl: '60s', earlyRefresh: ALWAYS } as const;
    const replies = await Promise.all(
      workers.map((worker) =>
        worker.burst({
          ns: NS,
          key: KEY,
          count: 100,
          compute: { ...compute, gate: 'early' },
          options: early,
        }),
      ),
    );
    expect(summary(replies.flatMap((reply) => reply.results))).toEqual({ 'HIT v1': 400 });
    await group.waitForGate('early', 1);
    expect(group.reached('early')).toHaveLength(1);
    await group.release('early');

    await eventually(
      async () =>
        (await workers[1]!.burst({ ns: NS, key: KEY, count: 1, compute })).results[0]!.source === 'v2',
      'the refreshed entry',
    );
    const after = await Promise.all(
      workers.map((worker) => worker.burst({ ns: NS, key: KEY, count: 50, compute })),
    );
    expect(summary(after.flatMap((reply) => reply.results))).toEqual({ 'HIT v2': 200 });
    // The first computation, then one refresh for all 400 hits: the others gave up on the lease.
    expect(Number(await redis.admin.get(counter))).toBe(2);
    for (const worker of workers) expect(await worker.errors()).toEqual([]);
  });
});
