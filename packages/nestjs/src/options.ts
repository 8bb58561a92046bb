import type { IncomingHttpHeaders } from 'node:http';
import {
  type CacheOptions,
  createCache,
  createHttpCache,
  type HttpCache,
  type HttpCacheOptions,
  type Namespaces,
  type RedisInput,
  type RouteCacheOptions,
  VersionedCache,
  VersionedCacheTypeError,
} from '@versioned-cache/core';

/**
 * What the route `key` and `perUser` functions receive: Nest's request on either platform (Express's
 * `req`, Fastify's `request`). Give `@CacheRoute<Request>()` your platform's type to read more of it.
 */
export interface NestCacheRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** `@CacheRoute()` options: every route option of the adapters' `cacheRoute()`. */
export type NestRouteCacheOptions<Req = NestCacheRequest> = RouteCacheOptions<Req>;

/** `VersionedCacheModule.forRoot()` options: where entries live, their namespace, and every route option. */
export interface VersionedCacheModuleOptions extends Omit<HttpCacheOptions<NestCacheRequest>, 'cache'> {
  /** The namespace, or namespaces, of every cached route's entries. */
  namespace: Namespaces;
  /**
   * The cache `createCache()` returned, which the module uses and never closes; or the options of
   * the cache for the module to create, which it closes on application shutdown.
   * @default a cache the module creates (with `redis` when given, else the embedded memory store)
   */
  cache?: VersionedCache | CacheOptions;
  /**
   * Shorthand for `cache: { redis }`: the module creates the cache on this Redis and closes it on
   * shutdown (a Redis or Cluster instance given here is never closed, as `createCache` does).
   * @default undefined
   */
  redis?: RedisInput;
  /**
   * Register the module globally: its cache is injectable everywhere and `VersionedCacheInterceptor`
   * runs for every route (APP_INTERCEPTOR). With `false`, import the module where you need it and
   * apply `@UseInterceptors(VersionedCacheInterceptor)` to the controllers to cache.
   * @default true
   */
  global?: boolean;
}

/** `VersionedCacheModule.forRootAsync()` options. */
export interface VersionedCacheModuleAsyncOptions {
  /** Modules whose providers `useFactory` needs (ConfigModule...). */
  imports?: NonNullable<import('@nestjs/common').DynamicModule['imports']>;
  /** Providers to inject into `useFactory`, in order. */
  inject?: NonNullable<import('@nestjs/common').FactoryProvider['inject']>;
  /** Returns the options; `global` is read from here, not from the factory's result. */
  useFactory: (
    ...args: never[]
  ) => Omit<VersionedCacheModuleOptions, 'global'> | Promise<Omit<VersionedCacheModuleOptions, 'global'>>;
  /** @default true */
  global?: boolean;
}

/** The module's resolved state: the cache, whether the module owns it, and the app's HTTP policy. */
export interface ResolvedModule {
  cache: VersionedCache;
  /** The module created the cache, so it closes it. */
  owned: boolean;
  http: HttpCache<NestCacheRequest>;
}

/** Injection token of the module's options. */
export const MODULE_OPTIONS = Symbol('versioned-cache:module-options');
/** Injection token of the resolved module state. */
export const RESOLVED = Symbol('versioned-cache:resolved');
/** Injection token of the `VersionedCache` (also injectable by its class). */
export const VERSIONED_CACHE = Symbol('versioned-cache:cache');

const isCache = (value: unknown): value is VersionedCache =>
  value instanceof VersionedCache ||
  (typeof value === 'object' && value !== null && typeof (value as VersionedCache).fetch === 'function');

/**
 * Applies defaults and validates: a mistake is a `VersionedCacheTypeError` naming the option, thrown
 * while the application starts. Creates the cache when none is given.
 */
export function resolveModuleOptions(options: VersionedCacheModuleOptions): ResolvedModule {
  if (typeof options !== 'object' || options === null)
    throw new VersionedCacheTypeError('options', 'must be an object with at least `namespace`');
  const { namespace, cache, redis, global: _global, ...route } = options;
  if (cache !== undefined && redis !== undefined)
    throw new VersionedCacheTypeError('redis', 'give either `cache` or `redis`, not both');
  if (cache !== undefined && (typeof cache !== 'object' || cache === null))
    throw new VersionedCacheTypeError('cache', 'must be a cache createCache() returned, or its options');
  const given = isCache(cache) ? cache : undefined;
  const created = given ? undefined : createCache(redis !== undefined ? { redis } : (cache as CacheOptions));
  const resolved = given ?? created!;
  try {
    return {
      cache: resolved,
      owned: created !== undefined,
      http: createHttpCache(namespace, { ...route, cache: resolved }),
    };
  } catch (error) {
    void created?.close();
    throw error;
  }
}
