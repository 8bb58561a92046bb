import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { type CacheOptions, type VersionedCache, zlibCompressor } from '@versioned-cache/core';
import etag from 'etag';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { commandDelta, settle } from '../support/command-delta.js';
import type { RedisServer } from '../support/redis-server.js';
import type {
  AdapterCapabilities,
  AdapterHarness,
  SpecAppOptions,
  SpecRequest,
  SpecResponse,
  SpecRoute,
  SpecRouteOptions,
} from './harness.js';

/** Where entries live for one run of the spec. */
export interface SpecBackend {
  name: string;
  /** A fresh cache for one test (its own prefix or store). */
  createCache(options?: CacheOptions): VersionedCache;
  /** The private Redis behind `createCache`, to count round trips; absent for the memory store. */
  redis?: Pick<RedisServer, 'commandStats'>;
}

interface Reply {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

type Headers = Record<string, string>;

interface Running {
  cache: VersionedCache;
  /** Exact bytes on the wire, no decoding, no default Accept-Encoding. */
  raw(path: string, headers?: Headers): Promise<Reply>;
  calls(path: string): number;
  get(path: string, headers?: Headers): Promise<Reply>;
  head(path: string, headers?: Headers): Promise<Reply>;
  post(path: string, headers?: Headers): Promise<Reply>;
}

interface RouteDef {
  method?: 'GET' | 'POST';
  options?: SpecRouteOptions | false;
  handle(request: SpecRequest): SpecResponse | Promise<SpecResponse>;
}

function rawGet(port: number, path: string, headers: Headers = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers as Record<string, string | undefined>,
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const json = (value: unknown): SpecResponse => ({ body: { kind: 'json', value } });
const text = (value: string, headers?: Record<string, string>): SpecResponse => ({
  body: { kind: 'string', value },
  headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
});

/**
 * The behavioural HTTP spec every adapter runs, through supertest, against a real server: one call
 * per adapter and backend, e.g. `httpCacheSpec(expressHarness, redisBackend)`.
 */
export function httpCacheSpec(
  harness: AdapterHarness,
  backend: SpecBackend,
  capabilities: AdapterCapabilities = {},
): void {
  const { backgroundRefresh = true } = capabilities;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  async function start(
    routes: Record<string, RouteDef>,
    options: Omit<SpecAppOptions, 'cache'> = {},
    namespaces: string | string[] = 'items',
    cacheOptions: CacheOptions = {},
  ): Promise<Running> {
    const cache = backend.createCache({ jitter: 0, ...cacheOptions });
    cleanups.push(() => cache.close());
    const counts = new Map<string, number>();
    const specRoutes: SpecRoute[] = Object.entries(routes).map(([spec, def]) => {
      const [method, path] = spec.includes(' ') ? spec.split(' ') : [def.method ?? 'GET', spec];
      const key = `${method} ${path}`;
      return {
        method: method as 'GET' | 'POST',
        path: path!,
        options: def.options,
        handle(request) {
          counts.set(key, (counts.get(key) ?? 0) + 1);
          return def.handle(request);
        },
      };
    });
    const server: Server = await harness.build({
      namespaces,
      options: { cache, ...options },
      routes: specRoutes,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const { port } = server.address() as AddressInfo;
    const agent = supertest(`http://127.0.0.1:${port}`);
    const send = async (test: supertest.Test, headers: Headers = {}): Promise<Reply> => {
      const res = await test
        .set(headers)
        .buffer(true)
        .parse((response, done) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => done(null, Buffer.concat(chunks)));
        });
      return {
        status: res.status,
        headers: res.headers as Record<string, string | undefined>,
        body: Buffer.isBuffer(res.body) ? res.body : Buffer.alloc(0),
      };
    };
    return {
      cache,
      raw: (path, headers) => rawGet(port, path, headers),
      calls: (path) => counts.get(path.includes(' ') ? path : `GET ${path}`) ?? 0,
      get: (path, headers) => send(agent.get(path), headers),
      head: (path, headers) => send(agent.head(path), headers),
      post: (path, headers) => send(agent.post(path), headers),
    };
  }

  const xCache = (reply: Reply) => reply.headers['x-cache'];

  describe(`HTTP cache spec: ${harness.name} on ${backend.name}`, () => {
    describe('hits and misses', () => {
      it('stores a GET, then answers it from the cache without running the handler', async () => {
        const app = await start({ '/items': { handle: () => json({ items: [1, 2, 3] }) } });
        const miss = await app.get('/items');
        expect(miss.status).toBe(200);
        expect(xCache(miss)).toBe('MISS');
        expect(miss.headers.age).toBeUndefined();
        const hit = await app.get('/items');
        expect(xCache(hit)).toBe('HIT');
        expect(JSON.parse(hit.body.toString())).toEqual({ items: [1, 2, 3] });
        expect(hit.body.equals(miss.body)).toBe(true);
        expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
        expect(hit.headers['content-length']).toBe(String(miss.body.byteLength));
        expect(hit.headers.etag).toBe(miss.headers.etag);
        expect(hit.headers.age).toMatch(/^\d+$/);
        expect(hit.headers.date).toBeDefined();
        expect(app.calls('/items')).toBe(1);
      });

      it('replays every body kind byte for byte: JSON, string, buffer and streamed chunks', async () => {
        const bytes = Buffer.from([0, 255, 1, 254, 10, 13]);
        const app = await start({
          '/json': { handle: () => json({ a: 'é', b: [null, true] }) },
          '/string': { handle: () => text('plain text ✓') },
          '/buffer': {
            handle: () => ({
              body: { kind: 'buffer', value: bytes },
              headers: { 'content-type': 'application/octet-stream' },
            }),
          },
          '/chunks': {
            handle: () => ({
              body: { kind: 'chunks', value: ['one,', 'two,', 'three ✓'] },
              headers: { 'content-type': 'text/csv' },
            }),
          },
        });
        for (const path of ['/json', '/string', '/buffer', '/chunks']) {
          const miss = await app.get(path);
          const hit = await app.get(path);
          expect([xCache(miss), xCache(hit)], path).toEqual(['MISS', 'HIT']);
          expect(hit.body.equals(miss.body), path).toBe(true);
          expect(hit.headers['content-type'], path).toBe(miss.headers['content-type']);
          expect(app.calls(path), path).toBe(1);
        }
        expect((await app.get('/buffer')).body.equals(bytes)).toBe(true);
        expect((await app.get('/chunks')).body.toString()).toBe('one,two,three ✓');
      });

      it('shares one handler run among concurrent misses', async () => {
        let open!: () => void;
        const gate = new Promise<void>((resolve) => {
          open = resolve;
        });
        const app = await start({
          '/slow': {
            handle: async () => {
              await gate;
              return json({ slow: true });
            },
          },
        });
        const replies = Array.from({ length: 8 }, () => app.get('/slow'));
        await sleep(100);
        open();
        const all = await Promise.all(replies);
        expect(all.every((reply) => reply.status === 200 && reply.body.toString() === '{"slow":true}')).toBe(
          true,
        );
        expect(app.calls('/slow')).toBe(1);
      });

      it('keys on the sorted query: reordered parameters hit, different values miss', async () => {
        const app = await start({ '/q': { handle: (req) => text(`query ${req.url}`) } });
        expect(xCache(await app.get('/q?b=2&a=1'))).toBe('MISS');
        const hit = await app.get('/q?a=1&b=2');
        expect(xCache(hit)).toBe('HIT');
        expect(hit.body.toString()).toBe('query /q?b=2&a=1');
        expect(xCache(await app.get('/q?a=1&b=3'))).toBe('MISS');
        expect(xCache(await app.get('/q'))).toBe('MISS');
        expect(app.calls('/q')).toBe(3);
      });

      it('stores 301 with its Location and 404, but not 500 or 201', async () => {
        const app = await start({
          '/moved': { handle: () => ({ status: 301, headers: { location: '/items' } }) },
          '/gone': { handle: () => ({ status: 404, body: { kind: 'string', value: 'no such thing' } }) },
          '/broken': { handle: () => ({ status: 500, body: { kind: 'string', value: 'oops' } }) },
          '/created': { handle: () => ({ status: 201, body: { kind: 'string', value: 'made' } }) },
        });
        for (const path of ['/moved', '/gone', '/broken', '/created']) await app.get(path);
        const moved = await app.get('/moved');
        expect([moved.status, xCache(moved), moved.headers.location]).toEqual([301, 'HIT', '/items']);
        const gone = await app.get('/gone');
        expect([gone.status, xCache(gone), gone.body.toString()]).toEqual([404, 'HIT', 'no such thing']);
        const broken = await app.get('/broken');
        expect([broken.status, xCache(broken)]).toEqual([500, 'BYPASS']);
        expect(xCache(await app.get('/created'))).toBe('BYPASS');
        expect([
          app.calls('/moved'),
          app.calls('/gone'),
          app.calls('/broken'),
          app.calls('/created'),
        ]).toEqual([1, 1, 2, 2]);
      });

      it('takes the storable statuses from the statuses option', async () => {
        const app = await start(
          { '/gone': { handle: () => ({ status: 404, body: { kind: 'string', value: 'none' } }) } },
          { statuses: [200] },
        );
        await app.get('/gone');
        expect(xCache(await app.get('/gone'))).toBe('BYPASS');
        expect(app.calls('/gone')).toBe(2);
      });
    });

    describe('ETag and 304', () => {
      it('sends a strong ETag of the body, and a 304 on a hit without running the handler', async () => {
        const app = await start({ '/items': { handle: () => json({ n: 1 }) } });
        const miss = await app.get('/items');
        expect(miss.headers.etag).toBe(etag(miss.body));
        const notModified = await app.get('/items', { 'if-none-match': miss.headers.etag! });
        expect(notModified.status).toBe(304);
        expect(notModified.body.byteLength).toBe(0);
        expect(notModified.headers.etag).toBe(miss.headers.etag);
        expect(notModified.headers['cache-control']).toBe(miss.headers['cache-control']);
        expect(notModified.headers.date).toBeDefined();
        expect(xCache(notModified)).toBe('HIT');
        expect(app.calls('/items')).toBe(1);
      });

      it('carries Vary on a 304', async () => {
        const app = await start({
          '/v': {
            options: { vary: ['accept-language'] },
            handle: (req) => text(`${req.headers['accept-language']}`),
          },
        });
        const miss = await app.get('/v', { 'accept-language': 'fr' });
        const notModified = await app.get('/v', {
          'accept-language': 'fr',
          'if-none-match': miss.headers.etag!,
        });
        expect(notModified.status).toBe(304);
        expect(notModified.headers.vary).toBe('accept-language');
        expect(app.calls('/v')).toBe(1);
      });

      it('compares weakly and accepts lists and *', async () => {
        const app = await start({ '/items': { handle: () => json({ n: 2 }) } });
        const tag = (await app.get('/items')).headers.etag!;
        for (const header of [`W/${tag}`, `"nope", ${tag}`, `"a",W/${tag} , "b"`, '*']) {
          const reply = await app.get('/items', { 'if-none-match': header });
          expect(reply.status, header).toBe(304);
        }
        for (const header of ['"nope"', `W/"x", "y"`, tag.slice(0, -1), 'garbage,,,', '"', 'W/']) {
          const reply = await app.get('/items', { 'if-none-match': header });
          expect(reply.status, header).toBe(200);
          expect(reply.body.toString(), header).toBe('{"n":2}');
        }
        const huge = `${'"x", '.repeat(2500)}${tag}`;
        expect((await app.get('/items', { 'if-none-match': huge })).status).toBe(200);
        expect(app.calls('/items')).toBe(1);
      });

      it('answers 304 on a miss once the handler ran, and stores the full response', async () => {
        const body = JSON.stringify({ n: 3 });
        const app = await start({ '/items': { handle: () => json({ n: 3 }) } });
        const first = await app.get('/items', { 'if-none-match': etag(Buffer.from(body)) });
        expect([first.status, xCache(first), first.body.byteLength]).toEqual([304, 'MISS', 0]);
        const hit = await app.get('/items');
        expect([hit.status, xCache(hit), hit.body.toString()]).toEqual([200, 'HIT', body]);
        expect(app.calls('/items')).toBe(1);
      });

      it('keeps an ETag the handler set', async () => {
        const app = await start({ '/tagged': { handle: () => text('tagged', { etag: '"v42"' }) } });
        expect((await app.get('/tagged')).headers.etag).toBe('"v42"');
        const reply = await app.get('/tagged', { 'if-none-match': 'W/"v42"' });
        expect([reply.status, reply.headers.etag]).toEqual([304, '"v42"']);
        expect(app.calls('/tagged')).toBe(1);
      });
    });

    describe('HEAD', () => {
      it('shares the GET entry and answers without a body', async () => {
        const app = await start({ '/items': { handle: () => json({ head: 'shared' }) } });
        const head = await app.head('/items');
        expect([head.status, xCache(head), head.body.byteLength]).toEqual([200, 'MISS', 0]);
        expect(head.headers['content-length']).toBe(String('{"head":"shared"}'.length));
        const get = await app.get('/items');
        expect([xCache(get), get.body.toString()]).toEqual(['HIT', '{"head":"shared"}']);
        const again = await app.head('/items');
        expect([xCache(again), again.body.byteLength, again.headers.etag]).toEqual([
          'HIT',
          0,
          get.headers.etag,
        ]);
        expect(app.calls('/items')).toBe(1);
      });
    });

    describe('headers', () => {
      it('sends the default Cache-Control on cached routes and a configured one per route', async () => {
        const app = await start({
          '/default': { handle: () => json(1) },
          '/custom': {
            options: { cacheControl: { maxAge: '1m', sMaxAge: '5m', staleWhileRevalidate: '30s' } },
            handle: () => json(2),
          },
          '/literal': { options: { cacheControl: 'public, max-age=7' }, handle: () => json(3) },
          '/none': { options: { cacheControl: false }, handle: () => json(4) },
          '/own': { handle: () => text('own', { 'cache-control': 'public, max-age=99' }) },
        });
        const expected: Record<string, string | undefined> = {
          '/default': 'public, max-age=0, must-revalidate',
          '/custom': 'public, max-age=60, s-maxage=300, stale-while-revalidate=30',
          '/literal': 'public, max-age=7',
          '/none': undefined,
          '/own': 'public, max-age=99',
        };
        for (const [path, value] of Object.entries(expected)) {
          expect((await app.get(path)).headers['cache-control'], path).toBe(value);
          const hit = await app.get(path);
          expect([xCache(hit), hit.headers['cache-control']], path).toEqual(['HIT', value]);
        }
      });

      it('names the status header as configured, or sends none', async () => {
        const named = await start({ '/a': { handle: () => json(1) } }, { cacheStatusHeader: 'X-Edge-Cache' });
        await named.get('/a');
        expect((await named.get('/a')).headers['x-edge-cache']).toBe('HIT');
        const off = await start({ '/a': { handle: () => json(1) } }, { cacheStatusHeader: false });
        await off.get('/a');
        const hit = await off.get('/a');
        expect([hit.headers['x-cache'], off.calls('/a')]).toEqual([undefined, 1]);
      });

      it('replays only the headers worth replaying, plus storeHeaders', async () => {
        const app = await start({
          '/h': {
            options: { storeHeaders: ['x-dataset'] },
            handle: () =>
              text('h', {
                'content-language': 'fr',
                link: '</style.css>; rel=preload',
                'x-dataset': 'v7',
                'x-request-id': 'only-for-the-first',
              }),
          },
        });
        const miss = await app.get('/h');
        expect(miss.headers['x-request-id']).toBe('only-for-the-first');
        const hit = await app.get('/h');
        expect(hit.headers['content-language']).toBe('fr');
        expect(hit.headers.link).toBe('</style.css>; rel=preload');
        expect(hit.headers['x-dataset']).toBe('v7');
        expect(hit.headers['x-request-id']).toBeUndefined();
      });
    });

    describe('Vary', () => {
      it('keys on the route vary headers and sends Vary', async () => {
        const app = await start({
          '/hello': {
            options: { vary: ['Accept-Language'] },
            handle: (req) => text(req.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello'),
          },
        });
        const en = await app.get('/hello', { 'accept-language': 'en' });
        const fr = await app.get('/hello', { 'accept-language': 'fr' });
        expect([xCache(en), xCache(fr), en.headers.vary]).toEqual(['MISS', 'MISS', 'accept-language']);
        const enAgain = await app.get('/hello', { 'accept-language': 'en' });
        const frAgain = await app.get('/hello', { 'accept-language': 'fr' });
        expect([enAgain.body.toString(), frAgain.body.toString()]).toEqual(['hello', 'bonjour']);
        expect([xCache(enAgain), xCache(frAgain), frAgain.headers.vary]).toEqual([
          'HIT',
          'HIT',
          'accept-language',
        ]);
        expect(app.calls('/hello')).toBe(2);
      });

      it('never stores Vary: * or a Vary on headers the key does not include', async () => {
        const app = await start({
          '/star': { handle: () => text('star', { vary: '*' }) },
          '/unkeyed': { handle: () => text('x', { vary: 'x-flavour' }) },
        });
        for (const path of ['/star', '/unkeyed']) {
          await app.get(path);
          expect(xCache(await app.get(path)), path).toBe('BYPASS');
          expect(app.calls(path), path).toBe(2);
        }
      });
    });

    describe('never one user’s response for another', () => {
      it('does not store requests with Authorization or Cookie', async () => {
        const app = await start({
          '/me': {
            handle: (req) => text(`me=${req.headers.authorization ?? req.headers.cookie ?? 'anonymous'}`),
          },
        });
        const a = await app.get('/me', { authorization: 'Bearer A' });
        const b = await app.get('/me', { authorization: 'Bearer B' });
        const c = await app.get('/me', { cookie: 'session=C' });
        const anonymous = await app.get('/me');
        expect([a, b, c, anonymous].map((r) => r.body.toString())).toEqual([
          'me=Bearer A',
          'me=Bearer B',
          'me=session=C',
          'me=anonymous',
        ]);
        expect([a, b, c].map(xCache)).toEqual(['BYPASS', 'BYPASS', 'BYPASS']);
        expect(app.calls('/me')).toBe(4);
      });

      it('does not store responses with Set-Cookie, private or no-store', async () => {
        let n = 0;
        const app = await start({
          '/login': { handle: () => text(`token-${++n}`, { 'set-cookie': `session=${n}` }) },
          '/private': { handle: () => text(`private-${++n}`, { 'cache-control': 'private, max-age=60' }) },
          '/nostore': { handle: () => text(`nostore-${++n}`, { 'cache-control': 'no-store' }) },
        });
        for (const path of ['/login', '/private', '/nostore']) {
          const first = await app.get(path);
          const second = await app.get(path);
          expect(first.body.toString(), path).not.toBe(second.body.toString());
          expect(xCache(second), path).toBe('BYPASS');
        }
        const login = await app.get('/login');
        expect(login.headers['set-cookie']).toEqual([`session=${n}`]);
      });

      it('never gives one user’s Set-Cookie response to a concurrent request', async () => {
        let open!: () => void;
        const gate = new Promise<void>((resolve) => {
          open = resolve;
        });
        let n = 0;
        const app = await start({
          '/session': {
            handle: async () => {
              const mine = ++n;
              await gate;
              return text(`user-${mine}`, { 'set-cookie': `sid=${mine}` });
            },
          },
        });
        const replies = Array.from({ length: 4 }, () => app.get('/session'));
        await sleep(100);
        open();
        const all = await Promise.all(replies);
        const pairs = all.map((r) => [r.body.toString(), r.headers['set-cookie']?.[0]]);
        expect(new Set(pairs.map(([body]) => body)).size).toBe(4);
        for (const [body, cookie] of pairs) expect(cookie).toBe(`sid=${body!.slice('user-'.length)}`);
      });

      it('stores per user when the route scopes entries with perUser, and sends private', async () => {
        const app = await start({
          '/mine': {
            options: { perUser: (req) => req.headers.authorization?.replace('Bearer ', '') },
            handle: (req) => text(`data of ${req.headers.authorization}`),
          },
        });
        const a1 = await app.get('/mine', { authorization: 'Bearer A' });
        const b1 = await app.get('/mine', { authorization: 'Bearer B' });
        const a2 = await app.get('/mine', { authorization: 'Bearer A' });
        const b2 = await app.get('/mine', { authorization: 'Bearer B' });
        expect([a1, b1, a2, b2].map(xCache)).toEqual(['MISS', 'MISS', 'HIT', 'HIT']);
        expect([a2.body.toString(), b2.body.toString()]).toEqual(['data of Bearer A', 'data of Bearer B']);
        expect(a2.headers['cache-control']).toBe('private, max-age=0, must-revalidate');
        const anonymous = await app.get('/mine');
        expect(anonymous.body.toString()).toBe('data of undefined');
        expect(app.calls('/mine')).toBe(3);
      });
    });

    describe('request directives', () => {
      it('serves hits to no-store requests but stores nothing for them', async () => {
        const app = await start({ '/a': { handle: () => json('a') }, '/b': { handle: () => json('b') } });
        const missed = await app.get('/a', { 'cache-control': 'no-store' });
        expect(xCache(missed)).toBe('BYPASS');
        expect(xCache(await app.get('/a'))).toBe('MISS');
        await app.get('/b');
        expect(xCache(await app.get('/b', { 'cache-control': 'no-store' }))).toBe('HIT');
      });

      it('ignores a client no-cache by default and recomputes with honorNoCache', async () => {
        const routes = { '/a': { handle: () => json('a') } };
        const strict = await start(routes);
        await strict.get('/a');
        expect(xCache(await strict.get('/a', { 'cache-control': 'no-cache' }))).toBe('HIT');
        expect(xCache(await strict.get('/a', { pragma: 'no-cache' }))).toBe('HIT');
        expect(strict.calls('/a')).toBe(1);
        const honoring = await start(routes, { honorNoCache: true });
        await honoring.get('/a');
        expect(xCache(await honoring.get('/a', { 'cache-control': 'no-cache' }))).toBe('BYPASS');
        expect(xCache(await honoring.get('/a', { 'cache-control': 'max-age=0' }))).toBe('BYPASS');
        expect(xCache(await honoring.get('/a'))).toBe('HIT');
        expect(honoring.calls('/a')).toBe(3);
      });
    });

    describe('route options', () => {
      it('opts a route out', async () => {
        const app = await start({ '/live': { options: false, handle: () => json('live') } });
        await app.get('/live');
        const second = await app.get('/live');
        expect([xCache(second), app.calls('/live')]).toEqual(['BYPASS', 2]);
      });

      it('lets a route choose its own TTL', async () => {
        const app = await start(
          {
            // Long enough to outlast a round trip on a loaded machine; its expiry is polled, not slept.
            '/short': { options: { ttl: 1000 }, handle: () => json('s') },
            '/long': { handle: () => json('l') },
          },
          { ttl: '1m' },
        );
        await app.get('/short');
        await app.get('/long');
        expect(xCache(await app.get('/short'))).toBe('HIT');
        await expect.poll(async () => xCache(await app.get('/short')), { timeout: 10_000 }).toBe('MISS');
        expect(xCache(await app.get('/long'))).toBe('HIT');
      });

      it('keys with the route key function', async () => {
        const app = await start({
          '/report': {
            // utm parameters do not change the report
            options: { key: () => 'report' },
            handle: () => json('report'),
          },
        });
        await app.get('/report?utm_source=a');
        expect(xCache(await app.get('/report?utm_source=b'))).toBe('HIT');
        expect(app.calls('/report')).toBe(1);
      });

      it('invalidates a route with extra namespaces through any of them', async () => {
        const app = await start({
          '/summary': { options: { namespaces: ['charts'] }, handle: () => json('summary') },
          '/plain': { handle: () => json('plain') },
        });
        await app.get('/summary');
        await app.get('/plain');
        await app.cache.invalidate('charts');
        expect(xCache(await app.get('/summary'))).toBe('MISS');
        expect(xCache(await app.get('/plain'))).toBe('HIT');
        await app.cache.invalidate('items');
        expect(xCache(await app.get('/summary'))).toBe('MISS');
      });

      it('does not store what the handler bypasses, and reports MISS to the handler', async () => {
        const seen: string[] = [];
        const app = await start({
          '/maybe': {
            handle: (req) => {
              seen.push(req.cache.status, req.cache.namespaces.join(','));
              if (req.url.includes('skip')) req.cache.bypass();
              return json('maybe');
            },
          },
        });
        await app.get('/maybe?skip=1');
        expect(xCache(await app.get('/maybe?skip=1'))).toBe('BYPASS');
        expect(seen).toEqual(['MISS', 'items', 'MISS', 'items']);
      });
    });

    describe('invalidation', () => {
      it('serves the new body and ETag after req.cache.invalidate(), and 304s only an unchanged body', async () => {
        let version = 1;
        const app = await start({
          '/data': { handle: () => json({ version }) },
          'POST /data': {
            handle: async (req) => {
              if (!req.url.includes('same')) version++;
              await req.cache.invalidate();
              return { status: 204 };
            },
          },
        });
        const v1 = await app.get('/data');
        expect(xCache(await app.get('/data'))).toBe('HIT');
        expect((await app.post('/data')).status).toBe(204);
        const old = await app.get('/data', { 'if-none-match': v1.headers.etag! });
        expect([old.status, xCache(old), old.body.toString()]).toEqual([200, 'MISS', '{"version":2}']);
        expect(old.headers.etag).not.toBe(v1.headers.etag);
        await app.post('/data?same=1');
        const unchanged = await app.get('/data', { 'if-none-match': old.headers.etag! });
        expect([unchanged.status, xCache(unchanged)]).toEqual([304, 'MISS']);
        expect([app.calls('/data'), app.calls('POST /data')]).toEqual([3, 2]);
      });

      it('invalidates after a successful mutation with invalidateOnMutation', async () => {
        let status = 200;
        const app = await start(
          {
            '/things': { handle: () => json('things') },
            'POST /things': { handle: () => ({ status, body: { kind: 'json', value: 'ok' } }) },
          },
          { invalidateOnMutation: true },
        );
        await app.get('/things');
        status = 422;
        await app.post('/things');
        expect(xCache(await app.get('/things'))).toBe('HIT');
        status = 201;
        await app.post('/things');
        expect(xCache(await app.get('/things'))).toBe('MISS');
      });
    });

    describe('bad input and bad handlers', () => {
      it('survives odd paths and query strings, and keys them apart', async () => {
        const app = await start({ '/odd': { handle: (req) => text(`odd ${req.url}`) } });
        const queries = ['?a=%zz', '?a=%ff%fe', '?&&=&a', '?a=1&a=2', '?a=2&a=1', `?${'x'.repeat(4000)}=1`];
        for (const query of queries) {
          const miss = await app.get(`/odd${query}`);
          const hit = await app.get(`/odd${query}`);
          expect([miss.status, hit.status, xCache(hit)], query).toEqual([200, 200, 'HIT']);
          expect(hit.body.toString(), query).toBe(`odd /odd${query}`);
        }
        for (const path of ['/%ff%fe', '/%', '/a%2', '//odd', '/odd/%E0%A4%A']) {
          const reply = await app.get(path);
          expect(reply.status, path).toBeGreaterThanOrEqual(200);
          expect(reply.status, path).toBeLessThan(500);
        }
        expect(app.calls('/odd')).toBe(queries.length);
      });

      it('answers a handler error with the framework’s error response, never stored', async () => {
        let fail = true;
        const app = await start({
          '/flaky': {
            handle: () => {
              if (fail) throw new Error('boom');
              return json('fine');
            },
          },
        });
        expect((await app.get('/flaky')).status).toBe(500);
        fail = false;
        const ok = await app.get('/flaky');
        expect([ok.status, xCache(ok), ok.body.toString()]).toEqual([200, 'MISS', '"fine"']);
      });

      it('lets a body over maxBodySize stream through uncached', async () => {
        const big = 'x'.repeat(3000);
        const app = await start(
          {
            '/big': { handle: () => ({ body: { kind: 'chunks', value: [big, big, big] } }) },
            '/bigjson': { handle: () => json({ big: big.repeat(2) }) },
          },
          { maxBodySize: 4096 },
        );
        for (const path of ['/big', '/bigjson']) {
          const first = await app.get(path);
          const second = await app.get(path);
          expect([first.status, xCache(first), xCache(second)], path).toEqual([200, 'BYPASS', 'BYPASS']);
          expect(second.body.equals(first.body), path).toBe(true);
          expect(app.calls(path), path).toBe(2);
        }
        expect((await app.get('/big')).body.toString()).toBe(big.repeat(3));
      });

      it('does not let a handler that never ends hold up other requests', async () => {
        let n = 0;
        const app = await start({
          '/hang': {
            // The second request must arrive while the first run is still awaited: a window a
            // loaded machine's round trip fits in.
            options: { handlerTimeout: 1_000 },
            handle: () => (++n === 1 ? new Promise<SpecResponse>(() => {}) : json('answered')),
          },
        });
        const hanging = app.get('/hang').catch(() => null);
        // The second request must find the first one's run under way, however late it started.
        await expect.poll(() => n, { timeout: 10_000, interval: 5 }).toBe(1);
        // Waits for the hung run up to handlerTimeout, then runs its own handler (not stored: an
        // unstorable fill belongs to its caller, and the others compute their own).
        const waiting = await app.get('/hang');
        expect([waiting.status, waiting.body.toString()]).toEqual([200, '"answered"']);
        expect(n).toBe(2);
        const next = await app.get('/hang');
        expect([xCache(next), next.body.toString()]).toEqual(['MISS', '"answered"']);
        expect(xCache(await app.get('/hang'))).toBe('HIT');
        expect(n).toBe(3);
        void hanging;
      });
    });

    if (backgroundRefresh) {
      describe('grace', () => {
        it('serves STALE past the TTL while one background run refreshes', async () => {
          let version = 1;
          const app = await start({
            '/g': { options: { ttl: 150, grace: '1m' }, handle: () => json({ version }) },
          });
          await app.get('/g');
          version = 2;
          await sleep(250);
          const stale = await app.get('/g');
          expect([xCache(stale), stale.body.toString()]).toEqual(['STALE', '{"version":1}']);
          expect(stale.headers.age).toMatch(/^\d+$/);
          // The refresh runs detached, as slowly as the machine makes it: stale reads meanwhile must
          // not start another run (the count below), and the next read after it landed is a HIT.
          let fresh = stale;
          for (const deadline = Date.now() + 5_000; xCache(fresh) === 'STALE' && Date.now() < deadline; ) {
            await sleep(20);
            fresh = await app.get('/g');
          }
          expect([xCache(fresh), fresh.body.toString()]).toEqual(['HIT', '{"version":2}']);
          expect(app.calls('/g')).toBe(2);
        });
      });

      describe('early refresh', () => {
        it('a HIT that draws an early refresh is answered at once, and one background run renews the entry', async () => {
          let version = 1;
          // A beta this large makes every hit draw a refresh: the count is exact, not a probability.
          const app = await start({
            '/e': { options: { ttl: '1m', earlyRefresh: 1e9 }, handle: () => json({ version }) },
          });
          expect(xCache(await app.get('/e'))).toBe('MISS');
          version = 2;
          const hit = await app.get('/e');
          expect([xCache(hit), hit.body.toString()]).toEqual(['HIT', '{"version":1}']);
          const deadline = Date.now() + 5_000;
          while (app.calls('/e') < 2 && Date.now() < deadline) await sleep(10);
          expect(app.calls('/e')).toBe(2);
          // The renewed entry is written after that run: until it lands, reads are HITs of v1.
          const before: string[] = [];
          let renewed = await app.get('/e');
          for (let tries = 0; renewed.body.toString() !== '{"version":2}' && tries < 250; tries++) {
            before.push(`${xCache(renewed)} ${renewed.body.toString()}`);
            await sleep(20);
            renewed = await app.get('/e');
          }
          expect([xCache(renewed), renewed.body.toString()]).toEqual(['HIT', '{"version":2}']);
          expect(before.filter((reply) => reply !== 'HIT {"version":1}')).toEqual([]);
        });
      });
    }

    describe('privacy by construction', () => {
      const perUser: SpecRouteOptions['perUser'] = (req) => req.headers.authorization?.replace('Bearer ', '');

      it('sends a per-user entry private even when the handler set public and s-maxage, and reports it', async () => {
        const events: unknown[] = [];
        const app = await start(
          {
            '/mine': {
              options: { perUser },
              handle: (req) =>
                text(`of ${req.headers.authorization}`, {
                  'cache-control': 'public, max-age=60, s-maxage=600',
                }),
            },
          },
          { onDebug: (event) => events.push(event) },
        );
        const miss = await app.get('/mine', { authorization: 'Bearer A' });
        const hit = await app.get('/mine', { authorization: 'Bearer A' });
        expect([xCache(miss), xCache(hit)]).toEqual(['MISS', 'HIT']);
        for (const reply of [miss, hit]) {
          expect(reply.headers['cache-control']).toBe('private, max-age=60');
          expect(reply.headers.vary).toBe('authorization, cookie');
        }
        expect(events).toEqual([
          {
            type: 'cache-control-privatised',
            status: 200,
            from: 'public, max-age=60, s-maxage=600',
            to: 'private, max-age=60',
          },
        ]);
      });

      it('names the credential headers in Vary on the anonymous response of a per-user route', async () => {
        const app = await start({
          '/mine': { options: { perUser }, handle: (req) => text(`of ${req.headers.authorization}`) },
        });
        const anonymous = await app.get('/mine');
        const again = await app.get('/mine');
        expect([xCache(anonymous), xCache(again)]).toEqual(['MISS', 'HIT']);
        for (const reply of [anonymous, again]) {
          expect(reply.headers['cache-control']).toBe('public, max-age=0, must-revalidate');
          expect(reply.headers.vary).toBe('authorization, cookie');
        }
        const notModified = await app.get('/mine', { 'if-none-match': anonymous.headers.etag! });
        expect([notModified.status, notModified.headers.vary]).toEqual([304, 'authorization, cookie']);
      });
    });

    describe('preconditions in the order of RFC 9110 §13.2.2', () => {
      const lastModified = 'Sun, 06 Nov 1994 08:49:37 GMT';

      it('answers 412 to a failed If-Match or If-Unmodified-Since from the entry, without running the handler', async () => {
        const app = await start({ '/doc': { handle: () => text('doc', { 'last-modified': lastModified }) } });
        const tag = (await app.get('/doc')).headers.etag!;
        const cases: [Headers, number][] = [
          [{ 'if-match': '"other"' }, 412],
          [{ 'if-match': `W/${tag}` }, 412],
          [{ 'if-match': `"a", ${tag}` }, 200],
          [{ 'if-match': '*' }, 200],
          [{ 'if-unmodified-since': 'Sat, 05 Nov 1994 08:49:37 GMT' }, 412],
          [{ 'if-unmodified-since': lastModified }, 200],
          [{ 'if-unmodified-since': 'not a date' }, 200],
          [{ 'if-match': tag, 'if-unmodified-since': 'Sat, 05 Nov 1994 08:49:37 GMT' }, 200],
          [{ 'if-match': '"other"', 'if-none-match': tag }, 412],
          [{ 'if-match': tag, 'if-none-match': tag }, 304],
        ];
        for (const [headers, status] of cases) {
          const reply = await app.get('/doc', headers);
          expect([reply.status, xCache(reply)], JSON.stringify(headers)).toEqual([status, 'HIT']);
          if (status === 412) {
            expect(reply.body.byteLength).toBe(0);
            expect([reply.headers.etag, reply.headers['content-length']]).toEqual([undefined, '0']);
            expect(reply.headers.date).toBeDefined();
          }
        }
        expect(app.calls('/doc')).toBe(1);
      });

      it('lets If-None-Match take precedence over If-Modified-Since', async () => {
        const app = await start({ '/doc': { handle: () => text('doc', { 'last-modified': lastModified }) } });
        const tag = (await app.get('/doc')).headers.etag!;
        const later = 'Mon, 07 Nov 1994 08:49:37 GMT';
        expect((await app.get('/doc', { 'if-modified-since': later })).status).toBe(304);
        expect(
          (await app.get('/doc', { 'if-none-match': '"other"', 'if-modified-since': later })).status,
        ).toBe(200);
        expect(
          (
            await app.get('/doc', {
              'if-none-match': tag,
              'if-modified-since': 'Sat, 05 Nov 1994 08:49:37 GMT',
            })
          ).status,
        ).toBe(304);
        expect(app.calls('/doc')).toBe(1);
      });

      it('answers a Range request on an entry with the full 200', async () => {
        const app = await start({ '/doc': { handle: () => text('0123456789') } });
        const tag = (await app.get('/doc')).headers.etag!;
        const ranged: Headers[] = [{ range: 'bytes=0-3' }, { range: 'bytes=0-3', 'if-range': tag }];
        for (const headers of ranged) {
          const reply = await app.get('/doc', headers);
          expect([reply.status, reply.body.toString(), reply.headers['content-range']]).toEqual([
            200,
            '0123456789',
            undefined,
          ]);
        }
      });
    });

    describe('content-codings stored once per fill (compress)', () => {
      const big = { rows: Array.from({ length: 300 }, (_, i) => ({ i, label: `row number ${i}` })) };

      async function compressing() {
        const calls: string[] = [];
        const app = await start(
          { '/big': { handle: () => json(big) }, '/small': { handle: () => json({ s: 1 }) } },
          {
            compress: {
              compressor: (body, coding) => {
                calls.push(coding);
                return zlibCompressor(body, coding);
              },
            },
          },
        );
        return { app, calls };
      }

      it('serves gzip, br and identity with distinct strong ETags and Vary: Accept-Encoding on each, compressing only at fill', async () => {
        const { app, calls } = await compressing();
        const identity = await app.raw('/big');
        expect(calls.sort()).toEqual(['br', 'gzip']);
        const gzip = await app.raw('/big', { 'accept-encoding': 'gzip' });
        const br = await app.raw('/big', { 'accept-encoding': 'gzip, deflate, br' });
        expect([identity, gzip, br].map((r) => r.headers['content-encoding'])).toEqual([
          undefined,
          'gzip',
          'br',
        ]);
        expect(gunzipSync(gzip.body).equals(identity.body)).toBe(true);
        expect(brotliDecompressSync(br.body).equals(identity.body)).toBe(true);
        expect(JSON.parse(identity.body.toString())).toEqual(big);
        for (const reply of [identity, gzip, br]) {
          expect(reply.headers.vary).toBe('accept-encoding');
          expect(reply.headers.etag).toMatch(/^"/);
          expect(reply.headers['content-length']).toBe(String(reply.body.byteLength));
        }
        expect(new Set([identity, gzip, br].map((r) => r.headers.etag)).size).toBe(3);
        for (let i = 0; i < 5; i++) await app.raw('/big', { 'accept-encoding': i % 2 ? 'gzip' : 'br' });
        expect(calls).toHaveLength(2);
        expect(app.calls('/big')).toBe(1);
        // 304 per variant: each coding's tag revalidates its own coding only.
        for (const [reply, accept] of [
          [identity, 'identity'],
          [gzip, 'gzip'],
          [br, 'br'],
        ] as const) {
          const same = await app.raw('/big', {
            'accept-encoding': accept,
            'if-none-match': reply.headers.etag!,
          });
          expect([same.status, same.headers.etag, same.headers.vary], accept).toEqual([
            304,
            reply.headers.etag,
            'accept-encoding',
          ]);
        }
        const crossed = await app.raw('/big', {
          'accept-encoding': 'gzip',
          'if-none-match': identity.headers.etag!,
        });
        expect([crossed.status, crossed.headers['content-encoding']]).toEqual([200, 'gzip']);
      });

      it('honours q-values: a coding at q=0 is never sent, * and identity;q=0 choose a coding', async () => {
        const { app } = await compressing();
        await app.raw('/big');
        const cases: [string, string | undefined][] = [
          ['br;q=0, gzip', 'gzip'],
          ['gzip;q=0', undefined],
          ['gzip;q=0.5, br;q=0.9', 'br'],
          ['identity;q=0, gzip', 'gzip'],
          ['*', 'br'],
          ['*;q=0, identity', undefined],
        ];
        for (const [accept, coding] of cases)
          expect(
            (await app.raw('/big', { 'accept-encoding': accept })).headers['content-encoding'],
            accept,
          ).toBe(coding);
      });

      it('leaves bodies under minSize in identity, without Vary', async () => {
        const { app, calls } = await compressing();
        await app.raw('/small', { 'accept-encoding': 'gzip' });
        const hit = await app.raw('/small', { 'accept-encoding': 'gzip' });
        expect([xCache(hit), hit.headers['content-encoding'], hit.headers.vary, calls.length]).toEqual([
          'HIT',
          undefined,
          undefined,
          0,
        ]);
      });
    });

    describe('bounded key space', () => {
      it('does not store the 404 of a path no route answers', async () => {
        const app = await start({ '/items': { handle: () => json(1) } });
        for (const path of ['/nowhere', '/nowhere?x=1', '/random-1']) {
          const first = await app.get(path);
          const second = await app.get(path);
          expect([first.status, second.status], path).toEqual([404, 404]);
          expect(xCache(second), path).not.toBe('HIT');
        }
      });

      it('keys only on allowed query parameters, sorted or not as configured', async () => {
        const app = await start({
          '/r': { options: { query: { allow: ['range', 'page'] } }, handle: (req) => text(`r ${req.url}`) },
          '/u': { options: { query: { sort: false } }, handle: (req) => text(`u ${req.url}`) },
        });
        expect(xCache(await app.get('/r?range=7d&utm_source=a'))).toBe('MISS');
        const hit = await app.get('/r?fbclid=zz&range=7d');
        expect([xCache(hit), hit.body.toString()]).toEqual(['HIT', 'r /r?range=7d&utm_source=a']);
        expect(xCache(await app.get('/r?range=30d'))).toBe('MISS');
        expect(xCache(await app.get('/r?page=2&range=7d'))).toBe('MISS');
        expect(xCache(await app.get('/r?range=7d&page=2'))).toBe('HIT');
        await app.get('/u?a=1&b=2');
        expect(xCache(await app.get('/u?b=2&a=1'))).toBe('MISS');
        expect(xCache(await app.get('/u?a=1&b=2'))).toBe('HIT');
      });
    });

    describe('options', () => {
      it('rejects bad options at setup with a TypeError naming the field', async () => {
        const cache = backend.createCache();
        cleanups.push(() => cache.close());
        const build = (options: Omit<SpecAppOptions, 'cache'>, routeOptions?: SpecRouteOptions) =>
          harness.build({
            namespaces: 'items',
            options: { cache, ...options },
            routes: [{ method: 'GET', path: '/', options: routeOptions, handle: () => json(1) }],
          });
        await expect(async () => build({ ttl: 'soon' as never })).rejects.toThrow(/ttl/);
        await expect(async () => build({ vary: ['bad header'] })).rejects.toThrow(/vary/);
        await expect(async () => build({ statuses: [206] })).rejects.toThrow(/statuses/);
        await expect(async () => build({ colour: 'red' } as never)).rejects.toThrow(/colour/);
        await expect(async () => build({}, { grace: -1 })).rejects.toThrow(/grace/);
        await expect(async () => build({}, { earlyRefresh: -1 })).rejects.toThrow(/earlyRefresh/);
        await expect(async () => build({}, { cache } as never)).rejects.toThrow(/cache/);
        await expect(async () =>
          build({}, { cacheControl: { visibility: 'shared' } } as never),
        ).rejects.toThrow(TypeError);
      });
    });

    if (backend.redis) {
      const redis = backend.redis;
      describe('Redis round trips', () => {
        it('answers a HIT and a 304 with one MGET and no other command', async () => {
          const app = await start({
            '/items': { handle: () => json({ one: 'round trip' }) },
            '/v': { options: { vary: ['accept-language'] }, handle: () => json('v') },
          });
          const miss = await app.get('/items');
          await app.get('/v', { 'accept-language': 'fr' });
          await app.get('/v', { 'accept-language': 'fr' });
          await settle(app.cache);
          expect(await commandDelta(redis, () => app.get('/items'))).toEqual({ mget: 1 });
          expect(
            await commandDelta(redis, () => app.get('/items', { 'if-none-match': miss.headers.etag! })),
          ).toEqual({ mget: 1 });
          expect(await commandDelta(redis, () => app.get('/v', { 'accept-language': 'fr' }))).toEqual({
            mget: 1,
          });
          expect(app.calls('/items')).toBe(1);
        });
      });
    }
  });
}
