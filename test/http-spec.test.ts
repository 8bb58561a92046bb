import { createCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe } from 'vitest';
import { expressHarness } from './spec/express-harness.js';
import { fastifyHarness } from './spec/fastify-harness.js';
import { httpCacheSpec } from './spec/http-spec.js';
import { koaHarness } from './spec/koa-harness.js';
import { nestExpressHarness, nestFastifyHarness } from './spec/nest-harness.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

// The one behavioural HTTP spec, run by every adapter against real Redis and the memory store.

let redis: RedisServer;
let prefixes = 0;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe.each([expressHarness, koaHarness, fastifyHarness, nestExpressHarness, nestFastifyHarness])(
  '$name',
  (harness) => {
    httpCacheSpec(harness, {
      name: 'redis',
      createCache: (options) =>
        createCache({ redis: redis.url, prefix: `${harness.name}${++prefixes}`, ...options }),
      redis: { commandStats: () => redis.commandStats() },
    });
    httpCacheSpec(harness, {
      name: 'memory',
      createCache: (options) => createCache(options),
    });
  },
);
