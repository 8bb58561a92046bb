import type { CacheStatus, Namespaces, VersionedCache } from '@versioned-cache/core';
import {
  type FastifyCacheOptions,
  type FastifyRouteCacheOptions,
  type RequestCache,
  versionedCache,
} from '@versioned-cache/fastify';
import Fastify, { type FastifyRequest, type RouteHandlerMethod } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';

describe('fastify types', () => {
  it('types request.cache without a cast', () => {
    expectTypeOf<FastifyRequest['cache']>().toEqualTypeOf<RequestCache>();
    const handler: RouteHandlerMethod = async (request) => {
      expectTypeOf(request.cache.status).toEqualTypeOf<CacheStatus>();
      expectTypeOf(request.cache.namespaces).toEqualTypeOf<readonly string[]>();
      expectTypeOf(request.cache.invalidate).parameter(0).toEqualTypeOf<Namespaces | undefined>();
      expectTypeOf(request.cache.invalidate).returns.toEqualTypeOf<Promise<void>>();
      expectTypeOf(request.cache.bypass).returns.toEqualTypeOf<void>();
      expectTypeOf(request.routeOptions.config.cache).toEqualTypeOf<
        FastifyRouteCacheOptions | false | undefined
      >();
    };
    expectTypeOf(handler).toBeFunction();
  });

  it('type-checks the plugin options and each route’s config.cache', () => {
    // Declared, never run: the checks are the compiler's.
    const declarations = async (cache: VersionedCache) => {
      const app = Fastify();
      await app.register(versionedCache, { namespace: 'reports', cache, ttl: '10m' });
      await app.register(versionedCache, {
        namespace: ['a', 'b'],
        cache,
        perUser: (request) => request.headers['x-user'] as string,
      });
      const options: FastifyCacheOptions = { namespace: 'x', cache, cacheStatusHeader: false };
      expectTypeOf(options.key).toEqualTypeOf<((request: FastifyRequest) => string) | undefined>();
      app.get('/a', { config: { cache: { ttl: '1m', vary: ['accept-language'] } } }, async () => 'a');
      app.get('/b', { config: { cache: false } }, async () => 'b');
      app.get<{ Params: { id: string } }>(
        '/r/:id',
        { config: { cache: { key: (request) => `report:${request.url}`, cacheControl: { maxAge: '10s' } } } },
        async (request) => request.params.id,
      );
      // @ts-expect-error ttl is a Duration: a number or '30s'
      app.get('/x', { config: { cache: { ttl: 'soon' } } }, async () => 'x');
      // @ts-expect-error visibility is public or private
      app.get('/x', { config: { cache: { cacheControl: { visibility: 'shared' } } } }, async () => 'x');
      // @ts-expect-error the key function returns a string
      app.get('/x', { config: { cache: { key: () => 42 } } }, async () => 'x');
      // @ts-expect-error vary lists header names
      app.get('/x', { config: { cache: { vary: 'accept-language' } } }, async () => 'x');
      // Fastify infers a route's config type from the literal (custom keys are allowed), which lets
      // unknown keys through; with the route's generics given, config is checked exactly.
      type Route = { Params: { id: string } };
      // @ts-expect-error unknown option
      app.get<Route>('/x', { config: { cache: { colour: 'red' } } }, async () => 'x');
      // @ts-expect-error true is not an opt-out
      app.get<Route>('/x', { config: { cache: true } }, async () => 'x');
      // @ts-expect-error cache is a plugin option, not a route option
      app.get<Route>('/x', { config: { cache: { cache } } }, async () => 'x');
      // @ts-expect-error the plugin needs a namespace
      await app.register(versionedCache, { cache });
      // @ts-expect-error the plugin needs the cache
      await app.register(versionedCache, { namespace: 'items' });
      // @ts-expect-error the key function returns a string
      await app.register(versionedCache, { namespace: 'items', cache, key: () => 42 });
    };
    expectTypeOf(declarations).toBeFunction();
  });
});
