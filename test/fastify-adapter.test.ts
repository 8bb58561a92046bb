import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, type VersionedCache, VersionedCacheTypeError } from '@versioned-cache/core';
import { versionedCache } from '@versioned-cache/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { expectFailsOpen, withFreezableRedis } from './support/frozen-redis.js';

const caches: VersionedCache[] = [];
const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});

/** A real server: hits are written to the socket, which inject() would not show as it is. */
async function client(app: FastifyInstance) {
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as { port: number };
  return supertest(`http://127.0.0.1:${address.port}`);
}

/** The body as bytes, whatever its type. */
function bytes(test: supertest.Test) {
  return test.buffer(true).parse((response, done) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => done(null, Buffer.concat(chunks)));
  });
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

describe('fastify adapter', () => {
  it('caches the routes of the scope it is registered in, not sibling scopes or the root', async () => {
    const { cache } = countedCache();
    const app = Fastify();
    const calls = { root: 0, api: 0, other: 0 };
    app.get('/items', async () => ({ at: 'root', n: ++calls.root }));
    app.register(
      async (api) => {
        await api.register(versionedCache, { namespace: 'api', cache });
        api.get('/items', async (request) => ({ at: 'api', n: ++calls.api, ns: request.cache.namespaces }));
      },
      { prefix: '/api' },
    );
    app.register(
      async (other) => {
        other.get('/items', async (request) => ({
          at: 'other',
          n: ++calls.other,
          decorated: request.cache !== undefined,
        }));
      },
      { prefix: '/other' },
    );
    const http = await client(app);
    for (let i = 0; i < 2; i++)
      for (const path of ['/items', '/api/items', '/other/items']) await http.get(path);
    const api = await http.get('/api/items');
    expect([api.headers['x-cache'], api.body]).toEqual(['HIT', { at: 'api', n: 1, ns: ['api'] }]);
    const other = await http.get('/other/items');
    expect([other.headers['x-cache'], other.body]).toEqual([
      undefined,
      { at: 'other', n: 3, decorated: false },
    ]);
    expect((await http.get('/items')).headers['x-cache']).toBeUndefined();
    expect(calls).toEqual({ root: 3, api: 1, other: 3 });
    // Not-found requests reach no route: not cached.
    const missing = await http.get('/api/nothing');
    expect([missing.status, missing.headers['x-cache']]).toEqual([404, undefined]);
  });

  it('lets a registration in a nested scope own its routes: its namespaces, one read per hit', async () => {
    const { cache, reads } = countedCache();
    const app = Fastify();
    await app.register(versionedCache, { namespace: 'global', cache });
    app.get('/home', async (request) => request.cache.namespaces);
    app.register(
      async (reports) => {
        await reports.register(versionedCache, { namespace: 'reports', cache });
        reports.get('/r', async (request) => request.cache.namespaces);
      },
      { prefix: '/reports' },
    );
    const http = await client(app);
    expect((await http.get('/reports/r')).body).toEqual(['reports']);
    expect((await http.get('/home')).body).toEqual(['global']);
    reads.length = 0;
    const hit = await http.get('/reports/r');
    expect([hit.headers['x-cache'], reads]).toEqual(['HIT', [2]]);
    await cache.invalidate('global');
    expect((await http.get('/reports/r')).headers['x-cache']).toBe('HIT');
    expect((await http.get('/home')).headers['x-cache']).toBe('MISS');
    await cache.invalidate('reports');
    expect((await http.get('/reports/r')).headers['x-cache']).toBe('MISS');
  });

  it('rejects bad plugin and route options at registration, naming the plugin and the field', async () => {
    const { cache } = countedCache();
    const cases: [(app: FastifyInstance) => void, RegExp][] = [
      [(app) => app.register(versionedCache, { namespace: 'items', cache, ttl: 'soon' as never }), /ttl/],
      [(app) => app.register(versionedCache, { namespace: '', cache }), /namespace/],
      [(app) => app.register(versionedCache, { namespace: 'items', cache, prefix: '/x' } as never), /prefix/],
      [
        (app) =>
          app.register(async (scope) => {
            await scope.register(versionedCache, { namespace: 'items', cache });
            scope.get('/x', { config: { cache: { grace: -1 } } }, async () => 'x');
          }),
        /grace/,
      ],
    ];
    for (const [setup, field] of cases) {
      const app = Fastify();
      setup(app);
      const error = await app.ready().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, String(field)).toBeInstanceOf(VersionedCacheTypeError);
      expect((error as Error).message, String(field)).toMatch(/^@versioned-cache\/fastify: /);
      expect((error as Error).message, String(field)).toMatch(field);
      await app.close();
    }
  });

  it('answers a hit in onRequest: no handler, preHandler or onSend; earlier headers kept; onResponse runs', async () => {
    const { cache } = countedCache();
    const app = Fastify();
    const ran = { handler: 0, preHandler: 0, onSend: 0, onResponse: 0 };
    app.addHook('onRequest', (_request, reply, done) => {
      reply.header('access-control-allow-origin', '*');
      done();
    });
    await app.register(versionedCache, { namespace: 'items', cache });
    app.addHook('preHandler', (_request, _reply, done) => {
      ran.preHandler++;
      done();
    });
    app.addHook('onSend', (_request, _reply, payload, done) => {
      ran.onSend++;
      done(null, payload);
    });
    const statuses: string[] = [];
    app.addHook('onResponse', (request, _reply, done) => {
      ran.onResponse++;
      statuses.push(request.cache.status);
      done();
    });
    app.get('/items', async () => {
      ran.handler++;
      return { items: [1, 2] };
    });
    const http = await client(app);
    const miss = await http.get('/items');
    const hit = await http.get('/items');
    const notModified = await http.get('/items').set('if-none-match', miss.headers.etag!);
    expect([miss.headers['x-cache'], hit.headers['x-cache'], notModified.status]).toEqual([
      'MISS',
      'HIT',
      304,
    ]);
    expect(hit.headers['access-control-allow-origin']).toBe('*');
    expect(hit.body).toEqual({ items: [1, 2] });
    expect(ran).toEqual({ handler: 1, preHandler: 1, onSend: 1, onResponse: 3 });
    expect(statuses).toEqual(['MISS', 'HIT', 'HIT']);
  });

  it('stores what the serializer produced for a response schema', async () => {
    const { cache } = countedCache();
    const app = Fastify();
    await app.register(versionedCache, { namespace: 'items', cache });
    let calls = 0;
    const schema = {
      response: { 200: { type: 'object', properties: { id: { type: 'integer' } } } },
    } as const;
    app.get('/one', { schema }, async () => ({ id: ++calls, secret: 'not in the schema' }));
    const http = await client(app);
    const miss = await http.get('/one');
    const hit = await http.get('/one');
    expect([miss.text, hit.text, hit.headers['x-cache'], hit.headers['content-type']]).toEqual([
      '{"id":1}',
      '{"id":1}',
      'HIT',
      'application/json; charset=utf-8',
    ]);
  });

  it('stores web streams and typed arrays as Fastify sends them', async () => {
    const { cache } = countedCache();
    const app = Fastify();
    await app.register(versionedCache, { namespace: 'items', cache });
    let calls = 0;
    app.get('/web', async (_request, reply) => {
      calls++;
      const chunks = ['a,b\n', '1,2\n'].map((text) => new TextEncoder().encode(text));
      return reply.type('text/csv').send(
        new ReadableStream({
          start(controller) {
            for (const chunk of chunks) controller.enqueue(chunk);
            controller.close();
          },
        }),
      );
    });
    app.get('/typed', async (_request, reply) => {
      calls++;
      return reply.type('application/octet-stream').send(new Uint16Array([1, 2, 258]));
    });
    const http = await client(app);
    for (const path of ['/web', '/typed']) {
      const miss = await bytes(http.get(path));
      const hit = await bytes(http.get(path));
      expect([miss.headers['x-cache'], hit.headers['x-cache']], path).toEqual(['MISS', 'HIT']);
      expect((hit.body as Buffer).equals(miss.body as Buffer), path).toBe(true);
    }
    expect((await bytes(http.get('/web'))).body.toString()).toBe('a,b\n1,2\n');
    expect((await bytes(http.get('/typed'))).body).toEqual(Buffer.from(new Uint16Array([1, 2, 258]).buffer));
    expect(calls).toBe(2);
  });

  it('refreshes a stale entry of a prefixed scope with one inject(), and ignores a forged refresh header', async () => {
    const { cache } = countedCache();
    const app = Fastify();
    let version = 1;
    let calls = 0;
    app.register(
      async (api) => {
        await api.register(versionedCache, { namespace: 'api', cache });
        api.get('/g', { config: { cache: { ttl: '1m', grace: '1m' } } }, async () => ({
          version,
          n: ++calls,
        }));
      },
      { prefix: '/api' },
    );
    const http = await client(app);
    await http.get('/api/g');
    // A client's own refresh header is not a refresh token: looked up and served as usual.
    const forged = await http.get('/api/g').set('x-versioned-cache-refresh', 'guess');
    expect([forged.headers['x-cache'], calls]).toEqual(['HIT', 1]);
    version = 2;
    // Stale by invalidation rather than by a short TTL, which a loaded machine could outlive twice.
    await cache.invalidate('api');
    const stale = await http.get('/api/g');
    expect([stale.headers['x-cache'], stale.body]).toEqual(['STALE', { version: 1, n: 1 }]);
    // The refresh lands when the machine lets it: stale reads meanwhile start no other run.
    await expect
      .poll(async () => (await http.get('/api/g')).headers['x-cache'], { timeout: 10_000 })
      .toBe('HIT');
    const fresh = await http.get('/api/g');
    expect([fresh.headers['x-cache'], fresh.body, calls]).toEqual(['HIT', { version: 2, n: 2 }, 2]);
  });

  it('streams: fails a stream that breaks while buffered with Fastify’s 500; a late one goes out whole', async () => {
    const { cache } = countedCache();
    const app = Fastify();
    await app.register(versionedCache, { namespace: 'items', cache, handlerTimeout: 100 });
    let calls = 0;
    app.get('/broken', async (_request, reply) => {
      const n = ++calls;
      return reply.type('text/plain').send(
        Readable.from(
          (async function* () {
            yield 'partial';
            if (n === 1) throw new Error('disk gone');
            yield ' then whole';
          })(),
        ),
      );
    });
    app.get('/trickle', async (_request, reply) =>
      reply.type('text/plain').send(
        Readable.from(
          (async function* () {
            yield 'first,';
            await sleep(250);
            yield 'second';
          })(),
        ),
      ),
    );
    app.get('/late', async () => {
      await sleep(250);
      return 'late but whole';
    });
    const http = await client(app);
    expect((await http.get('/broken')).status).toBe(500);
    const ok = await http.get('/broken');
    expect([ok.status, ok.text, ok.headers['x-cache'], calls]).toEqual([
      200,
      'partial then whole',
      'MISS',
      2,
    ]);
    for (const [path, text] of [
      ['/trickle', 'first,second'],
      ['/late', 'late but whole'],
    ]) {
      const reply = await http.get(path!);
      expect([reply.status, reply.text, reply.headers['x-cache']], path).toEqual([200, text, 'BYPASS']);
    }
  });

  it('stops waiting for a handler that hijacks the reply, so requests joined to it run their own', async () => {
    const { cache } = countedCache();
    const app = Fastify();
    await app.register(versionedCache, { namespace: 'items', cache });
    let calls = 0;
    app.get('/raw', async (_request, reply) => {
      const n = ++calls;
      reply.hijack();
      await sleep(50);
      reply.raw.writeHead(200, { 'content-type': 'text/plain' });
      reply.raw.end(`raw ${n}`);
    });
    const http = await client(app);
    const replies = await Promise.all([http.get('/raw'), http.get('/raw')]);
    expect(replies.map((reply) => reply.text).sort()).toEqual(['raw 1', 'raw 2']);
    expect(calls).toBe(2);
  });

  it('fails open: with Redis frozen the handler answers, BYPASS, and the fault is reported', async () => {
    await withFreezableRedis(async ({ cache, ...fault }) => {
      const app = Fastify();
      let calls = 0;
      await app.register(versionedCache, { namespace: 'items', cache });
      app.get('/items', async () => ({ calls: ++calls }));
      const http = await client(app);
      await expectFailsOpen(() => http.get('/items').timeout(20_000), fault);
    });
  });
});
