import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import fastifyCompress from '@fastify/compress';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import { versionedCache as expressCache } from '@versioned-cache/express';
import { versionedCache as fastifyCache } from '@versioned-cache/fastify';
import { versionedCache as koaCache } from '@versioned-cache/koa';
import compression from 'compression';
import express from 'express';
import Fastify from 'fastify';
import CachePolicy from 'http-cache-semantics';
import Koa from 'koa';
import koaCompress from 'koa-compress';
import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expressHarness as expressHarnessOf } from './spec/express-harness.js';
import { fastifyHarness } from './spec/fastify-harness.js';
import type { AdapterHarness, SpecRoute } from './spec/harness.js';
import { koaHarness as koaHarnessOf } from './spec/koa-harness.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

const expressHarness = expressHarnessOf('express', express);
const koaHarness = koaHarnessOf('koa', Koa);

// Real HTTP caches and compressors in front of every adapter, on both stores: undici's cache
// interceptor (shared and private), http-cache-semantics' verdict on each response type, a
// randomised multi-user run, and each framework's usual compressor stacked in front of the cache.

let redis: RedisServer;
let prefixes = 0;
const cleanups: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Running {
  url: string;
  cache: VersionedCache;
  runs: Map<string, number>;
  /** Statuses the server sent, in order. */
  statuses: number[];
}

const user = (headers: Record<string, string | string[] | undefined>): string | undefined => {
  const auth = headers.authorization;
  if (typeof auth === 'string') return auth.replace('Bearer ', '');
  const cookie = headers.cookie;
  return typeof cookie === 'string' ? /sid=([^;]+)/.exec(cookie)?.[1] : undefined;
};

async function listen(server: Server, cache: VersionedCache): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await cache.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startApp(harness: AdapterHarness, store: string): Promise<Running> {
  const cache =
    store === 'redis' ? createCache({ redis: redis.url, prefix: `rc${++prefixes}` }) : createCache();
  const runs = new Map<string, number>();
  let version = 1;
  const count = (path: string) => runs.set(path, (runs.get(path) ?? 0) + 1);
  const routes: SpecRoute[] = [
    {
      method: 'GET',
      path: '/public',
      handle: () => {
        count('/public');
        return { body: { kind: 'json', value: { version } } };
      },
    },
    {
      method: 'POST',
      path: '/bump',
      handle: async (req) => {
        version++;
        await req.cache.invalidate();
        return { status: 204 };
      },
    },
    ...['/mine', '/mine2'].map(
      (path): SpecRoute => ({
        method: 'GET',
        path,
        options: { perUser: (req) => user(req.headers) },
        handle: async (req) => {
          count(path);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
          // A handler that forgets the response is personal: the cache must make it private.
          return {
            headers: { 'cache-control': 'public, max-age=60' },
            body: { kind: 'json', value: { path, user: user(req.headers) ?? 'anonymous' } },
          };
        },
      }),
    ),
    {
      method: 'GET',
      path: '/login',
      handle: () => ({ headers: { 'set-cookie': 'sid=new' }, body: { kind: 'string', value: 'hello' } }),
    },
    { method: 'GET', path: '/error', handle: () => ({ status: 500, body: { kind: 'string', value: 'no' } }) },
  ];
  const server = await harness.build({ namespaces: 'rc', options: { cache }, routes });
  const statuses: number[] = [];
  server.on('request', (_req, res) => res.on('finish', () => statuses.push(res.statusCode)));
  return { url: await listen(server, cache), cache, runs, statuses };
}

async function get(
  dispatcher: Dispatcher,
  url: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'HEAD' = 'GET',
) {
  const res = await request(url, { dispatcher, headers, method });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers as Record<string, string>, body };
}

function policyOf(
  url: string,
  reqHeaders: Record<string, string>,
  res: { status: number; headers: Record<string, string> },
  shared: boolean,
  method = 'GET',
) {
  const path = new URL(url).pathname;
  return new CachePolicy({ url: path, method, headers: reqHeaders }, res, { shared });
}

