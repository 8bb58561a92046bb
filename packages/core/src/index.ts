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
export type { L1Options } from './tier/l1-options.js';
export type { L1Tier, TierHit } from './tier/l1-tier.js';
export type { TrackerStatus, VersionTrackerOptions } from './tier/version-tracker.js';
export { VersionTracker } from './tier/version-tracker.js';
