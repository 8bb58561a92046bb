import { createCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe } from 'vitest';
import { expressHarness } from './spec/express-harness.js';
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

describe('express', () => {
  httpCacheSpec(expressHarness, {
    name: 'redis',
    createCache: (options) => createCache({ redis: redis.url, prefix: `express${++prefixes}`, ...options }),
    redis: { commandStats: () => redis.commandStats() },
  });
  httpCacheSpec(expressHarness, {
    name: 'memory',
    createCache: (options) => createCache(options),
  });
});
