import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import { cacheRoute, noCache, versionedCache } from '@versioned-cache/express';
import express, { type ErrorRequestHandler } from 'express';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { expectFailsOpen, withFreezableRedis } from './support/frozen-redis.js';

const caches: VersionedCache[] = [];
const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});

/** One server per app: the Host header, port included, is part of the key. */
async function client(app: RequestListener) {
  const server = createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return supertest(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}
function memoryCache(): VersionedCache {
  const cache = createCache({ jitter: 0 });
  caches.push(cache);
  return cache;
}

describe('express adapter', () => {
  it('works mounted on a path and on a router, keyed by the full path', async () => {
    const cache = memoryCache();
    const app = express();
    let calls = 0;
    const sub = express.Router();
    sub.use(versionedCache('reports', { cache }));
    sub.get('/x', (req, res) => {
      calls++;
      res.json({ at: req.originalUrl, ns: req.cache.namespaces });
    });
    app.use('/a', sub);
    app.use('/b', sub);
    const http = await client(app);
    const a1 = await http.get('/a/x');
    const b1 = await http.get('/b/x');
    const a2 = await http.get('/a/x');
    expect([a1.headers['x-cache'], b1.headers['x-cache'], a2.headers['x-cache']]).toEqual([
      'MISS',
      'MISS',
      'HIT',
    ]);
    expect([a2.body, b1.body]).toEqual([
      { at: '/a/x', ns: ['reports'] },
      { at: '/b/x', ns: ['reports'] },
    ]);
    expect(calls).toBe(2);
  });

  it('lets a versionedCache() on a router take over from the app-level one, with one read per hit', async () => {
    const cache = memoryCache();
    const reads: number[] = [];
    const getMany = cache.store.getMany.bind(cache.store);
    cache.store.getMany = (keys) => {
      reads.push(keys.length);
      return getMany(keys);
    };
    const app = express();
    app.use(versionedCache('global', { cache }));
    const reports = express.Router();
    reports.use(versionedCache('reports', { cache }));
    reports.get('/r', (req, res) => {
      res.json(req.cache.namespaces);
    });
    app.use('/reports', reports);
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

  it('fails open: with Redis frozen the handler answers, BYPASS, and the fault is reported', async () => {
    await withFreezableRedis(async ({ cache, ...fault }) => {
      const app = express();
      let calls = 0;
      app.use(versionedCache('items', { cache }));
      app.get('/items', (_req, res) => {
        calls++;
        res.json({ calls });
      });
      const http = await client(app);
      await expectFailsOpen(() => http.get('/items').timeout(20_000), fault);
    });
  });

  it('answers hits without res.send, so Express computes no ETag for them', async () => {
    const cache = memoryCache();
    const app = express();
    let etagCalls = 0;
    app.set('etag', (body: Buffer) => {
      etagCalls++;
      return `"custom-${body.length}"`;
    });
    app.use(versionedCache('items', { cache }));
    app.get('/items', (_req, res) => {
      res.send('items');
    });
    const http = await client(app);
    const miss = await http.get('/items');
    const hit = await http.get('/items');
    expect([miss.headers.etag, hit.headers.etag, hit.headers['x-cache']]).toEqual([
      '"custom-5"',
      '"custom-5"',
      'HIT',
    ]);
    expect(etagCalls).toBe(1);
  });

  it('opts out with noCache() and cacheRoute(false)', async () => {
    const cache = memoryCache();
    const app = express();
    let calls = 0;
    app.use(versionedCache('items', { cache }));
    app.get('/a', noCache(), (_req, res) => {
      calls++;
      res.json('a');
    });
    app.get('/b', cacheRoute(false), (_req, res) => {
      calls++;
      res.json('b');
    });
    const http = await client(app);
    for (const path of ['/a', '/b', '/a', '/b']) {
      expect((await http.get(path)).headers['x-cache']).toBe('BYPASS');
    }
    expect(calls).toBe(4);
  });

  it('fails a route with cacheRoute() but no versionedCache() with a coded error', async () => {
    const app = express();
    let code: unknown;
    app.get('/x', cacheRoute({ ttl: '1m' }), (_req, res) => {
      res.send('x');
    });
    const onError: ErrorRequestHandler = (error, _req, res, _next) => {
      code = (error as { code?: unknown }).code;
      res.status(500).send((error as Error).message);
    };
    app.use(onError);
    const http = await client(app);
    const reply = await http.get('/x');
    expect([reply.status, code]).toEqual([500, 'VC_INVALID_ARGUMENT']);
    expect(reply.text).toMatch(/^@versioned-cache\/express: cacheRoute\(\) needs/);
  });

  it('refreshes a stale entry of a mounted sub-app in the background, detached from the client', async () => {
    const cache = memoryCache();
    const app = express();
    const sub = express();
    let version = 1;
    let calls = 0;
    sub.use(versionedCache('items', { cache }));
    sub.get('/g', cacheRoute({ ttl: '1m', grace: '1m' }), (_req, res) => {
      calls++;
      res.json({ version });
    });
    app.use('/sub', sub);
    const http = await client(app);
    await http.get('/sub/g');
    version = 2;
    // Stale by invalidation rather than by a short TTL, which a loaded machine could outlive twice.
    await cache.invalidate('items');
    const stale = await http.get('/sub/g');
    expect([stale.headers['x-cache'], stale.body]).toEqual(['STALE', { version: 1 }]);
    // The background refresh runs without the client; wait for its entry, not for a fixed time
    // (its handler run ends before the entry is written).
    await expect
      .poll(async () => (await http.get('/sub/g')).headers['x-cache'], { timeout: 10_000 })
      .toBe('HIT');
    const fresh = await http.get('/sub/g');
    expect([fresh.headers['x-cache'], fresh.body, calls]).toEqual(['HIT', { version: 2 }, 2]);
  });

  it('caches express.static files, keeping their own ETag', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-static-'));
    try {
      await writeFile(join(dir, 'a.txt'), 'static file');
      const cache = memoryCache();
      const app = express();
      app.use(versionedCache('assets', { cache }));
      app.use(express.static(dir));
      const http = await client(app);
      const miss = await http.get('/a.txt');
      const hit = await http.get('/a.txt');
      expect([miss.text, hit.text, hit.headers['x-cache']]).toEqual(['static file', 'static file', 'HIT']);
      expect(miss.headers.etag).toMatch(/^W\/"/);
      expect(hit.headers.etag).toBe(miss.headers.etag);
      const notModified = await http.get('/a.txt').set('if-none-match', miss.headers.etag!);
      expect(notModified.status).toBe(304);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives each request its req.cache without adding a property to the request', async () => {
    const cache = memoryCache();
    const app = express();
    const seen: unknown[] = [];
    app.get('/outside', (req, res) => {
      seen.push(`outside ${req.cache === undefined}`);
      res.send('outside');
    });
    app.use(versionedCache('items', { cache }));
    app.get('/items', (req, res) => {
      seen.push(`own property ${Object.hasOwn(req, 'cache')}`, req.cache.namespaces.join(), req.cache.status);
      res.send('items');
    });
    const sub = express();
    sub.get('/items', (req, res) => {
      seen.push(`sub-app ${req.cache.status}`);
      res.send('sub');
    });
    app.use('/sub', sub);
    const http = await client(app);
    await http.get('/items');
    await http.get('/outside');
    await http.get('/sub/items');
    expect(seen).toEqual(['own property false', 'items', 'MISS', 'outside true', 'sub-app MISS']);
  });

  it('invalidates from a job outside HTTP, and exposes the final status to logging', async () => {
    const cache = memoryCache();
    const app = express();
    const logged: string[] = [];
    app.use((req, res, next) => {
      res.on('finish', () => logged.push(req.cache.status));
      next();
    });
    app.use(versionedCache('items', { cache }));
    app.get('/items', (_req, res) => {
      res.json('items');
    });
    const http = await client(app);
    await http.get('/items');
    await http.get('/items');
    await cache.invalidate('items');
    await http.get('/items');
    await http.get('/items').set('authorization', 'Bearer x');
    expect(logged).toEqual(['MISS', 'HIT', 'MISS', 'BYPASS']);
  });

  it('looks up once per request on a route with its own key, after the first request', async () => {
    const cache = memoryCache();
    const reads: number[] = [];
    const getMany = cache.store.getMany.bind(cache.store);
    cache.store.getMany = (keys) => {
      reads.push(keys.length);
      return getMany(keys);
    };
    const app = express();
    app.use(versionedCache('items', { cache }));
    app.get('/v', cacheRoute({ vary: ['accept-language'] }), (req, res) => {
      res.send(`lang ${req.headers['accept-language']}`);
    });
    const http = await client(app);
    const first = await http.get('/v').set('accept-language', 'fr').set('if-none-match', '"x", *');
    expect([first.status, first.headers['x-cache']]).toEqual([304, 'MISS']);
    reads.length = 0;
    const hit = await http.get('/v').set('accept-language', 'fr');
    expect([hit.headers['x-cache'], hit.text, reads]).toEqual(['HIT', 'lang fr', [2]]);
  });
});
