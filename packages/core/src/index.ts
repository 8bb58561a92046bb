export type {
  CacheResult,
  CacheStatus,
  ComputeContext,
  GetOrSetOptions,
  InvalidateOptions,
  Namespaces,
  Warmer,
} from './cache.js';
export { createCache, VersionedCache } from './cache.js';
export type { Codec } from './codec.js';
export { bufferCodec, jsonCodec } from './codec.js';
export type { Duration } from './duration.js';
export { parseDuration } from './duration.js';
export type { BreakerEvent, InvalidationEvent } from './engine/breaker-events.js';
export type { BreakerOptions, PendingInvalidationOptions } from './engine/breaker-options.js';
export type { VersionedCacheErrorCode } from './errors.js';
export {
  isVersionedCacheError,
  StoreTimeoutError,
  VersionedCacheError,
  VersionedCacheTypeError,
} from './errors.js';
export * from './http/index.js';
export { assertNamespace, KeySchema, normaliseNamespaces } from './keys.js';
export type { CacheOptions, LeaseOptions } from './options.js';
export type { MemoryStoreOptions } from './stores/memory-store.js';
export { MemoryStore } from './stores/memory-store.js';
export type { RedisClientLike, RedisInput } from './stores/redis-store.js';
export { RedisStore } from './stores/redis-store.js';
export type { CacheStore } from './stores/store.js';
