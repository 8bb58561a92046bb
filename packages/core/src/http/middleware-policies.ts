import { VersionedCacheTypeError } from '../errors.js';
import type { HttpCache } from './http-cache.js';
import type { Replay, WarmRoutesOptions } from './route-warmer.js';

/**
 * Which `HttpCache` each caching middleware an adapter created stands for, so that `warmRoutes(app)`
 * can find the one an app uses without the user passing it.
 */
export class MiddlewarePolicies<Req> {
  private readonly byMiddleware = new WeakMap<object, HttpCache<Req>>();

  register(middleware: object, http: HttpCache<Req>): void {
    this.byMiddleware.set(middleware, http);
  }

  /** The policy of `explicit` when given, else of the single caching middleware among `used`. */
  resolve(explicit: object | undefined, used: Iterable<unknown>): HttpCache<Req> {
    if (explicit !== undefined) {
      const http = this.byMiddleware.get(explicit);
      if (!http) throw new VersionedCacheTypeError('cache', 'must be a middleware versionedCache() returned');
      return http;
    }
    const found: HttpCache<Req>[] = [];
    for (const fn of used) {
      const http = typeof fn === 'function' ? this.byMiddleware.get(fn) : undefined;
      if (http) found.push(http);
    }
    if (found.length !== 1)
      throw new VersionedCacheTypeError(
        'cache',
        `app uses ${found.length} versionedCache() middlewares: pass the one the routes are behind`,
      );
    return found[0]!;
  }

  /**
   * An app's `warmRoutes()`: the policy of `options.cache` (a middleware), else of the single caching
   * middleware among `used` (the app's middleware stack), warms `options.paths` through `replay`.
   */
  warmRoutes(
    options: WarmRoutesOptions<Req> & { cache?: object },
    used: Iterable<unknown>,
    replay: Replay<Req>,
  ): () => void {
    const { cache, ...rest } = options ?? {};
    return this.resolve(cache, used).warmRoutes(rest, replay, ['cache']);
  }
}