describe.each([expressHarness, koaHarness, fastifyHarness])('$name', (harness) => {
  describe.each(['memory', 'redis'])('on %s', (store) => {
    it.each(['shared', 'private'] as const)(
      "behind undici's %s cache: reloads revalidate with 304 without a handler run, invalidation shows new content, users never cross",
      async (type) => {
        const app = await startApp(harness, store);
        const agent = new Agent();
        cleanups.push(() => agent.close());
        const client = agent.compose(interceptors.cache({ type }));
        const first = await get(client, `${app.url}/public`);
        expect(JSON.parse(first.body.toString())).toEqual({ version: 1 });
        for (let i = 0; i < 3; i++) {
          const reload = await get(client, `${app.url}/public`);
          expect([reload.status, reload.body.toString()]).toEqual([200, '{"version":1}']);
        }
        expect(app.runs.get('/public')).toBe(1);
        await request(`${app.url}/bump`, { method: 'POST', dispatcher: agent }).then((r) => r.body.dump());
        // Read once the next response is in: each 'finish' before it has been recorded. undici writes
        // its entry asynchronously, so the first reload may still go out unconditional (a HIT); the
        // later ones revalidate.
        expect(app.statuses.filter((s) => s === 304).length).toBeGreaterThanOrEqual(2);
        expect(app.statuses.slice(0, 4).every((s) => s === 200 || s === 304)).toBe(true);
        expect((await get(client, `${app.url}/public`)).body.toString()).toBe('{"version":2}');

        for (const who of ['A', 'B', 'A', 'B']) {
          const mine = await get(client, `${app.url}/mine`, { authorization: `Bearer ${who}` });
          expect(JSON.parse(mine.body.toString()).user).toBe(who);
          expect(mine.headers['cache-control']).toBe('private, max-age=60');
        }
        const anonymous = await get(client, `${app.url}/mine`);
        expect(JSON.parse(anonymous.body.toString()).user).toBe('anonymous');
        const afterAnonymous = await get(client, `${app.url}/mine`, { cookie: 'sid=C' });
        expect(JSON.parse(afterAnonymous.body.toString()).user).toBe('C');
      },
    );

    it('gets the verdicts of http-cache-semantics right for public, per-user, Set-Cookie, error, HEAD and 304', async () => {
      const app = await startApp(harness, store);
      const direct = new Agent();
      cleanups.push(() => direct.close());
      const url = `${app.url}/public`;
      const pub = await get(direct, url);
      for (const shared of [true, false]) {
        const policy = policyOf(url, {}, pub, shared);
        expect(policy.storable(), `public shared=${shared}`).toBe(true);
        // Revalidation: the 304 keeps the stored response valid and unmodified.
        const conditional = policy.revalidationHeaders({ url: '/public', method: 'GET', headers: {} });
        const notModified = await get(direct, url, conditional as Record<string, string>);
        expect(notModified.status).toBe(304);
        const revalidated = policy.revalidatedPolicy(
          { url: '/public', method: 'GET', headers: conditional },
          notModified,
        );
        expect(revalidated.modified).toBe(false);
      }
      const auth = { authorization: 'Bearer A' };
      const mine = await get(direct, `${app.url}/mine`, auth);
      expect(policyOf(`${app.url}/mine`, auth, mine, true).storable()).toBe(false);
      expect(policyOf(`${app.url}/mine`, auth, mine, false).storable()).toBe(true);
      const cookie = { cookie: 'sid=C' };
      const byCookie = await get(direct, `${app.url}/mine`, cookie);
      expect(policyOf(`${app.url}/mine`, cookie, byCookie, true).storable()).toBe(false);
      // The anonymous response is shared-cacheable, but never satisfies a request with credentials.
      const anonymous = await get(direct, `${app.url}/mine`);
      const anonymousPolicy = policyOf(`${app.url}/mine`, {}, anonymous, true);
      expect(anonymousPolicy.storable()).toBe(true);
      for (const credentials of [auth, cookie])
        expect(
          anonymousPolicy.satisfiesWithoutRevalidation({ url: '/mine', method: 'GET', headers: credentials }),
        ).toBe(false);
      const login = await get(direct, `${app.url}/login`);
      expect(login.headers['x-cache']).toBe('BYPASS');
      expect(login.headers['cache-control']).toBeUndefined();
      const error = await get(direct, `${app.url}/error`);
      expect(policyOf(`${app.url}/error`, {}, error, true).storable()).toBe(false);
      const head = await get(direct, url, {}, 'HEAD');
      expect([head.status, head.body.byteLength, head.headers.etag]).toEqual([200, 0, pub.headers.etag]);
      expect(policyOf(url, {}, head, true, 'HEAD').storable()).toBe(true);
    });

    it('gives no user another user’s body: random users × routes × credentials × concurrency, with and without a shared cache', async () => {
      const app = await startApp(harness, store);
      const agent = new Agent({ connections: 16 });
      cleanups.push(() => agent.close());
      const shared = agent.compose(interceptors.cache({ type: 'shared' }));
      let seed = 7;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      let crossed = 0;
      let checked = 0;
      for (let round = 0; round < 6; round++) {
        await Promise.all(
          Array.from({ length: 40 }, async () => {
            const who = `u${random(8)}`;
            const path = random(2) === 0 ? '/mine' : '/mine2';
            const kind = random(3);
            const headers: Record<string, string> =
              kind === 0 ? { authorization: `Bearer ${who}` } : kind === 1 ? { cookie: `sid=${who}` } : {};
            const reply = await get(random(2) === 0 ? shared : agent, `${app.url}${path}`, headers);
            const body = JSON.parse(reply.body.toString()) as { path: string; user: string };
            checked++;
            if (body.user !== (kind === 2 ? 'anonymous' : who) || body.path !== path) crossed++;
          }),
        );
      }
      expect([checked, crossed]).toEqual([240, 0]);
    });
  });
});

