// Fastify: `app.register(versionedCache, ...)` without `await`. Routes declared right after it (before
// the plugin has loaded, so before its onRoute hook exists) are cached all the same, and scopes keep
// their meaning: the routes of the registering scope and its children, never the parent's or a
// sibling's; a registration in a nested scope owns that scope's routes.
import { createCache, type VersionedCache } from '@versioned-cache/core';
import { versionedCache, warmRoutes } from '@versioned-cache/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import supertest from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';

const caches: VersionedCache[] = [];
const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});

function memoryCache(): VersionedCache {
  const cache = createCache({ jitter: 0 });
  caches.push(cache);
  return cache;
}

async function client(app: FastifyInstance) {
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return supertest(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
}

describe('fastify: register() not awaited', () => {
  it('caches the routes declared right after it', async () => {
    const cache = memoryCache();
    const app = Fastify();
    let runs = 0;
    app.register(versionedCache, { namespace: 'items', cache });
    app.get('/items', async (request) => ({ runs: ++runs, ns: request.cache.namespaces }));
    const http = await client(app);
    const first = await http.get('/items');
    const second = await http.get('/items');
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect(second.body).toEqual({ runs: 1, ns: ['items'] });
    expect(runs).toBe(1);
  });

  it('keeps scopes: its scope and the scopes created in it; not the parent, a sibling, or not-found', async () => {
    const cache = memoryCache();
    const app = Fastify();
    const runs: Record<string, number> = {};
    const handler = (name: string) => async () => {
      runs[name] = (runs[name] ?? 0) + 1;
      return { name, runs: runs[name] };
    };
    app.get('/root', handler('root'));
    app.register(
      async (api) => {
        api.register(versionedCache, { namespace: 'api', cache });
        api.get('/items', handler('items'));
        api.register(async (child) => {
          child.get('/child', handler('child'));
        });
      },
      { prefix: '/api' },
    );
    app.register(
      async (other) => {
        other.get('/sibling', handler('sibling'));
      },
      { prefix: '/other' },
    );
    const http = await client(app);
    const twice = async (path: string) => {
      await http.get(path);
      return (await http.get(path)).headers['x-cache'];
    };
    expect(await twice('/api/items')).toBe('HIT');
    expect(await twice('/api/child')).toBe('HIT');
    expect(await twice('/root')).toBeUndefined();
    expect(await twice('/other/sibling')).toBeUndefined();
    expect(runs).toEqual({ items: 1, child: 1, root: 2, sibling: 2 });
    const missing = await http.get('/api/nothing');
    expect([missing.status, missing.headers['x-cache']]).toEqual([404, undefined]);
  });

  it('lets a registration in a nested scope own that scope’s routes, both not awaited', async () => {
    const cache = memoryCache();
    const app = Fastify();
    app.register(versionedCache, { namespace: 'global', cache });
    app.get('/home', async (request) => request.cache.namespaces);
    app.register(
      async (reports) => {
        reports.register(versionedCache, { namespace: 'reports', cache });
        reports.get('/r', async (request) => request.cache.namespaces);
      },
      { prefix: '/reports' },
    );
    const http = await client(app);
    expect((await http.get('/reports/r')).body).toEqual(['reports']);
    expect((await http.get('/home')).body).toEqual(['global']);
    await cache.invalidate('global');
    expect((await http.get('/reports/r')).headers['x-cache']).toBe('HIT');
    expect((await http.get('/home')).headers['x-cache']).toBe('MISS');
    await cache.invalidate('reports');
    expect((await http.get('/reports/r')).headers['x-cache']).toBe('MISS');
  });

  it('applies config.cache of routes declared before it loaded; a bad one fails their requests, naming the field', async () => {
    const cache = memoryCache();
    const app = Fastify();
    app.register(versionedCache, { namespace: 'items', cache });
    app.get('/live', { config: { cache: false } }, async () => 'live');
    app.get('/bad', { config: { cache: { ttl: 'soon' as never } } }, async () => 'bad');
    const http = await client(app);
    await http.get('/live');
    expect((await http.get('/live')).headers['x-cache']).toBe('BYPASS');
    const bad = await http.get('/bad');
    expect(bad.status).toBe(500);
    expect(bad.body.message).toMatch(/^@versioned-cache\/fastify: .*ttl/);
  });

  it('warmRoutes() needs the plugin registered in that scope or a parent', async () => {
    const cache = memoryCache();
    const app = Fastify();
    const options = { paths: ['/items'], headers: { host: 'example.com' } };
    app.register(versionedCache, { namespace: 'items', cache });
    // Not loaded yet: there is no policy to warm with.
    expect(() => warmRoutes(app, options)).toThrow(expect.objectContaining({ field: 'instance' }));
    await app.ready();
    apps.push(app);
    expect(typeof warmRoutes(app, options)).toBe('function');
  });
});
