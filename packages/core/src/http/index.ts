export type { BufferedBody } from './body.js';
export { bufferBody, readBody } from './body.js';
export { parseCacheControl } from './cache-control.js';
export { ifNoneMatchMatches, isNotModified } from './conditional.js';
export type { Compressor, StoredCoding } from './content-coding.js';
export { negotiateCoding, parseAcceptEncoding, zlibCompressor } from './content-coding.js';
export { assertRouteOptions, createHttpCache } from './create-http-cache.js';
export { watchDownstreamEncoding } from './downstream-encoding.js';
export { HttpCache } from './http-cache.js';
export type { AroundHooks, CallbackHooks } from './lifecycles.js';
export { serveAround, serveByCallback } from './lifecycles.js';
export type { MiddlewareStep } from './middleware-entry.js';
export { enterMiddleware, holdOnPrototype, routeStateOf, stateOf } from './middleware-entry.js';
export type { MiddlewareWarmOptions } from './middleware-policies.js';
export { MiddlewarePolicies } from './middleware-policies.js';
export type { NodeHandler, NodeServeOptions } from './node-http.js';
export {
  captureInto,
  dispatchNode,
  endAfter,
  overHeaders,
  prepareResponse,
  serveNode,
  writeResponse,
} from './node-http.js';
export type { CacheControlOptions, HttpCacheOptions, HttpRequest, RouteCacheOptions } from './options.js';
export type { PreconditionOutcome, RequestConditions, Validators } from './preconditions.js';
export { evaluatePreconditions, parseHttpDate } from './preconditions.js';
export { privacyHeaders } from './privacy.js';
export type {
  CapturedResponse,
  HttpOutcome,
  HttpResponse,
  Produce,
  ProduceContext,
  RoutePolicy,
} from './produce.js';
export type { QueryOptions } from './query-normalise.js';
export type { Dispatch } from './replays.js';
export { Replays } from './replays.js';
export type { CompressOptions, HttpDebugEvent } from './representation-options.js';
export type { LifecycleHooks, RequestCache } from './request-cache.js';
export { isMutation, RequestCacheState } from './request-cache.js';
export { normalisedTarget, sortedQuery } from './request-key.js';
export type { ResponseHeaders, StoredResponse } from './response-codec.js';
export { storedResponseCodec } from './response-codec.js';
export type { Replay, WarmRequest, WarmRoutesOptions } from './route-warmer.js';
