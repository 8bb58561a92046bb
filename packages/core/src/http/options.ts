import type { Namespaces, VersionedCache } from '../cache.js';
import type { Duration } from '../duration.js';
import type { QueryOptions, ResolvedQuery } from './query-normalise.js';
import type { CompressOptions, HttpDebugEvent, ResolvedCompress } from './representation-options.js';

/** The request as the core sees it: plain values, no framework type. */
export interface HttpRequest {
  /** Upper case, as Node gives it. */
  method: string;
  /** The request target as received (path and query, from the mount root): Express `originalUrl`. */
  url: string;
  /** Node's `IncomingHttpHeaders`: lower-case names. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

export interface CacheControlOptions {
  /**
   * `max-age` for clients: how long a browser may reuse the response without asking. Keep it short:
   * invalidation happens on the server, and a client that revalidates gets a cheap 304.
   * @default 0
   */
  maxAge?: Duration;
  /**
   * `s-maxage` for shared caches (CDNs); only on public responses.
   * @default undefined (not sent)
   */
  sMaxAge?: Duration;
  /**
   * `stale-while-revalidate` for clients and CDNs.
   * @default undefined (not sent)
   */
  staleWhileRevalidate?: Duration;
  /**
   * `public` or `private`. Entries scoped per user (`perUser`) are always sent `private`.
   * @default 'public'
   */
  visibility?: 'public' | 'private';
  /**
   * Adds `must-revalidate`.
   * @default true when maxAge is 0
   */
  mustRevalidate?: boolean;
}

/**
 * The options a route can set. `Req` is the request type the `key` and `perUser` functions receive:
 * the framework's request in an adapter, the plain `HttpRequest` otherwise.
 */
export interface RouteCacheOptions<Req = HttpRequest> {
  /**
   * How long a stored response stays fresh on the server (invalidation ends it earlier).
   * @default the cache's `ttl`
   */
  ttl?: Duration;
  /**
   * How long past `ttl`, or after an invalidation, the previous response may still be served
   * (`X-Cache: STALE`) while one refresh runs in the background.
   * @default 0 (never stale)
   */
  grace?: Duration;
  /**
   * Probabilistic early refresh (XFetch) of entries close to their TTL: `true`, or a beta factor
   * (higher refreshes earlier). A hit that draws a refresh is still answered at once; one background
   * run replaces the entry before it expires, so a popular route never sees the expiry as a miss.
   * @default false
   */
  earlyRefresh?: boolean | number;
  /**
   * The Cache-Control sent with cacheable responses: directives, a literal value, or `false` to send
   * none. A Cache-Control the handler sets itself wins.
   * @default { maxAge: 0 } (`public, max-age=0, must-revalidate`)
   */
  cacheControl?: CacheControlOptions | string | false;
  /**
   * Request headers the response depends on: their values join the key and they are sent in `Vary`.
   * Add to the app's list. A response whose own `Vary` names a header not listed here is not stored.
   * @default []
   */
  vary?: readonly string[];
  /**
   * The key part that replaces host + path + sorted query; vary values and the user scope are still
   * added.
   * @default host, path and sorted query
   */
  key?: (request: Req) => string;
  /**
   * Scopes entries per user, which lets requests with Authorization or Cookie be stored: returns the
   * user's id (it joins the key), or undefined/null/'' to not cache this request. Such entries are
   * sent `Cache-Control: private`.
   * @default undefined (requests with Authorization or Cookie are never stored)
   */
  perUser?: (request: Req) => string | null | undefined;
  /**
   * Further namespaces the responses depend on, added to the app's: invalidating any of them
   * invalidates the entry.
   * @default []
   */
  namespaces?: Namespaces;
  /**
   * Response statuses that may be stored.
   * @default [200, 203, 204, 300, 301, 404, 410]
   */
  statuses?: readonly number[];
  /**
   * Largest body buffered for storing, in bytes; past it the response streams through uncached.
   * @default 1048576 (1 MiB)
   */
  maxBodySize?: number;
  /**
   * Further response headers stored and replayed on hits, besides Content-Type, Content-Language,
   * Content-Encoding, Content-Disposition, Content-Location, Link, Location, Last-Modified, ETag,
   * Cache-Control and Expires.
   * @default []
   */
  storeHeaders?: readonly string[];
  /**
   * Whether a request's `Cache-Control: no-cache` (or `max-age=0`, or `Pragma: no-cache`) skips the
   * lookup and recomputes. Off by default: a client must not make the server recompute at will.
   * @default false
   */
  honorNoCache?: boolean;
  /**
   * Longest wait for a handler's response before giving up on storing it: the response then goes
   * through uncached, and requests waiting on it run their own handler.
   * @default '30s'
   */
  handlerTimeout?: Duration;
  /**
   * Invalidate the namespaces after a successful (2xx or 3xx) POST, PUT, PATCH or DELETE; the response
   * completes once the new version is written.
   * @default false
   */
  invalidateOnMutation?: boolean;
  /**
   * A bounded name for the route in diagnostics events and metrics (the `route` label), for example
   * its path pattern `'/api/reports/:id'`; never the request path itself. A route with its own label
   * makes its own lookup rather than sharing the app middleware's.
   * @default the app's label, or none
   */
  label?: string;
  /**
   * Store the body compressed (gzip and brotli, with node:zlib) once per fill, so that a hit costs no
   * compression: each coding has its own strong ETag, every response of the resource carries
   * `Vary: Accept-Encoding`, and Accept-Encoding q-values choose among them. Only compressible types
   * (text, JSON, JavaScript, XML, SVG) at least `minSize` bytes, not already encoded.
   * @default false
   */
  compress?: boolean | CompressOptions;
  /**
   * A compressor sits between the cache and the client (`compression`, `koa-compress`,
   * `@fastify/compress` used in front of the cache) and re-encodes responses without changing their
   * ETag. Without this option the cache already sends the ETag weak on a response it sees encoded
   * after it; when true, a compressible response not compressed by the cache also carries
   * `Vary: Accept-Encoding`, a weak ETag for requests that accept compression, and a 304 keeps the
   * weak tag the client revalidates (docs/http-compliance.md). Prefer `compress`.
   * @default false
   */
  downstreamCompressor?: boolean;
  /**
   * How the query joins the key: `sort` orders parameters by name; `allow` keeps only the named
   * parameters in the key, so that tracking or random parameters share one entry.
   * @default { sort: true } (every parameter, sorted)
   */
  query?: QueryOptions;
}

