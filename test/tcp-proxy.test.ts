// The fault proxy the drills use, checked against a real redis-server: it forwards faithfully, adds
// the latency it is told, freezes without closing, and drops connections. Bounds are lower bounds
// (timers the proxy controls) with generous upper ones.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let redis: RedisServer;
let proxy: TcpProxy;
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await proxy?.close();
});

async function through(options: { retry?: boolean } = {}): Promise<Redis> {
  proxy = await startTcpProxy({ port: redis.port });
  const client = new Redis(proxy.url, {
    maxRetriesPerRequest: 1,
    retryStrategy: options.retry === false ? () => null : () => 50,
  });
  client.on('error', () => {});
  clients.push(client);
  await client.ping();
  return client;
}

describe('tcp proxy', () => {
  it('forwards commands and binary replies unchanged', async () => {
    const client = await through();
    const bytes = Buffer.alloc(256 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 256;
    await client.set('proxy:bytes', bytes);
    expect((await client.getBuffer('proxy:bytes'))?.equals(bytes)).toBe(true);
    expect(proxy.connections).toBe(1);
    expect(proxy.forwarded.up).toBeGreaterThan(0);
    expect(proxy.forwarded.down).toBeGreaterThan(0);
  });

  it('adds the latency it is told to each direction: a round trip takes at least twice as long', async () => {
    const client = await through();
    proxy.setLatency(150);
    const startedAt = performance.now();
    expect(await client.ping()).toBe('PONG');
    const elapsed = performance.now() - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(295);
    expect(elapsed).toBeLessThan(5_000);
    proxy.setLatency(0);
    expect(await client.ping()).toBe('PONG');
    expect(() => proxy.setLatency(-1)).toThrow(RangeError);
  });

  it('freezes without closing: a command waits, then completes in order on thaw', async () => {
    const client = await through();
    let closed = false;
    client.on('close', () => {
      closed = true;
    });
    proxy.freeze();
    const settled: string[] = [];
    const first = client.set('proxy:frozen', 'a').then(() => settled.push('set'));
    const second = client.get('proxy:frozen').then((value) => settled.push(`get ${value}`));
    await sleep(300);
    // Frozen: nothing can have answered, however fast or slow the machine.
    expect(settled).toEqual([]);
    expect(await redis.admin.exists('proxy:frozen')).toBe(0);
    expect([proxy.connections, closed, client.status]).toEqual([1, false, 'ready']);
    proxy.thaw();
    await Promise.all([first, second]);
    expect(settled).toEqual(['set', 'get a']);
    expect(closed).toBe(false);
  });

  it('drops every connection; the client reconnects through it', async () => {
    const client = await through();
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    // The connection's id on the server: the client reconnects within 50 ms, so a count of the
    // server's clients could be back where it was before a poll saw it fall.
    const id = String(await client.client('ID'));
    const serverHas = async (clientId: string) =>
      String(await redis.admin.call('CLIENT', 'LIST'))
        .split('\n')
        .some((line) => line.startsWith(`id=${clientId} `));
    expect(await serverHas(id)).toBe(true);
    proxy.dropConnections();
    await closed;
    expect(proxy.connections).toBe(0);
    // The upstream side was closed too: the server loses that client.
    await expect.poll(() => serverHas(id), { timeout: 10_000 }).toBe(false);
    expect(await client.ping()).toBe('PONG');
    expect(proxy.connections).toBe(1);
  });

  it('a request through a dropped connection fails instead of hanging', async () => {
    const client = await through({ retry: false });
    proxy.freeze();
    const pending = client.get('proxy:x').then(
      () => 'answered',
      () => 'failed',
    );
    proxy.dropConnections();
    expect(await pending).toBe('failed');
  });
});
