import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/support/redis-server.ts';
import { type Child, get, type PieceBody, post, runWorker, startServer } from './helpers.js';

interface Summary {
  requests: number;
  serverErrors: number;
}

describe('analytics dashboard on Redis, across processes', () => {
  let redis: RedisServer;
  const children: Child[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  beforeEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop()));
    await redis.admin.flushall();
  });
  afterAll(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop()));
    await redis?.stop();
  });

  async function server(): Promise<Child> {
    const child = await startServer({ REDIS_URL: redis.url });
    children.push(child);
    return child;
  }

  it('the reprocess worker, sharing only Redis, invalidates the running server', async () => {
    const { url } = await server();
    const first = await get<PieceBody<Summary>>(url, '/api/summary');
    expect(first.cache).toBe('MISS');
    expect((await get(url, '/api/summary')).cache).toBe('HIT');
    expect((await get(url, '/api/details', { 'x-user': 'carol' })).cache).toBe('MISS');

    const worker = await runWorker({ REDIS_URL: redis.url });
    expect(worker.output).toMatch(/invalidated namespace 'analytics'/);
    expect(worker.code).toBe(0);
    expect(await redis.admin.get('analytics-dashboard:dataset:epoch')).toBe('1');

    const after = await get<PieceBody<Summary>>(url, '/api/summary');
    expect(after.cache).toBe('MISS');
    expect(after.body.epoch).toBe(1);
    expect(after.body.data.requests).not.toBe(first.body.data.requests);
    // The worker prints the totals it processed: the server's fresh summary agrees with them.
    expect(worker.output).toContain(
      `${after.body.data.requests} requests, ${after.body.data.serverErrors} server errors`,
    );
    expect((await get(url, '/api/summary')).cache).toBe('HIT');
    expect((await get(url, '/api/details', { 'x-user': 'carol' })).cache).toBe('MISS');
  });

  it('two server processes share entries and agree after one reprocess', async () => {
    const [a, b] = await Promise.all([server(), server()]);
    const fromA = await get<PieceBody<Summary>>(a.url, '/api/summary');
    const fromB = await get<PieceBody<Summary>>(b.url, '/api/summary');
    expect([fromA.cache, fromB.cache]).toEqual(['MISS', 'HIT']);
    expect(fromB.body).toEqual(fromA.body);

    const reprocessed = await post<{ epoch: number }>(a.url, '/api/reprocess');
    expect(reprocessed.body.epoch).toBe(1);

    // Server B did nothing and heard nothing from A; its next answer is already the new data.
    const newB = await get<PieceBody<Summary>>(b.url, '/api/summary');
    const newA = await get<PieceBody<Summary>>(a.url, '/api/summary');
    expect([newB.cache, newA.cache]).toEqual(['MISS', 'HIT']);
    expect(newB.body.epoch).toBe(1);
    expect(newA.body).toEqual(newB.body);
    expect(newB.body.data.requests).not.toBe(fromA.body.data.requests);

    const statusA = await get<{ epoch: number; version: string; computed: number }>(a.url, '/api/status');
    const statusB = await get<{ epoch: number; version: string; computed: number }>(b.url, '/api/status');
    expect(statusA.body.version).toBe(statusB.body.version);
    expect([statusA.body.epoch, statusB.body.epoch]).toEqual([1, 1]);
    // One computation per version of the summary across both processes.
    expect([statusA.body.computed, statusB.body.computed]).toEqual([1, 1]);
  });
});
