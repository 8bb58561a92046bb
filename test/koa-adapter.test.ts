import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Router from '@koa/router';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import { cacheRoute, versionedCache } from '@versioned-cache/koa';
import Koa from 'koa';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { expectFailsOpen, withFreezableRedis } from './support/frozen-redis.js';

const caches: VersionedCache[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});

async function client(app: Koa) {
  const server = createServer(app.callback());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return supertest(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/** A memory cache whose store reads are counted: one `getMany` is one round trip. */
function countedCache(): { cache: VersionedCache; reads: number[] } {
  const cache = createCache({ jitter: 0 });
  caches.push(cache);
  const reads: number[] = [];
  const getMany = cache.store.getMany.bind(cache.store);
  cache.store.getMany = (keys) => {
    reads.push(keys.length);
    return getMany(keys);
  };
  return { cache, reads };
}

function quietApp(): Koa {
  const app = new Koa();
  app.silent = true;
  return app;
}

describe('koa adapter', () => {
  it('keys a prefixed router by the full path, and gives a route key ctx.params after routing', async () => {
    const { cache } = countedCache();
    const app = quietApp();
    app.use(versionedCache('reports', { cache }));
    const router = new Router({ prefix: '/api' });
    let calls = 0;
    router.get('/reports/:id', cacheRoute({ key: (ctx) => `report:${ctx.params.id}` }), (ctx) => {
      calls++;
      ctx.body = { id: ctx.params.id, at: ctx.originalUrl };
    });
    app.use(router.routes());
    const http = await client(app);
    const first = await http.get('/api/reports/7?utm=a');
    const second = await http.get('/api/reports/7?utm=b');
    const other = await http.get('/api/reports/8');
    expect([first.headers['x-cache'], second.headers['x-cache'], other.headers['x-cache']]).toEqual([
      'MISS',
      'HIT',
      'MISS',
    ]);
    expect([second.body, calls]).toEqual([{ id: '7', at: '/api/reports/7?utm=a' }, 2]);
  });

  it('lets a versionedCache() on a router take over from the app-level one, with one read per hit', async () => {
    const { cache, reads } = countedCache();
    const app = quietApp();
    app.use(versionedCache('global', { cache }));
    const reports = new Router({ prefix: '/reports' });
    reports.use(versionedCache('reports', { cache }));
    reports.get('/r', (ctx) => {
      ctx.body = ctx.cache.namespaces;
    });
    app.use(reports.routes());
    const http = await client(app);
    const first = await http.get('/reports/r');
    expect([first.headers['x-cache'], first.body]).toEqual(['MISS', ['reports']]);
    await http.get('/reports/r');
    reads.length = 0;
    const hit = await http.get('/reports/r');
    expect([hit.headers['x-cache'], reads]).toEqual(['HIT', [2]]);
    await cache.invalidate('global');
    expect((await http.get('/reports/r')).headers['x-cache']).toBe('HIT');
    await cache.invalidate('reports');
    expect((await http.get('/reports/r')).headers['x-cache']).toBe('MISS');
  });

  it('awaits its own next() after handlerTimeout: the late response reaches its client and upstream middleware', async () => {
    const { cache } = countedCache();
    const app = quietApp();
    const upstream: string[] = [];
    let handlerDone = false;
    app.use(async (ctx, next) => {
      await next();
      upstream.push(`${handlerDone} ${ctx.status} ${ctx.cache.status}`);
    });
    app.use(versionedCache('items', { cache, handlerTimeout: 100 }));
    const router = new Router();
    router.get('/late', async (ctx) => {
      await sleep(250);
      handlerDone = true;
      ctx.body = 'late but whole';
    });
    // A stream still trickling when the core gives up: what was buffered goes out, then the rest.
    router.get('/trickle', (ctx) => {
      ctx.type = 'text/plain';
      ctx.body = Readable.from(
        (async function* () {
          yield 'first,';
          await sleep(250);
          yield 'second';
        })(),
      );
    });
    app.use(router.routes());
    const http = await client(app);
    const late = await http.get('/late');
    expect([late.status, late.text, late.headers['x-cache']]).toEqual([200, 'late but whole', 'BYPASS']);
    expect(upstream).toEqual(['true 200 BYPASS']);
    const trickle = await http.get('/trickle');
    expect([trickle.status, trickle.text, trickle.headers['x-cache']]).toEqual([
      200,
      'first,second',
      'BYPASS',
    ]);
  });

  it('caches every body kind Koa sends: Blob, web stream, null body, and the status message', async () => {
    const { cache } = countedCache();
    const app = quietApp();
    app.use(versionedCache('items', { cache }));
    const router = new Router();
    let calls = 0;
    router.get('/blob', (ctx) => {
      calls++;
      ctx.body = new Blob(['blob ✓'], { type: 'text/plain; charset=utf-8' });
    });
    router.get('/web', (ctx) => {
      calls++;
      ctx.type = 'text/csv';
      ctx.body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('a,b\n'));
          controller.enqueue(new TextEncoder().encode('1,2\n'));
          controller.close();
        },
      });
    });
    router.get('/empty', (ctx) => {
      calls++;
      ctx.body = null; // Koa answers 204
    });
    router.get('/gone', (ctx) => {
      calls++;
      ctx.status = 410; // no body: Koa sends the status message
    });
    app.use(router.routes());
    const http = await client(app);
    const expected: Record<string, [number, string, string | undefined]> = {
      '/blob': [200, 'blob ✓', 'text/plain; charset=utf-8'],
      '/web': [200, 'a,b\n1,2\n', 'text/csv; charset=utf-8'],
      '/empty': [204, '', undefined],
      '/gone': [410, 'Gone', 'text/plain; charset=utf-8'],
    };
    for (const [path, [status, text, type]] of Object.entries(expected)) {
      const miss = await http.get(path);
      const hit = await http.get(path);
      for (const reply of [miss, hit])
        expect([reply.status, reply.text, reply.headers['content-type']], path).toEqual([status, text, type]);
      expect([miss.headers['x-cache'], hit.headers['x-cache']], path).toEqual(['MISS', 'HIT']);
    }
    expect(calls).toBe(4);
  });

  it('answers a body stream that fails while buffered with Koa’s 500, and stores nothing', async () => {
    const { cache } = countedCache();
    const app = quietApp();
    app.use(versionedCache('items', { cache }));
    const router = new Router();
    let calls = 0;
    router.get('/broken', (ctx) => {
      const n = ++calls;
      ctx.type = 'text/plain';
      ctx.body = Readable.from(
        (async function* () {
          yield 'partial';
          if (n === 1) throw new Error('disk gone');
          yield ' then whole';
        })(),
      );
    });
    app.use(router.routes());
    const http = await client(app);
    expect((await http.get('/broken')).status).toBe(500);
    const ok = await http.get('/broken');
    expect([ok.status, ok.text, ok.headers['x-cache']]).toEqual([200, 'partial then whole', 'MISS']);
    expect(calls).toBe(2);
  });

  it('exposes the final status to upstream middleware, and fails cacheRoute() without versionedCache()', async () => {
    const { cache } = countedCache();
    const app = quietApp();
    const logged: string[] = [];
    app.use(async (ctx, next) => {
      await next();
      logged.push(ctx.cache?.status ?? 'none');
    });
    const bare = new Router();
    bare.get('/bare', cacheRoute({ ttl: '1m' }), (ctx) => {
      ctx.body = 'never';
    });
    app.use(bare.routes());
    app.use(versionedCache('items', { cache }));
    const router = new Router();
    router.get('/items', (ctx) => {
      ctx.body = 'items';
    });
    app.use(router.routes());
    const errors: unknown[] = [];
    app.on('error', (error) => errors.push((error as { code?: unknown }).code));
    const http = await client(app);
    await http.get('/items');
    await http.get('/items');
    await cache.invalidate('items');
    await http.get('/items');
    await http.get('/items').set('authorization', 'Bearer x');
    expect(logged).toEqual(['MISS', 'HIT', 'MISS', 'BYPASS']);
    expect((await http.get('/bare')).status).toBe(500);
    expect(errors).toEqual(['VC_INVALID_ARGUMENT']);
  });

  it('leaves alone a response the handler writes itself (ctx.respond = false)', async () => {
    const { cache } = countedCache();
    const app = quietApp();
    app.use(versionedCache('items', { cache }));
    let calls = 0;
    app.use((ctx) => {
      ctx.respond = false;
      ctx.res.writeHead(200, { 'content-type': 'text/plain' });
      ctx.res.end(`raw ${++calls}`);
    });
    const http = await client(app);
    expect([(await http.get('/raw')).text, (await http.get('/raw')).text]).toEqual(['raw 1', 'raw 2']);
  });

  it('fails open: with Redis frozen the handler answers, BYPASS, and the fault is reported', async () => {
    await withFreezableRedis(async ({ cache, ...fault }) => {
      const app = quietApp();
      let calls = 0;
      app.use(versionedCache('items', { cache }));
      app.use((ctx) => {
        ctx.body = { calls: ++calls };
      });
      const http = await client(app);
      await expectFailsOpen(() => http.get('/items').timeout(20_000), fault);
    });
  });
});
