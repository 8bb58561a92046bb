import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/support/redis-server.ts';
import { call, type Server, startServer } from './helpers.js';

describe('dist/server.js on Redis', () => {
  let redis: RedisServer;
  let server: Server | undefined;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  it('serves MISS, HIT, then MISS after an invalidation, with its entries in Redis', async () => {
    server = await startServer({ REDIS_URL: redis.url });
    expect(server.url).toMatch(/^http:\/\/localhost:\d+$/);

    const miss = await call(server.url, '/api/reports/7');
    expect([miss.cache, miss.body.epoch]).toEqual(['MISS', 0]);
    const hit = await call(server.url, '/api/reports/7');
    expect([hit.cache, hit.body]).toEqual(['HIT', miss.body]);
    const version = await redis.admin.get('vc:{reports}:version');
    expect(version).not.toBeNull();
    expect(await redis.admin.keys(`vc:{reports}:${version}:*`)).toHaveLength(1);

    await call(server.url, '/api/reports/reprocess', { method: 'POST' });
    expect(await redis.admin.get('vc:{reports}:version')).not.toBe(version);
    const after = await call(server.url, '/api/reports/7');
    expect([after.cache, after.body.epoch, after.body.computation]).toEqual(['MISS', 1, 2]);
    expect((await call(server.url, '/api/reports/7')).cache).toBe('HIT');

    expect(await server.stop()).toBe(0);
    server = undefined;
  });
});
