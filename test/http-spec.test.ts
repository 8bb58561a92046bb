import { createCache } from '@versioned-cache/core';
import express from 'express';
import express4 from 'express4';
import koa from 'koa';
import koa2 from 'koa2';
import { afterAll, beforeAll, describe } from 'vitest';
import { expressHarness } from './spec/express-harness.js';
import { fastifyHarness } from './spec/fastify-harness.js';
import { httpCacheSpec } from './spec/http-spec.js';
import { koaHarness } from './spec/koa-harness.js';
import { nestExpressHarness, nestFastifyHarness } from './spec/nest-harness.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

// The one behavioural HTTP spec, run by every adapter, on each framework major it supports, against
// real Redis and the memory store.

let redis: RedisServer;
let prefixes = 0;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const harnesses = [
  expressHarness('express5', express),
  expressHarness('express4', express4),
  koaHarness('koa3', koa),
  koaHarness('koa2', koa2),
  fastifyHarness,
  nestExpressHarness,
  nestFastifyHarness,
];

describe.each(harnesses)('$name', (harness) => {
  httpCacheSpec(harness, {
    name: 'redis',
    createCache: (options) =>
      // Behaviour, not fault bounds (the fault drills own those): a generous timeout keeps a
      // loaded machine from turning a slow hit into a fail-open BYPASS.
      createCache({ redis: redis.url, prefix: `${harness.name}${++prefixes}`, timeout: '5s', ...options }),
    redis: { commandStats: () => redis.commandStats() },
  });
  httpCacheSpec(harness, {
    name: 'memory',
    createCache: (options) => createCache(options),
  });
});
