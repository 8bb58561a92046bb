import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import {
  assertRouteOptions,
  type CapturedResponse,
  createHttpCache,
  type HttpCache,
  type HttpCacheOptions,
  type HttpResponse,
  isMutation,
  MiddlewarePolicies,
  type Namespaces,
  type ProduceContext,
  type RequestCache,
  RequestCacheState,
  type RouteCacheOptions,
  readBody,
  VersionedCacheError,
  type WarmRequest,
  type WarmRoutesOptions,
} from '@versioned-cache/core';
import type Koa from 'koa';
import type { Context, DefaultContext, DefaultState, Middleware, Next, ParameterizedContext } from 'koa';

export type { RequestCache } from '@versioned-cache/core';

declare module 'koa' {
  interface ExtendableContext {
    /** This request's cache; exists once the `versionedCache()` middleware ran. */
    cache: RequestCache;
  }
  interface DefaultContext {
    cache: RequestCache;
  }
}

/** `versionedCache()` options: `cache` plus every route option. The key functions receive Koa's `ctx`. */
export type KoaCacheOptions = HttpCacheOptions<Context>;
/** `cacheRoute()` options; `Ctx` is the route's context (with `params` under `@koa/router`). */
export type KoaRouteOptions<Ctx = Context> = RouteCacheOptions<Ctx>;
/** `warmRoutes()` options. */
export interface KoaWarmOptions extends WarmRoutesOptions<Context> {
  /**
   * The `versionedCache()` middleware the routes are behind.
   * @default the only `versionedCache()` middleware `app.use()`d on `app`
   */
  cache?: Middleware;
}

type Refresh = { ctx: ProduceContext; resolve(value: CapturedResponse<Context> | null): void };
type State = RequestCacheState<Context>;

const STATE = Symbol('versioned-cache');
const EMPTY = Buffer.alloc(0);
const refreshes = new WeakMap<IncomingMessage, Refresh>();
/** Each `versionedCache()` middleware's policy, for `warmRoutes()`. */
const policies = new MiddlewarePolicies<Context>();
const stateOf = (ctx: object) => (ctx as { [STATE]?: State })[STATE];
const noop = () => {};

/**
 * Caches the GET and HEAD responses of the middleware and routes after it under the namespace
 * version(s). Paths whose route looks up differently (`cacheRoute` with key, vary, namespaces...)
 * are learned, so that their requests skip this lookup and cost one read, not two.
 */
export function versionedCache(namespaces: Namespaces, options: KoaCacheOptions): Middleware {
  const app = createHttpCache<Context>(namespaces, options);
  const middleware: Middleware = async (ctx, next) => {
    const outer = stateOf(ctx);
    const s = new RequestCacheState(app, ctx.originalUrl.split('?', 1)[0]);
    (ctx as { [STATE]?: State })[STATE] = s;
    ctx.cache = s;
    const refresh = refreshes.get(ctx.req);
    if (refresh) return outer ? next() : captureRefresh(ctx, next, refresh);
    if (isMutation(ctx.method)) {
      await next();
      await s.invalidateAfter(ctx.method, ctx.status);
    } else if (s.enter(outer)) await serve(app, ctx, next, s);
    else {
      await next();
      s.leave();
    }
  };
  policies.register(middleware, app);
  return middleware;
}

/**
 * Warms routes on `cache.invalidate(ns, { warm: true })`: each path is replayed in-process as a
 * synthetic GET through `app.callback()` (as a stale refresh is), and its response stored under the
 * new version before it is published. Returns a function that unregisters them.
 */
export function warmRoutes(app: Koa, options: KoaWarmOptions): () => void {
  const { cache, ...rest } = (options ?? {}) as KoaWarmOptions;
  return policyOf(app, cache).warmRoutes(rest, (request, p) => replayThrough(app, request, p), ['cache']);
}

function policyOf(app: Koa, cache: Middleware | undefined): HttpCache<Context> {
  return policies.resolve(cache, app.middleware ?? []);
}

/**
 * Per-route options, as route middleware: `router.get('/x', cacheRoute({ ttl: '1m' }), handler)`,
 * or `cacheRoute(false)` to opt out. Options that only change what is stored (ttl, cacheControl,
 * statuses, storeHeaders) join the lookup `versionedCache()` already made; options that change the
 * lookup (key, vary, perUser, namespaces, grace...) and opt-outs make this route look up itself.
 */
export function cacheRoute<StateT = DefaultState, ContextT = DefaultContext>(
  options: KoaRouteOptions<ParameterizedContext<StateT, ContextT>> | false = {},
): Middleware<StateT, ContextT> {
  assertRouteOptions(options);
  return async (ctx, next) => {
    const s = stateOf(ctx);
    if (!s)
      throw new VersionedCacheError(
        'VC_INVALID_ARGUMENT',
        '@versioned-cache/koa: cacheRoute() needs app.use(versionedCache(...)) before the route',
      );
    if (!s.enterRoute(options as KoaRouteOptions | false)) return next();
    await serve(s.http, ctx as unknown as Context, next, s);
  };
}

