import type { CacheStatus, Namespaces } from '@versioned-cache/core';
import { cacheRoute, type RequestCache, versionedCache } from '@versioned-cache/express';
import type { Request, RequestHandler } from 'express';
import { describe, expectTypeOf, it } from 'vitest';

describe('express types', () => {
  it('types req.cache on every request without a cast', () => {
    expectTypeOf<Request['cache']>().toEqualTypeOf<RequestCache>();
    const handler: RequestHandler = (req) => {
      expectTypeOf(req.cache.status).toEqualTypeOf<CacheStatus>();
      expectTypeOf(req.cache.namespaces).toEqualTypeOf<readonly string[]>();
      expectTypeOf(req.cache.invalidate).parameter(0).toEqualTypeOf<Namespaces | undefined>();
      expectTypeOf(req.cache.invalidate).returns.toEqualTypeOf<Promise<void>>();
      expectTypeOf(req.cache.bypass).returns.toEqualTypeOf<void>();
    };
    expectTypeOf(handler).toBeFunction();
  });

  it('type-checks cacheRoute and versionedCache options', () => {
    expectTypeOf(cacheRoute).returns.toEqualTypeOf<RequestHandler>();
    // Declared, never run: the checks are the compiler's.
    const declarations = () => {
      cacheRoute({
        ttl: '1m',
        vary: ['accept-language'],
        cacheControl: { maxAge: '10s', visibility: 'public' },
      });
      cacheRoute({ key: (req) => `report:${req.params.id}`, perUser: (req) => req.get('x-user-id') });
      cacheRoute(false);
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
      cacheRoute({ cache: undefined });
      // @ts-expect-error versionedCache needs the cache
      versionedCache('items', { ttl: '1m' });
    };
    expectTypeOf(declarations).toBeFunction();
  });
});
