import type { RequestCache } from '@versioned-cache/core';

export type { RequestCache } from '@versioned-cache/core';
export type { InvalidatesTarget } from './decorators.js';
export { CacheRoute, InjectVersionedCache, Invalidates, NoCache, ReqCache } from './decorators.js';
export { VersionedCacheInterceptor } from './interceptor.js';
export { VersionedCacheModule } from './module.js';
export type {
  NestCacheRequest,
  NestRouteCacheOptions,
  VersionedCacheModuleAsyncOptions,
  VersionedCacheModuleOptions,
} from './options.js';
export { VERSIONED_CACHE } from './options.js';

declare global {
  namespace Express {
    interface Request {
      /** This request's cache, on the routes `VersionedCacheInterceptor` runs for. */
      cache: RequestCache;
    }
  }
}
