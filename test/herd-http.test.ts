// The herd through each adapter: 4 application processes (real HTTP servers of one framework with its
// adapter, sharing one Redis) × 200 concurrent HTTP requests for one route right after an
// invalidation. Handler runs are counted with a Redis INCR in the handler; arrivals are counted in a
// middleware before the cache; the handlers are held at a gate to sequence the herd.
import { Agent } from 'node:http';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, report, within } from './fixtures/herd-workers.js';
import { type Adapter, AppWorker } from './fixtures/http-app-workers.js';
import { get, type HttpReply } from './fixtures/http-client.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

const ADAPTERS: readonly Adapter[] = ['express', 'koa', 'fastify'];
const PROCESSES = 4;
const PER_PROCESS = 200;
const NS = 'dashboard';
/** Every client sends the same Host, as behind a load balancer: the key includes it. */
const HOST = 'dashboard.example';
const LEASE = { ttl: '30s', maxWait: '30s', pollInterval: '10ms' } as const;

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

interface Answer {
  process: number;
  status: number;
  cache: string;
  body: string;
  at: number;
}

/** How many answers had each `X-Cache body` pair. */
function summary(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const label = `${answer.status} ${answer.cache} ${answer.body}`;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

for (const adapter of ADAPTERS) {
  describe(`HTTP herd: ${adapter}`, () => {
    const t = {
      prefix: `herd-http-${adapter}`,
      counter: `t:herd-http-${adapter}:runs`,
      source: `t:herd-http-${adapter}:source`,
    };
    let workers: AppWorker[] = [];
    let agents: Agent[] = [];
    /** A job outside HTTP that invalidates. */
    let job: VersionedCache;

    beforeAll(async () => {
      job = createCache({ redis: redis.url, prefix: t.prefix, timeout: '2s' });
      workers = await Promise.all(
        Array.from({ length: PROCESSES }, () =>
          AppWorker.start({
            adapter,
            url: redis.url,
            ns: NS,
            counter: t.counter,
            source: t.source,
            cacheOptions: { prefix: t.prefix, jitter: 0, timeout: '2s', lease: LEASE },
          }),
        ),
      );
      agents = workers.map(() => new Agent({ keepAlive: true, maxSockets: PER_PROCESS }));
    });
    afterAll(async () => {
      for (const agent of agents) agent.destroy();
      await Promise.all(workers.map((worker) => worker.stop()));
      await job?.close();
    });

    const runs = async (route: string) => Number((await redis.admin.get(`${t.counter}:${route}`)) ?? 0);
    const ask = async (i: number, path: string): Promise<Answer> => {
      const reply: HttpReply = await get(workers[i]!.base, path, {
        headers: { host: HOST },
        agent: agents[i],
      });
      const body = JSON.parse(reply.body.toString()) as { source: string };
      return {
        process: i,
        status: reply.status,
        cache: String(reply.headers['x-cache']),
        body: body.source,
        at: reply.at,
      };
    };
    /** 200 concurrent requests to each process at once; resolves with every answer and the wave's duration. */
    const wave = async (path: string) => {
      const startedAt = Date.now();
      // Bounded: a request that waited for a held handler would never be answered. Generous: 800
      // requests through 4 processes can take seconds on a loaded 2-core machine.
      const answers = await within(
        Promise.all(workers.flatMap((_, i) => Array.from({ length: PER_PROCESS }, () => ask(i, path)))),
        30_000,
        `${PROCESSES * PER_PROCESS} answers for ${path}`,
      );
      return { answers, ms: Math.max(...answers.map((a) => a.at)) - startedAt };
    };
    const gates = (type: 'close-gate' | 'open-gate') => Promise.all(workers.map((w) => w.request({ type })));
    const arrivals = async (path: string) =>
      (await Promise.all(workers.map((w) => w.arrivals(path)))).reduce((a, b) => a + b, 0);
    const gateReached = () => workers.flatMap((w) => w.gateReached);

    it(`${PROCESSES}×${PER_PROCESS} requests right after an invalidation, no grace: 1 handler run, every answer the new body`, {
      timeout: 120_000,
    }, async () => {
      await redis.admin.set(t.source, 'v1');
      // Every process reads the entry about to die, so each knows the version that the job bumps.
      const warmup = [];
      for (let i = 0; i < PROCESSES; i++) warmup.push((await ask(i, '/fresh')).cache);
      expect(warmup).toEqual(['MISS', 'HIT', 'HIT', 'HIT']);
      await redis.admin.set(t.source, 'v2');
      await job.invalidate(NS);

      // The handler is held until all 800 requests have reached the apps: a real herd.
      await gates('close-gate');
      const arrived = await arrivals('/fresh');
      const herd = wave('/fresh');
      await eventually(
        async () => (await arrivals('/fresh')) - arrived === PROCESSES * PER_PROCESS,
        'all 800 requests to arrive',
      );
      await eventually(() => gateReached().length === 1, 'the one handler run');
      await gates('open-gate');
      const { answers, ms } = await herd;

      expect(await runs('fresh')).toBe(2); // v1 before, then one run for the whole herd
      expect(gateReached()).toEqual(['fresh']);
      expect(answers.every((a) => a.status === 200 && a.body === 'v2')).toBe(true);
      // Only the process that ran the handler answers MISS (it and its joined requests); the others
      // waited for its entry: HIT.
      const missing = new Set(answers.filter((a) => a.cache === 'MISS').map((a) => a.process));
      expect(missing.size).toBe(1);
      expect(answers.filter((a) => !missing.has(a.process)).every((a) => a.cache === 'HIT')).toBe(true);
      expect(answers.every((a) => a.cache === 'MISS' || a.cache === 'HIT')).toBe(true);
      for (const worker of workers) expect(await worker.errors()).toEqual([]);
      report(`http ${adapter} no grace`, { ms, ...summary(answers) });
    });

    it(`with grace: 1 handler run, all ${PROCESSES * PER_PROCESS} answered STALE at once while it is held, then HITs of the new body`, {
      timeout: 120_000,
    }, async () => {
      for (const worker of workers) worker.gateReached.length = 0;
      await redis.admin.set(t.source, 'v1');
      // Processes 2-4 answer their warm-up from the middleware's lookup (Express, Koa): they have not
      // learnt that the route looks up itself (grace), so after the invalidation their middleware
      // misses and must hand the request to the route rather than wait for the refresh's lease.
      const warmup = [];
      for (let i = 0; i < PROCESSES; i++) warmup.push((await ask(i, '/graceful')).cache);
      expect(warmup).toEqual(['MISS', 'HIT', 'HIT', 'HIT']);
      await redis.admin.set(t.source, 'v2');
      await job.invalidate(NS);

      // The refresh is held at a gate opened only after all 800 answers are in: none waited for it.
      await gates('close-gate');
      const first = await wave('/graceful');
      expect(summary(first.answers)).toEqual({ '200 STALE v1': PROCESSES * PER_PROCESS });
      // Every process now knows the new version; a second wave is still answered from the old entry.
      const second = await wave('/graceful');
      expect(summary(second.answers)).toEqual({ '200 STALE v1': PROCESSES * PER_PROCESS });
      await eventually(() => gateReached().length === 1, 'the background refresh');
      expect(await runs('graceful')).toBe(2);

      await gates('open-gate');
      await eventually(async () => (await ask(0, '/graceful')).cache === 'HIT', 'the refreshed entry');
      const after = await wave('/graceful');
      expect(summary(after.answers)).toEqual({ '200 HIT v2': PROCESSES * PER_PROCESS });
      expect(await runs('graceful')).toBe(2); // v1 before, then the one refresh
      expect(gateReached()).toEqual(['graceful']);
      for (const worker of workers) expect(await worker.errors()).toEqual([]);
      report(`http ${adapter} grace`, { staleMs: first.ms, secondStaleMs: second.ms, hitMs: after.ms });
    });
  });
}
