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
export type {
  BypassReason,
  CallFields,
  ChannelName,
  ErrorEvent,
  FailOpenEvent,
  FillEvent,
  InvalidateEvent,
  LeaseWaitEvent,
  LeaseWaitOutcome,
  LookupEvent,
} from './engine/events.js';
export { CHANNELS } from './engine/events.js';
export type { VersionedCacheErrorCode } from './errors.js';
export {
  isInvalidArgument,
  isVersionedCacheError,
  StoreTimeoutError,
  VersionedCacheError,
  VersionedCacheRangeError,
  VersionedCacheTypeError,
} from './errors.js';
export * from './http/index.js';
export { assertNamespace, KeySchema, normaliseNamespaces } from './keys.js';
export type { CacheOptions, DurabilityOptions, LeaseOptions } from './options.js';
export type { MemoryStoreOptions } from './stores/memory-store.js';
export { MemoryStore } from './stores/memory-store.js';
export type { RedisClientLike, RedisInput } from './stores/redis-store.js';
export { RedisStore } from './stores/redis-store.js';
export type { BumpOptions, CacheStore, DurabilityRequest, LeaseGrant } from './stores/store.js';
export type { L1Options } from './tier/l1-options.js';
export type { L1Tier, TierHit } from './tier/l1-tier.js';
export type { TrackerStatus, VersionTrackerOptions } from './tier/version-tracker.js';
export { VersionTracker } from './tier/version-tracker.js';
export type { VersionBump } from './versions.js';
export { previousFromRecord } from './versions.js';
