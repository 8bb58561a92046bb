import { MemoryStore, RedisStore } from '@versioned-cache/core';
import { afterAll, beforeAll } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';
import { storeContractSuite } from './support/store-contract.js';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server.stop();
});

storeContractSuite('MemoryStore', () => new MemoryStore());

storeContractSuite('RedisStore', () => new RedisStore(server.url, { commandTimeoutMs: 1_000 }));
