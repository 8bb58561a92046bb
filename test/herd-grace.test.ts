// Grace: after an invalidation or past freshness, the previous entry is served as STALE at once
// while exactly one process refreshes it; a failed computation is answered from it too. Routes
// without grace never see it. Computations are counted in Redis (workers) or in the test.
import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, KeySchema, type VersionedCacheError } from '@versioned-cache/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, eventually, HerdGroup, report } from './fixtures/herd-workers.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

const NS = 'dashboard';
const KEY = 'summary';
const BASE = { jitter: 0, timeout: '2s' } as const;
const LEASE = { ttl: '5s', maxWait: '5s', pollInterval: '10ms' } as const;

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

function names(label: string) {
  return { prefix: `herd-${label}`, counter: `t:${label}:computes`, source: `t:${label}:source` };
}

async function computations(counter: string): Promise<number> {
  return Number((await redis.admin.get(counter)) ?? 0);
}

async function calls(command: string): Promise<number> {
  return (await redis.commandStats()).get(command) ?? 0;
}

function summary(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const label = `${answer.status} ${answer.source ?? answer.error}`;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

/** A promise and the function that resolves it. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('grace across processes', () => {
  it('4×200 requests after an invalidation are answered at once from the previous version while one refresh runs', async () => {
    const t = names('grace-burst');
    group = new HerdGroup();
    await redis.admin.set(t.source, 'v1');
    const workers = await group.start(4, redis.url, { prefix: t.prefix, ...BASE, lease: LEASE });
    const [a, b, , d] = workers;
    const options = { grace: '30s', ttl: '60s' } as const;
    const compute = { counter: t.counter, source: t.source };
    const wave = (spec: typeof compute & { gate?: string }) =>
      Promise.all(
        workers.map((worker) =>
          // A request that waited for the refresh would never be answered: its gate opens after the wave.
          worker.burst({ ns: NS, key: KEY, count: 200, compute: spec, options }),
        ),
      );
    // a computes v1; b and d read it. d then invalidates: it knows only the new version. c never looked.
    await a!.burst({ ns: NS, key: KEY, count: 1, compute, options });
    await b!.burst({ ns: NS, key: KEY, count: 1, compute, options });
    await d!.burst({ ns: NS, key: KEY, count: 1, compute, options });
    await redis.admin.set(t.source, 'v2');
    await d!.invalidate(NS);

    // The refresh is held at a gate opened only after every answer is in: none of them waited for it.
    const gated = { ...compute, gate: 'refresh' };
    const first = (await wave(gated)).flatMap((reply) => reply.results);
    expect(summary(first)).toEqual({ 'STALE v1': 800 });
    // A second wave, once every process has learnt the new version, is still answered from stale.
    const second = (await wave(gated)).flatMap((reply) => reply.results);
    expect(summary(second)).toEqual({ 'STALE v1': 800 });
    await group.waitForGate('refresh', 1);
    expect(group.reached('refresh')).toHaveLength(1);

    await group.release('refresh');
    const version = (await redis.admin.get(new KeySchema(t.prefix).versionKey(NS)))!;
    const entryKey = new KeySchema(t.prefix).entryKey([NS], [version], KEY);
    await eventually(async () => (await redis.admin.exists(entryKey)) === 1, 'the refreshed entry');
    const after = (await wave(compute)).flatMap((reply) => reply.results);
    expect(summary(after)).toEqual({ 'HIT v2': 800 });
    expect(await computations(t.counter)).toBe(2); // v1 at first, then the one refresh
    for (const worker of workers) expect(await worker.errors()).toEqual([]);
    report('grace: slowest stale answer ms', Math.round(Math.max(...[...first, ...second].map((x) => x.ms))));
  });
});

describe('grace in one process', () => {
  it('serves stale when the computation fails and grace allows it, and reports the failure', async () => {
    const t = names('stale-if-error');
    const errors: VersionedCacheError[] = [];
    const cache = createCache({ redis: redis.url, prefix: t.prefix, ...BASE, lease: LEASE });
    cache.on('error', (error) => errors.push(error));
    let attempts = 0;
    const failing = async (): Promise<string> => {
      attempts++;
      throw new Error('database down');
    };
    try {
      await cache.fetch(NS, KEY, () => 'v1', { grace: '30s', ttl: 1 });
      await sleep(5); // past its 1 ms of freshness

      expect(await cache.fetch(NS, KEY, failing, { grace: '30s' })).toMatchObject({
        status: 'STALE',
        value: 'v1',
      });
      await eventually(() => errors.length === 1, 'the failed refresh to be reported');
      expect(attempts).toBe(1);
      expect(errors[0]).toMatchObject({ code: 'VC_REFRESH_FAILED' });
      expect((errors[0]!.cause as Error).message).toBe('database down');

      // Still failing: still answered from stale, one background attempt per request.
      expect(await cache.fetch(NS, KEY, failing, { grace: '30s' })).toMatchObject({
        status: 'STALE',
        value: 'v1',
      });
      await eventually(() => errors.length === 2, 'the second failed refresh');
      expect(attempts).toBe(2);

      // Without grace the failure reaches the caller: the expired value is never served.
      await expect(cache.fetch(NS, KEY, failing)).rejects.toThrow('database down');
      expect(attempts).toBe(3);

      // After an invalidation the previous version's entry stands in the same way.
      await cache.invalidate(NS);
      expect(await cache.fetch(NS, KEY, failing, { grace: '30s' })).toMatchObject({
        status: 'STALE',
        value: 'v1',
      });
      await eventually(() => errors.length === 3, 'the refresh after the invalidation');
      await expect(cache.fetch(NS, KEY, failing)).rejects.toThrow('database down');
    } finally {
      await cache.close();
    }
  });

  it('a route without grace never gets the old value, even while a grace route refreshes the same entry', async () => {
    const t = names('strict');
    const cache = createCache({ redis: redis.url, prefix: t.prefix, ...BASE, lease: LEASE });
    const other = createCache({ redis: redis.url, prefix: t.prefix, ...BASE, lease: LEASE });
    let computed = 0;
    let source = 'v1';
    const compute = async () => {
      computed++;
      return source;
    };
    try {
      await cache.fetch(NS, KEY, compute, { grace: '30s', ttl: 1 });
      await sleep(5);
      source = 'v2';
      // A grace route answers from stale and refreshes; its refresh holds the lease at a gate.
      const reached = deferred();
      const gate = deferred();
      const gated = async () => {
        reached.resolve();
        await gate.promise;
        return compute();
      };
      expect(await cache.fetch(NS, KEY, gated, { grace: '30s', ttl: '60s' })).toMatchObject({
        status: 'STALE',
        value: 'v1',
      });
      await reached.promise;

      // The strict route finds the expired entry and the lease: it must wait, not take the old value.
      const mgets = await calls('mget');
      const strict = cache.fetch(NS, KEY, compute);
      await eventually(async () => (await calls('mget')) - mgets >= 2, 'the strict request to poll');
      gate.resolve();
      expect(await strict).toMatchObject({ status: 'HIT', value: 'v2' });
      expect(computed).toBe(2);

      // After an invalidation without grace, no process is answered with the old value.
      await other.fetch(NS, KEY, compute); // `other` knows the current version and its entry
      source = 'v3';
      await cache.invalidate(NS);
      expect(await other.fetch(NS, KEY, compute)).toMatchObject({ status: 'MISS', value: 'v3' });
      expect(await cache.fetch(NS, KEY, compute)).toMatchObject({ status: 'HIT', value: 'v3' });
    } finally {
      await Promise.all([cache.close(), other.close()]);
    }
  });
});
