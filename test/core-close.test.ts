import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, type RedisStore } from '@versioned-cache/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

// close() releases what the cache opened, and only that: a client the user passed in is theirs.

describe('close() on a real Redis', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });

  afterAll(async () => {
    await server.stop();
  });

  async function connectedClients(): Promise<number> {
    const info = await server.admin.info('clients');
    return Number(/connected_clients:(\d+)/.exec(info)![1]);
  }

  async function untilConnectedClients(count: number): Promise<number> {
    const deadline = Date.now() + 2_000;
    let now = await connectedClients();
    while (now !== count && Date.now() < deadline) {
      await sleep(10);
      now = await connectedClients();
    }
    return now;
  }

  it('closes the connection it opened from a URL', async () => {
    const baseline = await connectedClients();
    const cache = createCache({ redis: server.url });
    expect(await cache.getOrSet('ns', 'k', () => 1)).toBe(1);
    const { client } = cache.store as RedisStore;
    expect(client.status).toBe('ready');
    expect(await connectedClients()).toBe(baseline + 1);

    await cache.close();
    expect(client.status).toBe('end');
    expect(await untilConnectedClients(baseline)).toBe(baseline);
    await cache.close(); // a second close is harmless
  });

  it('resolves while Redis is down, and the connection stays closed when Redis returns', async () => {
    const down = await startRedis();
    try {
      const cache = createCache({ redis: down.url, timeout: 200 });
      expect(await cache.getOrSet('ns', 'k', () => 1)).toBe(1);
      const { client } = cache.store as RedisStore;
      await down.kill();
      const deadline = Date.now() + 5_000;
      while (client.status === 'ready' && Date.now() < deadline) await sleep(10);
      expect(client.status).not.toBe('ready');
      const startedAt = Date.now();
      await cache.close();
      expect(Date.now() - startedAt).toBeLessThan(1_000);
      await down.restart();
      await sleep(500);
      expect(client.status).not.toBe('ready');
    } finally {
      await down.stop();
    }
  });

  it('leaves a client passed in open and usable', async () => {
    const client = new Redis(server.url);
    try {
      const cache = createCache({ redis: client });
      expect(await cache.getOrSet('ns', 'k2', () => 2)).toBe(2);
      expect((cache.store as RedisStore).client).toBe(client);
      await cache.close();
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('after close, reads compute without Redis and invalidations reject with VC_CLOSED', async () => {
    const cache = createCache({ redis: server.url });
    await cache.getOrSet('ns', 'k3', () => 'stored');
    await cache.close();
    const before = await server.commandStats();
    expect(await cache.fetch('ns', 'k3', () => 'computed')).toMatchObject({
      status: 'BYPASS',
      value: 'computed',
    });
    await expect(cache.invalidate('ns')).rejects.toMatchObject({ code: 'VC_CLOSED' });
    const after = await server.commandStats();
    expect(after.get('mget')).toBe(before.get('mget'));
  });
});