/** Opts a route out: `router.get('/live', noCache(), handler)`. */
export function noCache<StateT = DefaultState, ContextT = DefaultContext>(): Middleware<StateT, ContextT> {
  return cacheRoute<StateT, ContextT>(false);
}

async function serve(http: HttpCache<Context>, ctx: Context, next: Next, s: State): Promise<void> {
  const method = ctx.method;
  let running: Promise<void> | undefined;
  const proceed = (capture: boolean) => {
    if (capture) ctx.method = 'GET';
    running = next()
      .then(async () => {
        ctx.method = method;
        // Koa's own 404: nothing downstream set a status or a body.
        const unmatched = ctx.status === 404 && ctx.body == null;
        const p = s.capturing;
        const body = p && (await bodyOf(ctx, p));
        if (body) s.captured({ status: ctx.status, headers: ctx.response.headers, body, unmatched });
        else s.release();
      })
      .catch((error: unknown) => {
        ctx.method = method;
        s.fail(error);
        throw error;
      });
    running.catch(noop); // awaited below, once the lookup is done
  };
  const request = { method, url: ctx.originalUrl, headers: ctx.headers };
  const outcome = await s.handle(http, request, ctx, {
    proceed,
    setHeaders: (headers) => ctx.set(headers),
    refresh: (p) => replay(ctx, p),
  });
  // After a handlerTimeout or a takeover the handler may still be running: the response is its.
  await running;
  if (outcome.response) send(ctx, outcome.response, running !== undefined);
}

/**
 * The bytes Koa would send for `ctx.body`: string, Buffer, JSON, a stream (Node or web), Blob or
 * Response. A stream past `maxBodySize` (or still streaming when the core gives up) is put back as
 * `ctx.body`, what was read first, and null is returned: it goes out whole, uncached.
 */
async function bodyOf(ctx: Context, p: ProduceContext): Promise<Buffer | null> {
  if (ctx.respond === false || ctx.headerSent) return null; // the handler wrote to ctx.res itself
  const body: unknown = ctx.body;
  if (body === null || body === undefined) {
    const explicitNull = (ctx.response as { _explicitNullBody?: boolean })._explicitNullBody;
    if (explicitNull || ctx.status === 204 || ctx.status === 205 || ctx.status === 304) return EMPTY;
    ctx.type = 'text'; // Koa's respond() sends the status message
    return Buffer.from(ctx.message || String(ctx.status));
  }
  const read = await readBody(body instanceof Response ? (body.body ?? '') : body, p.maxBodySize, p.signal);
  if (read === undefined) return Buffer.from(JSON.stringify(body));
  if (Buffer.isBuffer(read)) return read;
  const length = ctx.response.get('Content-Length');
  ctx.body = read;
  if (length) ctx.set('Content-Length', length);
  return null;
}

function send(ctx: Context, { status, headers, body }: HttpResponse, replaceHeaders: boolean): void {
  if (replaceHeaders) for (const name of ctx.res.getHeaderNames()) ctx.res.removeHeader(name);
  ctx.status = status;
  // Koa sends no body for these, or for HEAD; Content-Length comes from the headers below.
  if (status !== 204 && status !== 304) ctx.body = body ?? EMPTY;
  ctx.set(headers);
}

/**
 * A stale response already went to the client: refresh with a synthetic GET through the app, whose
 * response the outermost `versionedCache()` captures and never sends.
 */
function replay(ctx: Context, p: ProduceContext): Promise<CapturedResponse<Context> | null> {
  const { 'if-none-match': _inm, 'if-modified-since': _ims, ...headers } = ctx.headers;
  return replayThrough(ctx.app, { url: ctx.originalUrl, headers }, p);
}

/** A synthetic GET through `app` that the outermost `versionedCache()` captures instead of looking up. */
function replayThrough(
  app: Koa,
  request: WarmRequest | { url: string; headers: Context['headers'] },
  p: ProduceContext,
): Promise<CapturedResponse<Context> | null> {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = request.url;
  req.headers = { ...request.headers };
  req.push(null);
  return new Promise((resolve) => {
    refreshes.set(req, { ctx: p, resolve });
    // Settles after our middleware resolved it, or, when the request never reached it, with null.
    const done = () => resolve(null);
    Promise.resolve(app.callback()(req, new ServerResponse(req))).then(done, done);
  });
}

async function captureRefresh(ctx: Context, next: Next, refresh: Refresh): Promise<void> {
  await next();
  const body = await bodyOf(ctx, refresh.ctx);
  ctx.respond = false; // no client: nothing to send
  const routed = stateOf(ctx)!;
  const headers = ctx.response.headers;
  refresh.resolve(
    body && { status: ctx.status, headers, body, noStore: routed.noStore, route: routed.http, request: ctx },
  );
  if (!body) (ctx.body as { destroy?: () => void } | undefined)?.destroy?.();
}
