export { parseCacheControl } from './cache-control.js';
export { ifNoneMatchMatches, isNotModified } from './conditional.js';
export type { CapturedResponse, HttpOutcome, HttpResponse, Produce, ProduceContext } from './http-cache.js';
export { assertRouteOptions, createHttpCache, HttpCache } from './http-cache.js';
export type { CacheControlOptions, HttpCacheOptions, HttpRequest, RouteCacheOptions } from './options.js';
export { normalisedTarget, sortedQuery } from './request-key.js';
export type { ResponseHeaders, StoredResponse } from './response-codec.js';
export { storedResponseCodec } from './response-codec.js';
