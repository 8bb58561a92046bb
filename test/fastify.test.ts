import { createCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe } from 'vitest';
import { fastifyHarness } from './spec/fastify-harness.js';
import { httpCacheSpec } from './spec/http-spec.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

let redis: RedisServer;
let prefixes = 0;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('fastify', () => {
  httpCacheSpec(fastifyHarness, {
    name: 'redis',
    createCache: (options) => createCache({ redis: redis.url, prefix: `fastify${++prefixes}`, ...options }),
    redis: { commandStats: () => redis.commandStats() },
  });
  httpCacheSpec(fastifyHarness, {
    name: 'memory',
    createCache: (options) => createCache(options),
  });
});