type Build = (options: { compress?: boolean; downstreamCompressor?: boolean }) => Promise<Running>;

const BIG = { rows: Array.from({ length: 200 }, (_, i) => ({ i, text: `row ${i} of the report` })) };

/** Each framework's usual compressor `app.use()`d or registered in front of the cache. */
const inFront: Record<string, Build> = {
  async express(options) {
    const cache = createCache();
    const runs = new Map<string, number>();
    const app = express();
    app.use(compression({ threshold: 0 }));
    app.use(expressCache('cmp', { cache, ...options }));
    app.get('/big', (_req, res) => {
      runs.set('/big', (runs.get('/big') ?? 0) + 1);
      res.json(BIG);
    });
    return { url: await listen(createServer(app), cache), cache, runs, statuses: [] };
  },
  async koa(options) {
    const cache = createCache();
    const runs = new Map<string, number>();
    const app = new Koa();
    app.use(koaCompress({ threshold: 0, br: {}, gzip: {}, deflate: {} }));
    app.use(koaCache('cmp', { cache, ...options }));
    app.use((ctx) => {
      runs.set('/big', (runs.get('/big') ?? 0) + 1);
      ctx.body = BIG;
    });
    return { url: await listen(createServer(app.callback()), cache), cache, runs, statuses: [] };
  },
  // The cache first in Koa's chain (nothing of Koa in front), the compressor around the whole app.
  async 'koa, compression around the app'(options) {
    const cache = createCache();
    const runs = new Map<string, number>();
    const app = new Koa();
    app.use(koaCache('cmp', { cache, ...options }));
    app.use((ctx) => {
      runs.set('/big', (runs.get('/big') ?? 0) + 1);
      ctx.body = BIG;
    });
    const handle = app.callback();
    const compress = compression({ threshold: 0 }) as unknown as (
      req: IncomingMessage,
      res: ServerResponse,
      next: () => void,
    ) => void;
    const server = createServer((req, res) => compress(req, res, () => void handle(req, res)));
    return { url: await listen(server, cache), cache, runs, statuses: [] };
  },
  async fastify(options) {
    const cache = createCache();
    const runs = new Map<string, number>();
    const app = Fastify();
    await app.register(fastifyCompress, { threshold: 0 });
    await app.register(fastifyCache, { namespace: 'cmp', cache, ...options });
    app.get('/big', async () => {
      runs.set('/big', (runs.get('/big') ?? 0) + 1);
      return BIG;
    });
    await app.ready();
    return { url: await listen(app.server, cache), cache, runs, statuses: [] };
  },
};

