import Router from '@koa/router';
import type { CacheStatus, Namespaces } from '@versioned-cache/core';
import {
  cacheRoute,
  type KoaRouteOptions,
  noCache,
  type RequestCache,
  versionedCache,
} from '@versioned-cache/koa';
import Koa, { type Context, type DefaultState, type Middleware, type ParameterizedContext } from 'koa';
import { describe, expectTypeOf, it } from 'vitest';

describe('koa types', () => {
  it('types ctx.cache on every context without a cast', () => {
    expectTypeOf<Context['cache']>().toEqualTypeOf<RequestCache>();
    // Also on contexts with their own state and context types (ExtendableContext is in every one).
    expectTypeOf<
      ParameterizedContext<{ user: string }, { db: string }>['cache']
    >().toEqualTypeOf<RequestCache>();
    const app = new Koa<{ user: string }>();
    app.use(async (ctx, next) => {
      expectTypeOf(ctx.cache.status).toEqualTypeOf<CacheStatus>();
      expectTypeOf(ctx.cache.namespaces).toEqualTypeOf<readonly string[]>();
      expectTypeOf(ctx.cache.invalidate).parameter(0).toEqualTypeOf<Namespaces | undefined>();
      expectTypeOf(ctx.cache.invalidate).returns.toEqualTypeOf<Promise<void>>();
      expectTypeOf(ctx.cache.bypass).returns.toEqualTypeOf<void>();
      expectTypeOf(ctx.state.user).toEqualTypeOf<string>();
      await next();
    });
    const router = new Router();
    router.get('/x', (ctx) => {
      expectTypeOf(ctx.cache).toEqualTypeOf<RequestCache>();
      expectTypeOf(ctx.params).toEqualTypeOf<Record<string, string>>();
    });
  });

  it('type-checks cacheRoute and versionedCache options', () => {
    expectTypeOf(versionedCache).returns.toEqualTypeOf<Middleware>();
    expectTypeOf(noCache()).toEqualTypeOf<Middleware>();
    // Declared, never run: the checks are the compiler's.
    const declarations = (cache: Parameters<typeof versionedCache>[1]['cache']) => {
      const app = new Koa();
      const router = new Router();
      app.use(versionedCache('reports', { cache, ttl: '10m', key: (ctx) => ctx.path }));
      router.get(
        '/reports/:id',
        cacheRoute({
          ttl: '1m',
          vary: ['accept-language'],
          cacheControl: { maxAge: '10s', visibility: 'public' },
        }),
        (ctx) => {
          ctx.body = ctx.params.id;
        },
      );
      router.get('/u', cacheRoute({ perUser: (ctx) => ctx.get('x-user-id') }));
      // The key functions get the route's context: name its shape to type what the router adds.
      router.get(
        '/r/:id',
        cacheRoute<DefaultState, { params: Record<string, string> }>({
          key: (ctx) => {
            expectTypeOf(ctx.params).toEqualTypeOf<Record<string, string>>();
            expectTypeOf(ctx.cache).toEqualTypeOf<RequestCache>();
            return `report:${ctx.params.id}`;
          },
        }),
      );
      router.get('/live', cacheRoute(false), noCache());
      const options: KoaRouteOptions = { namespaces: ['charts'], statuses: [200] };
      router.get('/c', cacheRoute(options));
      // @ts-expect-error ttl is a Duration: a number or '30s'
      cacheRoute({ ttl: 'soon' });
      // @ts-expect-error unknown option
      cacheRoute({ colour: 'red' });
      // @ts-expect-error vary lists header names
      cacheRoute({ vary: 'accept-language' });
      // @ts-expect-error visibility is public or private
      cacheRoute({ cacheControl: { visibility: 'shared' } });
      // @ts-expect-error the key function returns a string
      cacheRoute({ key: () => 42 });
      // @ts-expect-error true is not an opt-out
      cacheRoute(true);
      // @ts-expect-error cache is an app option, not a route option
      cacheRoute({ cache });
      // @ts-expect-error versionedCache needs the cache
      versionedCache('items', { ttl: '1m' });
      // @ts-expect-error namespaces are strings
      versionedCache(42, { cache });
    };
    expectTypeOf(declarations).toBeFunction();
  });
});
