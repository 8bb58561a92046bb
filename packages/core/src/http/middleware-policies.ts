import { VersionedCacheTypeError } from '../errors.js';
import type { HttpCache } from './http-cache.js';
import { enterMiddleware, type MiddlewareStep } from './middleware-entry.js';
import { Replays } from './replays.js';
import type { RequestCacheState } from './request-cache.js';
import type { Replay, WarmRoutesOptions } from './route-warmer.js';

/** `warmRoutes(app, options)` of a middleware adapter: the shared options, and which middleware. */
export interface MiddlewareWarmOptions<Req, Middleware> extends WarmRoutesOptions<Req> {
  /**
   * The `versionedCache()` middleware the routes are behind.
   * @default the only `versionedCache()` middleware `app.use()`d on `app` itself
   */
  cache?: Middleware;
}

/**
 * Which `HttpCache` each caching middleware an adapter created stands for, so that `warmRoutes(app)`
 * can find the one an app uses without the user passing it.
 */
export class MiddlewarePolicies<Req> {
  private readonly byMiddleware = new WeakMap<object, HttpCache<Req>>();
  /** The adapter's refreshes and warms. */
  readonly replays = new Replays<Req>();

  /** `enterMiddleware()` with this adapter's replays. */
  enter(
    app: HttpCache<Req>,
    holder: object,
    request: { method: string; url: string; headers: Record<string, unknown> },
    native: Req,
  ): { state: RequestCacheState<Req>; step: MiddlewareStep } {
    return enterMiddleware(app, holder, request, native, this.replays);
  }

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
    options: MiddlewareWarmOptions<Req, object>,
    used: Iterable<unknown>,
    replay: Replay<Req>,
  ): () => void {
    const { cache, ...rest } = options ?? {};
    return this.resolve(cache, used).warmRoutes(rest, replay, ['cache']);
  }
}
