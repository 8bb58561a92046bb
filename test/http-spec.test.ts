import * as nest11Common from '@nestjs/common';
import * as nest11Core from '@nestjs/core';
import * as nest11Express from '@nestjs/platform-express';
import * as nest11Fastify from '@nestjs/platform-fastify';
import { createCache } from '@versioned-cache/core';
import * as nest11VersionedCache from '@versioned-cache/nestjs';
import { loadNest12 } from '@versioned-cache/tests-nest12';
import express from 'express';
import express4 from 'express4';
import koa from 'koa';
import koa2 from 'koa2';
import { afterAll, beforeAll, describe } from 'vitest';
import { expressHarness } from './spec/express-harness.js';
import { fastifyHarness } from './spec/fastify-harness.js';
import { httpCacheSpec } from './spec/http-spec.js';
import { koaHarness } from './spec/koa-harness.js';
import { type NestModules, nestHarness } from './spec/nest-harness.js';
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

const nest11: NestModules = {
  common: nest11Common,
  core: nest11Core,
  platformExpress: nest11Express,
  platformFastify: nest11Fastify,
  nestjs: nest11VersionedCache,
};
// Nest 12 typed with Nest 11's types, as express4 is with Express 5's.
const { version: nest12Version, ...nest12Modules } = await loadNest12();
const nest12 = nest12Modules as unknown as NestModules;
if (nest12Version.split('.')[0] !== '12') throw new Error(`expected Nest 12, loaded ${nest12Version}`);

const harnesses = [
  expressHarness('express5', express),
  expressHarness('express4', express4),
  koaHarness('koa3', koa),
  koaHarness('koa2', koa2),
  fastifyHarness,
  nestHarness('nest11-express', 'express', nest11),
  nestHarness('nest11-fastify', 'fastify', nest11),
  nestHarness('nest12-express', 'express', nest12),
  nestHarness('nest12-fastify', 'fastify', nest12),
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
