import type { IncomingHttpHeaders, Server } from 'node:http';
import type { HttpCacheOptions, Namespaces, RouteCacheOptions } from '@versioned-cache/core';

/**
 * The neutral description of an app that every adapter builds in its own idiom, so that one spec
 * runs against Express, Koa and Fastify alike. Nothing here names a framework.
 */

/** What route `key`/`perUser` functions may read: Express `req`, Koa `ctx` and Fastify `request` all have it. */
export interface SpecNativeRequest {
  headers: IncomingHttpHeaders;
}

export type SpecAppOptions = HttpCacheOptions<SpecNativeRequest>;
export type SpecRouteOptions = RouteCacheOptions<SpecNativeRequest>;

/** The request cache every adapter exposes (`req.cache`, `ctx.cache`, `request.cache`). */
export interface SpecRequestCache {
  readonly status: string;
  readonly namespaces: readonly string[];
  invalidate(namespaces?: Namespaces): Promise<void>;
  bypass(): void;
}

export interface SpecRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
  cache: SpecRequestCache;
}

/** The body kinds a handler may answer with, in each framework's usual way. */
export type SpecBody =
  /** A JSON value, sent the framework's JSON way (`res.json`, `ctx.body = {}`, `reply.send({})`). */
  | { kind: 'json'; value: unknown }
  /** A string, sent as is (`res.send('x')`, `ctx.body = 'x'`). */
  | { kind: 'string'; value: string }
  /** Bytes, sent as is. */
  | { kind: 'buffer'; value: Buffer }
  /** Chunks streamed one by one (`res.write` in Express, a Readable in Koa and Fastify). */
  | { kind: 'chunks'; value: string[] }
  /** No body (for 204 and redirects). */
  | { kind: 'empty' };

export interface SpecResponse {
  /** @default 200 */
  status?: number;
  /** Set before the body is sent; names in any case. */
  headers?: Record<string, string | string[]>;
  /** @default { kind: 'empty' } */
  body?: SpecBody;
}

export interface SpecRoute {
  method: 'GET' | 'POST';
  /** A static path such as `/items`. */
  path: string;
  /**
   * Per-route options in the adapter's idiom (Express and Koa `cacheRoute(options)`, Fastify's
   * route `config.cache`); `false` opts out; undefined: the app options only.
   */
  options?: SpecRouteOptions | false;
  /**
   * The handler: resolves with the response, throws or rejects (a handler error: the adapter hands
   * it to the framework's error handling, which answers 500), or never settles (a handler that hangs).
   */
  handle(request: SpecRequest): SpecResponse | Promise<SpecResponse>;
}

export interface SpecApp {
  namespaces: Namespaces;
  options: SpecAppOptions;
  routes: SpecRoute[];
}

export interface AdapterHarness {
  /** For test names only. */
  name: string;
  /**
   * Builds the app: the adapter's cache middleware or plugin with `options` over `namespaces`, then
   * the routes; returns a Node server, not yet listening. Throws what the adapter throws for bad options.
   */
  build(app: SpecApp): Server | Promise<Server>;
}

/** What differs between adapters; every field defaults to what the full spec expects. */
export interface AdapterCapabilities {
  /**
   * Whether a stale response can be refreshed in the background (a handler run detached from the
   * answered request), so that `grace` ends in a HIT without a client waiting.
   * @default true
   */
  backgroundRefresh?: boolean;
}
