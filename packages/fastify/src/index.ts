import { randomUUID } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import {
  type CapturedResponse,
  createHttpCache,
  type HttpCache,
  type HttpCacheOptions,
  type HttpOutcome,
  type HttpResponse,
  isMutation,
  type Namespaces,
  type ProduceContext,
  type RequestCache,
  RequestCacheState,
  type RouteCacheOptions,
  readBody,
  VersionedCacheTypeError,
  type WarmRequest,
  type WarmRoutesOptions,
} from '@versioned-cache/core';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
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

type Http = HttpCache<FastifyRequest>;
type Refresh = { ctx: ProduceContext; resolve(response: CapturedResponse<FastifyRequest> | null): void };

class State extends RequestCacheState<FastifyRequest> {
  /** The lookup's outcome (never rejecting); undefined on a refresh's synthetic request. */
  outcome: Promise<HttpOutcome | null> | undefined;
}

/**
 * The registration that owns each scope's routes: the one registered in that scope or, for a scope
 * created after it, in the nearest parent; a registration in a nested scope takes over there. Read
 * per request, so routes declared before the plugin loaded (`register()` not awaited) are cached too.
 */
const owners = new WeakMap<object, Http>();
/** Marks a refresh's synthetic request; its value is a one-time token, so a client cannot forge it. */
const REFRESH = 'x-versioned-cache-refresh';
const refreshes = new Map<string, Refresh>();

function named(error: unknown): unknown {
  if (error instanceof Error) error.message = `@versioned-cache/fastify: ${error.message}`;
  return error;
}

const plugin: FastifyPluginCallback<FastifyCacheOptions> = (instance, options, done) => {
  let app: Http;
  try {
    const { namespace, ...rest } = options;
    app = createHttpCache<FastifyRequest>(namespace, rest);
  } catch (error) {
    return done(named(error) as Error);
  }
  if (!instance.hasRequestDecorator('cache')) instance.decorateRequest('cache', null, []);
  owners.set(instance, app);
  // fastify-plugin: `instance` is the registering scope; scopes created in it from now on get our hooks.
  instance.addHook('onRegister', (child) => {
    owners.set(child, app);
  });

  // A route declared from now on has its options validated when declared (remembered per options object).
  instance.addHook('onRoute', (route) => {
    try {
      if (route.config?.cache !== undefined) app.route(route.config.cache);
    } catch (error) {
      throw named(error);
    }
  });

  instance.addHook('onRequest', (request, reply, next) => {
    if (owners.get(request.server) !== app || request.is404) return next();
    let http: Http;
    try {
      const options = request.routeOptions.config.cache;
      http = options === undefined ? app : app.route(options);
    } catch (error) {
      return next(named(error) as Error);
    }
    const s = new State(app);
    s.http = http;
    request.cache = s;
    const headers = request.raw.headers;
    const token = headers[REFRESH];
    if (token !== undefined) {
      delete headers[REFRESH];
      const refresh = refreshes.get(String(token));
      if (refresh) {
        s.expect(refresh.ctx).then(
          (captured) => refresh.resolve(captured && { ...captured, request }),
          () => refresh.resolve(null),
        );
        return next();
      }
    }
    if (isMutation(request.method)) return next();
    let continued = false;
    const proceed = (error?: Error) => {
      if (continued) return;
      continued = true;
      next(error);
    };
    s.outcome = s
      .handle(http, { method: request.method, url: request.url, headers }, request, {
        proceed: (capture) => {
          // A handler that hijacks the reply never reaches onSend: stop waiting once it is done.
          if (capture) reply.raw.once('finish', () => s.release());
          proceed();
        },
        setHeaders: (passHeaders) => reply.headers(passHeaders),
        refresh: (ctx) => refreshWith(instance, request, ctx),
      })
      .then(
        (outcome) => {
          // A hit ends the lifecycle here, as a hook that answers early does: later hooks do not run.
          if (!continued && outcome.response) {
            continued = true;
            writeHit(reply, outcome.response);
          } else proceed();
          return outcome;
        },
        (error: Error) => {
          proceed(error);
          return null;
        },
      );
  });

  instance.addHook('onSend', (request, reply, payload, next) => {
    const s = request.cache;
    if (!(s instanceof State) || s.app !== app) return next();
    const invalidating = s.invalidateAfter(request.method, reply.statusCode);
    if (invalidating) return void invalidating.then(() => next());
    const capture = s.capturing;
    if (!capture) return next();
    readBody(payload ?? '', capture.maxBodySize, capture.signal).then(
      (body) => {
        if (!Buffer.isBuffer(body)) {
          s.release(); // past maxBodySize (the stream that sends it all), or a Response: as it is
          return next(null, body ?? payload);
        }
        s.captured({ status: reply.statusCode, headers: reply.getHeaders(), body });
        if (!s.outcome) return next(null, body); // a refresh: its response goes nowhere
        s.outcome.then((outcome) => {
          if (!outcome?.response) return next(null, body);
          const { status, headers, body: out } = outcome.response;
          for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
          reply.code(status).headers(headers);
          // Fastify's HEAD route reads the payload for Content-Length: give it an empty stream, ours stays.
          next(null, out ?? (request.method === 'HEAD' ? Readable.from([]) : null));
        });
      },
      (error: Error) => {
        s.fail(error);
        next(error);
      },
    );
  });
  done();
};