export interface HttpCacheOptions<Req = HttpRequest> extends RouteCacheOptions<Req> {
  /** The cache `createCache()` returned. */
  cache: VersionedCache;
  /**
   * Name of the header that says HIT, MISS, STALE or BYPASS, or `false` for none.
   * @default 'X-Cache'
   */
  cacheStatusHeader?: string | false;
  /**
   * Told when the cache changes a response for safety: a per-user response whose Cache-Control let
   * shared caches store it (`public`, `s-maxage`, or no `private`) is sent `private`.
   * @default undefined (no report)
   */
  onDebug?: (event: HttpDebugEvent) => void;
}

export interface ResolvedHttpPolicy<Req> {
  enabled: boolean;
  namespaces: readonly string[];
  ttlMs: number | undefined;
  graceMs: number;
  earlyBeta: number;
  cacheControl: { public: string; private: string } | null;
  vary: readonly string[];
  key: ((request: Req) => string) | undefined;
  perUser: ((request: Req) => string | null | undefined) | undefined;
  statuses: ReadonlySet<number>;
  maxBodySize: number;
  storeHeaders: ReadonlySet<string>;
  honorNoCache: boolean;
  handlerTimeoutMs: number;
  invalidateOnMutation: boolean;
  label: string | undefined;
  compress: ResolvedCompress | null;
  downstreamCompressor: boolean;
  query: ResolvedQuery;
  onDebug?: ((event: HttpDebugEvent) => void) | undefined;
}

const ROUTE_OPTIONS = [
  'ttl',
  'grace',
  'earlyRefresh',
  'cacheControl',
  'vary',
  'key',
  'perUser',
  'namespaces',
  'statuses',
  'maxBodySize',
  'storeHeaders',
  'honorNoCache',
  'handlerTimeout',
  'invalidateOnMutation',
  'label',
  'compress',
  'downstreamCompressor',
  'query',
] as const;
export const ROUTE_OPTION_NAMES: ReadonlySet<string> = new Set(ROUTE_OPTIONS);
export const HTTP_OPTION_NAMES: ReadonlySet<string> = new Set([
  ...ROUTE_OPTIONS,
  'cache',
  'cacheStatusHeader',
  'onDebug',
]);