describe.each(Object.keys(inFront))('%s with its compressor in front of the cache', (name) => {
  it.each([{}, { downstreamCompressor: true }, { downstreamCompressor: true, compress: true }])(
    'no strong ETag is shared by two codings, and every coding revalidates with 304 (%o)',
    async (options) => {
      const app = await inFront[name]!(options);
      const agent = new Agent();
      cleanups.push(() => agent.close());
      const seen = new Map<string, Set<string>>();
      const tags: [string, string][] = [];
      for (let pass = 0; pass < 2; pass++)
        for (const accept of ['identity', 'gzip', 'br', 'deflate', 'gzip, deflate, br']) {
          const res = await get(agent, `${app.url}/big`, { 'accept-encoding': accept });
          expect(res.status).toBe(200);
          const coding = res.headers['content-encoding'] ?? 'identity';
          const etag = res.headers.etag!;
          expect(etag, accept).toBeDefined();
          // @fastify/compress names Accept-Encoding only on what it encodes; downstreamCompressor always.
          if (coding !== 'identity' || options.downstreamCompressor)
            expect(res.headers.vary?.toLowerCase(), accept).toContain('accept-encoding');
          if (!etag.startsWith('W/')) seen.set(etag, (seen.get(etag) ?? new Set()).add(coding));
          tags.push([accept, etag]);
        }
      for (const [etag, codings] of seen)
        expect([etag, [...codings]]).toEqual([etag, [...codings].slice(0, 1)]);
      for (const [accept, etag] of tags) {
        const again = await get(agent, `${app.url}/big`, {
          'accept-encoding': accept,
          'if-none-match': etag,
        });
        // With downstreamCompressor the 304 carries the tag the client holds (weak for a copy the
        // compressor encoded); without, the tag a 200 would carry before the compressor sees it.
        const expected = options.downstreamCompressor ? etag : etag.replace(/^W\//, '');
        expect([accept, again.status, again.headers.etag]).toEqual([accept, 304, expected]);
      }
      expect(app.runs.get('/big')).toBe(1);
    },
  );
});

/**
 * Each framework's usual compressor behind the cache, so that the cache captures compressed bytes;
 * the route varies on Accept-Encoding, so each Accept-Encoding value has its own entry. Fastify runs
 * route-level onSend hooks (where `@fastify/compress` compresses) after the plugin's, so there the
 * handler compresses itself with `reply.compress()`.
 */
const behind: Record<string, Build> = {
  async express() {
    const cache = createCache();
    const runs = new Map<string, number>();
    const app = express();
    app.use(expressCache('cmp', { cache, vary: ['accept-encoding'] }));
    app.use(compression({ threshold: 0 }));
    app.get('/big', (_req, res) => {
      runs.set('/big', (runs.get('/big') ?? 0) + 1);
      res.json(BIG);
    });
    return { url: await listen(createServer(app), cache), cache, runs, statuses: [] };
  },
  async koa() {
    const cache = createCache();
    const runs = new Map<string, number>();
    const app = new Koa();
    app.use(koaCache('cmp', { cache, vary: ['accept-encoding'] }));
    app.use(koaCompress({ threshold: 0, br: {}, gzip: {}, deflate: {} }));
    app.use((ctx) => {
      runs.set('/big', (runs.get('/big') ?? 0) + 1);
      ctx.body = BIG;
    });
    return { url: await listen(createServer(app.callback()), cache), cache, runs, statuses: [] };
  },
  async fastify() {
    const cache = createCache();
    const runs = new Map<string, number>();
    const app = Fastify();
    await app.register(fastifyCompress, { threshold: 0, global: false });
    await app.register(fastifyCache, { namespace: 'cmp', cache, vary: ['accept-encoding'] });
    app.get('/big', (_request, reply) => {
      runs.set('/big', (runs.get('/big') ?? 0) + 1);
      reply.type('application/json').compress(JSON.stringify(BIG));
    });
    await app.ready();
    return { url: await listen(app.server, cache), cache, runs, statuses: [] };
  },
};

const ACCEPTS = ['identity', 'gzip', 'br', 'deflate', 'gzip, deflate, br'];

describe.each(Object.keys(behind))('%s with its compressor behind the cache', (name) => {
  it('stores each coding under its own strong validator: no strong ETag shared by two codings, hits, and 304 for every coding', async () => {
    const app = await behind[name]!({});
    const agent = new Agent();
    cleanups.push(() => agent.close());
    const codings = new Map<string, Set<string>>();
    const tags: [string, string][] = [];
    for (let pass = 0; pass < 2; pass++)
      for (const accept of ACCEPTS) {
        const res = await get(agent, `${app.url}/big`, { 'accept-encoding': accept });
        const coding = res.headers['content-encoding'] ?? 'identity';
        expect([accept, res.status, res.headers['x-cache']]).toEqual([accept, 200, pass ? 'HIT' : 'MISS']);
        expect(JSON.parse(decode(res.body, coding).toString())).toEqual(BIG);
        expect(res.headers.vary?.toLowerCase(), accept).toContain('accept-encoding');
        expect(res.headers['content-length'], accept).toBe(String(res.body.byteLength));
        const etag = res.headers.etag!;
        expect(etag, accept).toMatch(/^"/);
        codings.set(etag, (codings.get(etag) ?? new Set()).add(coding));
        tags.push([accept, etag]);
      }
    // The compressor applied br, gzip and deflate, and each strong tag names one coding only.
    expect(new Set([...codings.values()].flatMap((set) => [...set]))).toEqual(
      new Set(['identity', 'gzip', 'br', 'deflate']),
    );
    for (const [etag, set] of codings) expect([etag, [...set]]).toEqual([etag, [...set].slice(0, 1)]);
    for (const [accept, etag] of tags) {
      const again = await get(agent, `${app.url}/big`, { 'accept-encoding': accept, 'if-none-match': etag });
      expect([accept, again.status, again.headers.etag, again.body.byteLength]).toEqual([
        accept,
        304,
        etag,
        0,
      ]);
    }
    expect(app.runs.get('/big')).toBe(ACCEPTS.length);
  });
});

function decode(body: Buffer, coding: string): Buffer {
  if (coding === 'gzip') return gunzipSync(body);
  if (coding === 'br') return brotliDecompressSync(body);
  if (coding === 'deflate') return inflateSync(body);
  return body;
}