/**
 * A hit, answered in onRequest: the stored status, headers and bytes written straight to the socket,
 * over the headers hooks before ours set (CORS); no serializer, onSend hooks or Content-Length work.
 */
function writeHit(reply: FastifyReply, response: HttpResponse): void {
  reply.hijack();
  reply.raw.writeHead(response.status, { ...reply.getHeaders(), ...response.headers } as OutgoingHttpHeaders);
  reply.raw.end(response.body ?? undefined);
}

/** A stale response already went out: refresh with a synthetic GET through `inject()`, never looked up. */
function refreshWith(
  instance: FastifyInstance,
  request: FastifyRequest,
  ctx: ProduceContext,
): Promise<CapturedResponse<FastifyRequest> | null> {
  const { 'if-none-match': _inm, 'if-modified-since': _ims, ...headers } = request.headers;
  return inject(instance, { url: request.url, headers }, ctx);
}

/** A GET through `inject()` that carries a one-time token: the plugin captures it instead of looking up. */
function inject(
  instance: FastifyInstance,
  request: WarmRequest | { url: string; headers: FastifyRequest['headers'] },
  ctx: ProduceContext,
): Promise<CapturedResponse<FastifyRequest> | null> {
  const token = randomUUID();
  const headers = request.headers;
  return new Promise((resolve) => {
    refreshes.set(token, { ctx, resolve });
    // Settles after onSend resolved it, or, when the request never reached the route, with null.
    const settle = () => {
      refreshes.delete(token);
      resolve(null);
    };
    instance
      .inject({ method: 'GET', url: request.url, headers: { ...headers, [REFRESH]: token } })
      .then(settle, settle);
  });
}

/**
 * Warms routes on `cache.invalidate(ns, { warm: true })`: each path is replayed in-process through
 * `inject()` (as a stale refresh is), and its response stored under the new version before it is
 * published. `instance` is the scope the plugin is registered in (or one under it), once registered.
 * Returns a function that unregisters them.
 */
export function warmRoutes(instance: FastifyInstance, options: FastifyWarmOptions): () => void {
  try {
    const app = owners.get(instance);
    if (!app)
      throw new VersionedCacheTypeError(
        'instance',
        'register the plugin in this scope or a parent first (await app.register(versionedCache, ...))',
      );
    return app.warmRoutes(options, (request, ctx) => inject(instance, request, ctx));
  } catch (error) {
    throw named(error);
  }
}

/**
 * `app.register(versionedCache, { namespace, cache, ...options })`: caches the GET and HEAD
 * responses of the routes declared after it in the scope it is registered in (fastify-plugin: no new
 * scope of its own), and its child scopes.
 */
export const versionedCache = fp(plugin, { fastify: '5.x', name: '@versioned-cache/fastify' });
export default versionedCache;
