import { createCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe } from 'vitest';
import { httpCacheSpec } from './spec/http-spec.js';
import { koaHarness } from './spec/koa-harness.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

let redis: RedisServer;
let prefixes = 0;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('koa', () => {
  httpCacheSpec(koaHarness, {
    name: 'redis',
    createCache: (options) => createCache({ redis: redis.url, prefix: `koa${++prefixes}`, ...options }),
    redis: { commandStats: () => redis.commandStats() },
  });
  httpCacheSpec(koaHarness, {
    name: 'memory',
    createCache: (options) => createCache(options),
  });
});
