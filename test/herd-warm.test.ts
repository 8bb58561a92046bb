// Warm invalidation: the registered entries are computed for the new version before it is
// published, so readers in every process hit them at once. Racing invalidations, sequenced with
// gates, lose neither: after both return nothing computed before either of them is served.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, HerdGroup, type HerdWorker } from './fixtures/herd-workers.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

const NS = 'dashboard';
const KEYS = ['summary', 'details', 'chart'];
const BASE = { jitter: 0, timeout: '2s', lease: { ttl: '5s', maxWait: '5s', pollInterval: '10ms' } } as const;
const OPTIONS = { ttl: '60s' } as const;

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
  return {
    prefix: `herd-${label}`,
    source: `t:${label}:source`,
    reads: `t:${label}:reader-computes`,
    warms: `t:${label}:warmer-computes`,
  };
}

async function count(key: string): Promise<number> {
  return Number((await redis.admin.get(key)) ?? 0);
}

function summary(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const label = `${answer.status} ${answer.source ?? answer.error}`;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

/** Every worker asks for each key `perKey` times at once. */
async function readAll(
  workers: readonly HerdWorker[],
  t: ReturnType<typeof names>,
  perKey: number,
  keys: readonly string[] = KEYS,
) {
  const compute = { counter: t.reads, source: t.source };
  const replies = await Promise.all(
    workers.flatMap((worker) =>
      keys.map((key) => worker.burst({ ns: NS, key, count: perKey, compute, options: OPTIONS })),
    ),
  );
  return replies.flatMap((reply) => reply.results);
}

function sources(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[String(answer.source)] = (counts[String(answer.source)] ?? 0) + 1;
  return counts;
}

describe('warm invalidation', () => {
  it('warmed entries are HITs on the first request in every process: no miss, no reader computation', async () => {
    const t = names('warm');
    group = new HerdGroup();
    await redis.admin.set(t.source, 'v1');
    const workers = await group.start(4, redis.url, { prefix: t.prefix, ...BASE });
    const [writer] = workers;
    for (const key of KEYS) await writer!.addWarmer(NS, key, { counter: t.warms, source: t.source }, OPTIONS);
    // Three processes hold v1 entries and know the version; the fourth has never looked.
    await readAll(workers.slice(0, 3), t, 1);
    const readsBefore = await count(t.reads);

    await redis.admin.set(t.source, 'v2');
    await writer!.invalidate(NS, { warm: true });
    expect(await count(t.warms)).toBe(KEYS.length);

    const answers = await readAll(workers, t, 50);
    expect(summary(answers)).toEqual({ 'HIT v2': 4 * KEYS.length * 50 });
    expect(await count(t.reads)).toBe(readsBefore);
    for (const worker of workers) expect(await worker.errors()).toEqual([]);
  });

  it('two warm invalidations racing: the one that publishes second re-warms against the first', async () => {
    const t = names('warm-warm');
    group = new HerdGroup();
    await redis.admin.set(t.source, 'v1');
    const workers = await group.start(4, redis.url, { prefix: t.prefix, ...BASE });
    const [a, b] = workers;
    await a!.addWarmer(NS, 'summary', { counter: t.warms, source: t.source, gate: 'warm-a' }, OPTIONS);
    await b!.addWarmer(NS, 'summary', { counter: t.warms, source: t.source, gate: 'warm-b' }, OPTIONS);
    await readAll(workers, t, 1);
    const readsBefore = await count(t.reads);

    // a starts first and computes from v2; b starts while a is held and computes from v3.
    await redis.admin.set(t.source, 'v2');
    let aReturned = false;
    const fromA = a!.invalidate(NS, { warm: true }).then(() => {
      aReturned = true;
    });
    await group.waitForGate('warm-a', 1);
    await redis.admin.set(t.source, 'v3');
    const fromB = b!.invalidate(NS, { warm: true });
    await group.waitForGate('warm-b', 1);
    // b publishes first; a, still holding an entry computed from v2, must not publish it.
    await b!.release('warm-b');
    await fromB;
    expect(aReturned).toBe(false);
    await a!.release('warm-a');
    await fromA;

    expect(group.reached('warm-a')).toHaveLength(2); // a's compare-and-set failed once, then it re-warmed
    expect(await count(t.warms)).toBe(3);
    await expectOnlyNewest(workers, t, 'v3', readsBefore);
  });

  it('a warm and a plain invalidation racing: the warm one re-warms against the plain bump', async () => {
    const t = names('warm-plain');
    group = new HerdGroup();
    await redis.admin.set(t.source, 'v1');
    const workers = await group.start(4, redis.url, { prefix: t.prefix, ...BASE });
    const [a, b, c] = workers;
    await a!.addWarmer(NS, 'summary', { counter: t.warms, source: t.source, gate: 'warm-a' }, OPTIONS);
    await readAll(workers, t, 1);

    // a starts warming from v2; meanwhile v3 lands and b bumps the version plainly.
    await redis.admin.set(t.source, 'v2');
    let aReturned = false;
    const fromA = a!.invalidate(NS, { warm: true }).then(() => {
      aReturned = true;
    });
    await group.waitForGate('warm-a', 1);
    await redis.admin.set(t.source, 'v3');
    await b!.invalidate(NS);
    // The plain bump is effective at once: c computes from v3 under the bumped version.
    expect(
      (
        await c!.burst({
          ns: NS,
          key: 'summary',
          count: 1,
          compute: { counter: t.reads, source: t.source },
          options: OPTIONS,
        })
      ).results,
    ).toMatchObject([{ status: 'MISS', source: 'v3' }]);
    expect(aReturned).toBe(false);
    await a!.release('warm-a');
    await fromA;

    expect(group.reached('warm-a')).toHaveLength(2);
    expect(await count(t.warms)).toBe(2);
    await expectOnlyNewest(workers, t, 'v3', await count(t.reads));
  });
});

/**
 * After both invalidations returned: the warmed key is a HIT of the newest data in every process
 * with no reader computation, and an unwarmed key is computed afresh, never served from before.
 */
async function expectOnlyNewest(
  workers: readonly HerdWorker[],
  t: ReturnType<typeof names>,
  newest: string,
  readsBefore: number,
): Promise<void> {
  const warmed = await readAll(workers, t, 50, ['summary']);
  expect(summary(warmed)).toEqual({ [`HIT ${newest}`]: 4 * 50 });
  expect(await count(t.reads)).toBe(readsBefore);
  const unwarmed = await readAll(workers, t, 50, ['details']);
  expect(sources(unwarmed)).toEqual({ [newest]: 4 * 50 });
  expect(await count(t.reads)).toBe(readsBefore + 1);
  for (const worker of workers) expect(await worker.errors()).toEqual([]);
}
