import { Readable } from 'node:stream';
import {
  createHttpCache,
  type Dispatch,
  type HttpCache,
  type HttpCacheOptions,
  type HttpResponse,
  isMutation,
  type Namespaces,
  overHeaders,
  Replays,
  type RequestCache,
  RequestCacheState,
  type RouteCacheOptions,
  serveByCallback,
  VersionedCacheTypeError,
  type WarmRoutesOptions,
  watchDownstreamEncoding,
  writeResponse,
} from '@versioned-cache/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export type { RequestCache } from '@versioned-cache/core';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's cache, on the routes the plugin caches (declared after it, in its scope). */
    cache: RequestCache;
  }
  interface FastifyContextConfig {
    /** This route's cache options (over the plugin's), or `false` to opt out. */
    cache?: FastifyRouteCacheOptions | false;
  }
}

/** `config.cache` of a route. The key functions receive Fastify's `request`. */
export type FastifyRouteCacheOptions = RouteCacheOptions<FastifyRequest>;
/** `warmRoutes()` options; `route` is the route's `config.cache`, when it changes the lookup. */
export type FastifyWarmOptions = WarmRoutesOptions<FastifyRequest>;
/** Plugin options: `namespace`, `cache` and every route option. */
export interface FastifyCacheOptions extends HttpCacheOptions<FastifyRequest> {
  /** The namespace, or namespaces, of the entries of the routes in the plugin's scope. */
  namespace: Namespaces;
}

/**
 * The registration that owns each scope's routes: the one registered in that scope or, for a scope
 * created after it, in the nearest parent; a registration in a nested scope takes over there. Read
 * per request, so routes declared before the plugin loaded (`register()` not awaited) are cached too.
 */
const owners = new WeakMap<object, HttpCache<FastifyRequest>>();
const replays = new Replays<FastifyRequest>();
/** Refreshes and warms: GETs through `inject()`, which the plugin captures instead of looking up. */
function dispatchTo(instance: FastifyInstance): Dispatch {
  return ({ url, headers }) => instance.inject({ method: 'GET', url, headers });
}

/** Runs `fn`; an error it throws names the package. */
function named<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof Error) error.message = `@versioned-cache/fastify: ${error.message}`;
    throw error;
  }
}

const plugin: FastifyPluginAsync<FastifyCacheOptions> = async (instance, options) => {
  const { namespace, ...rest } = options;
  const app = named(() => createHttpCache<FastifyRequest>(namespace, rest));
  if (!instance.hasRequestDecorator('cache')) instance.decorateRequest('cache', null, []);
  owners.set(instance, app);
  // fastify-plugin: `instance` is the registering scope; scopes created in it from now on get our hooks.
  instance.addHook('onRegister', (child) => void owners.set(child, app));
  // A route declared from now on has its options validated when declared (remembered per options object).
  instance.addHook('onRoute', (route) => {
    if (route.config?.cache !== undefined) named(() => app.route(route.config!.cache!));
  });

  instance.addHook('onRequest', (request, reply, next) => {
    if (owners.get(request.server) !== app || request.is404) return next();
    let http: HttpCache<FastifyRequest>;
    try {
      const options = request.routeOptions.config.cache;
      http = options === undefined ? app : named(() => app.route(options));
    } catch (error) {
      return next(error as Error);
    }
    const s = new RequestCacheState(app);
    s.http = http;
    request.cache = s;
    const headers = request.raw.headers;
    if (replays.claim(headers, s, request) || isMutation(request.method)) return next();
    serveByCallback(s, http, { method: request.method, url: request.url, headers }, request, {
      next: (error) => next(error as Error | undefined),
      answer: (response) => writeHit(reply, response),
      // A handler that hijacks the reply never reaches onSend: stop waiting once it is done.
      capturing: () => reply.raw.once('finish', () => s.release()),
      setHeaders: (passHeaders) => reply.headers(passHeaders),
      refresh: (ctx) => replays.refresh(request.url, headers, ctx, dispatchTo(instance)),
    });
  });

  instance.addHook('onSend', (request, reply, payload, next) => {
    const s = request.cache;
    if (!(s instanceof RequestCacheState) || s.app !== app) return next();
    const invalidating = s.invalidateAfter(request.method, reply.statusCode);
    if (invalidating) return void invalidating.then(() => next());
    if (!s.capturing) return next();
    // Past maxBodySize (the stream that sends it all), or a Response: sent as it is.
    s.captureBody(payload ?? '', reply.statusCode, reply.getHeaders()).then((body) => {
      if (!Buffer.isBuffer(body) || !s.outcome) return next(null, body ?? payload); // a replay's goes nowhere
      s.outcome.then((outcome) => {
        if (!outcome?.response) return next(null, body);
        const { status, headers, body: out } = outcome.response;
        for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
        watchDownstreamEncoding(reply.code(status).headers(headers).raw, headers); // @fastify/compress is next
        // Fastify's HEAD route reads the payload for Content-Length: give it an empty stream, ours stays.
        next(null, out ?? (request.method === 'HEAD' ? Readable.from([]) : null));
      });
    }, next);
  });
};

/**
 * A hit, answered in onRequest: the stored status, headers and bytes written straight to the socket,
 * over the headers hooks before ours set (CORS); no serializer, onSend hooks or Content-Length work.
 */
function writeHit(reply: FastifyReply, response: HttpResponse): void {
  reply.hijack();
  writeResponse(reply.raw, overHeaders(reply.getHeaders(), response));
}

/**
 * Warms routes on `cache.invalidate(ns, { warm: true })`: each path is replayed in-process through
 * `inject()` (as a stale refresh is), and its response stored under the new version before it is
 * published. `instance` is the scope the plugin is registered in (or one under it), once registered.
 * Returns a function that unregisters them.
 */
export function warmRoutes(instance: FastifyInstance, options: FastifyWarmOptions): () => void {
  const app = owners.get(instance);
  const dispatch = dispatchTo(instance);
  return named(() => {
    if (!app)
      throw new VersionedCacheTypeError(
        'instance',
        'register the plugin in this scope or a parent first (await app.register(versionedCache, ...))',
      );
    return app.warmRoutes(options, (request, ctx) => replays.run(request, ctx, dispatch));
  });
}

/**
 * `app.register(versionedCache, { namespace, cache, ...options })`: caches the GET and HEAD
 * responses of the routes declared after it in the scope it is registered in (fastify-plugin: no new
 * scope of its own), and its child scopes.
 */
export const versionedCache = fp(plugin, { fastify: '5.x', name: '@versioned-cache/fastify' });
export default versionedCache;
