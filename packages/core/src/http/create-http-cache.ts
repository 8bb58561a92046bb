import type { Namespaces, VersionedCache } from '../cache.js';
import { VersionedCacheTypeError } from '../errors.js';
import { HttpCache } from './http-cache.js';
import type { HttpCacheOptions, HttpRequest, RouteCacheOptions } from './options.js';
import { HTTP_OPTION_NAMES } from './options.js';
import { resolveDebug } from './representation-options.js';
import { defaultPolicy, mergeRouteOptions } from './route-policy.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Creates the HTTP caching policy for `namespaces`. Every option is validated here; a mistake is a
 * `VersionedCacheTypeError` naming the field.
 */
export function createHttpCache<Req = HttpRequest>(
  namespaces: Namespaces,
  options: HttpCacheOptions<Req>,
): HttpCache<Req> {
  if (typeof options !== 'object' || options === null)
    throw new VersionedCacheTypeError('options', 'must be an object with at least `cache`');
  const { cache, cacheStatusHeader = 'X-Cache', onDebug, ...route } = options;
  if (
    typeof cache !== 'object' ||
    cache === null ||
    typeof (cache as Partial<VersionedCache>).fetch !== 'function'
  ) {
    throw new VersionedCacheTypeError('cache', 'must be the cache createCache() returned');
  }
  if (
    cacheStatusHeader !== false &&
    (typeof cacheStatusHeader !== 'string' || !HEADER_NAME.test(cacheStatusHeader))
  )
    throw new VersionedCacheTypeError('cacheStatusHeader', 'must be a header name or false');
  const policy = mergeRouteOptions(defaultPolicy<Req>(namespaces), route, HTTP_OPTION_NAMES);
  policy.onDebug = resolveDebug(onDebug);
  return new HttpCache(cache, cacheStatusHeader === false ? null : cacheStatusHeader.toLowerCase(), policy);
}

/** Validates route options without an app policy (adapters call it when a route is declared). */
export function assertRouteOptions(options: unknown): void {
  if (options === false) return;
  mergeRouteOptions(defaultPolicy('route'), options as RouteCacheOptions<unknown>);
}
