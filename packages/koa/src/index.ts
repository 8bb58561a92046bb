import {
  assertRouteOptions,
  createHttpCache,
  type Dispatch,
  dispatchNode,
  type HttpCache,
  type HttpCacheOptions,
  type HttpResponse,
  MiddlewarePolicies,
  type MiddlewareWarmOptions,
  type Namespaces,
  prepareResponse,
  type RequestCache,
  type RequestCacheState,
  type RouteCacheOptions,
  routeStateOf,
  serveAround,
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
/** `warmRoutes()` options: `paths`, `headers`, `route`, `user`, and `cache`, the middleware they are behind. */
export type KoaWarmOptions = MiddlewareWarmOptions<Context, Middleware>;

const EMPTY = Buffer.alloc(0);
/** Each `versionedCache()` middleware's policy, for `warmRoutes()`; refreshes and warms. */
const policies = new MiddlewarePolicies<Context>();
/** Synthetic GETs through `app`, which the outermost `versionedCache()` captures instead of looking up. */
function dispatchTo(app: Koa): Dispatch {
  return (request) => dispatchNode(app.callback(), request);
}

/**
 * Caches the GET and HEAD responses of the middleware and routes after it under the namespace
 * version(s). Paths whose route looks up differently (`cacheRoute` with key, vary, namespaces...)
 * are learned, so that their requests skip this lookup and cost one read, not two.
 */
export function versionedCache(namespaces: Namespaces, options: KoaCacheOptions): Middleware {
  const app = createHttpCache<Context>(namespaces, options);
  const middleware: Middleware = async (ctx, next) => {
    const request = { method: ctx.method, url: ctx.originalUrl, headers: ctx.headers };
    const { state, step } = policies.enter(app, ctx, request, ctx);
    if (step === 'lookup') return serve(app, ctx, next, state, ctx.app.middleware[0] === middleware);
    await next();
    if (step === 'mutation') await state.invalidateAfter(ctx.method, ctx.status);
    else if (step === 'skip') state.leave();
    else if (step === 'replay') {
      const captured = await handOver(ctx, state);
      ctx.respond = false; // no client: nothing to send
      if (!captured) (ctx.body as { destroy?: () => void } | undefined)?.destroy?.();
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
  const dispatch = dispatchTo(app);
  return policies.warmRoutes(options, app.middleware ?? [], (request, p) =>
    policies.replays.run(request, p, dispatch),
  );
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
    const s = routeStateOf<Context>(ctx, 'koa');
    if (!s.enterRoute(options as KoaRouteOptions | false)) return next();
    await serve(s.http, ctx as unknown as Context, next, s);
  };
}

/** Opts a route out: `router.get('/live', noCache(), handler)`. */
export function noCache<StateT = DefaultState, ContextT = DefaultContext>(): Middleware<StateT, ContextT> {
  return cacheRoute<StateT, ContextT>(false);
}

async function serve(
  http: HttpCache<Context>,
  ctx: Context,
  next: Next,
  s: RequestCacheState<Context>,
  outermost = false,
): Promise<void> {
  const request = { method: ctx.method, url: ctx.originalUrl, headers: ctx.headers };
  const { response, ran } = await serveAround(s, http, request, ctx, {
    raw: ctx.req,
    run: next,
    handOver: () => handOver(ctx, s),
    setHeaders: (headers) => ctx.set(headers),
    refresh: (p) => policies.replays.refresh(ctx.originalUrl, ctx.headers, p, dispatchTo(ctx.app)),
  });
  if (response) send(ctx, response, ran, outermost);
}

/**
 * Hands the bytes Koa would send for `ctx.body` (string, Buffer, JSON, stream, Blob, Response) to the
 * awaited capture. A stream past `maxBodySize` (or too slow) goes out whole, uncached. True if captured.
 */
async function handOver(ctx: Context, s: RequestCacheState<Context>): Promise<boolean> {
  if (!s.capturing) return false;
  if (ctx.respond === false || ctx.headerSent) {
    s.release(); // the handler wrote to ctx.res itself
    return false;
  }
  const unmatched = ctx.status === 404 && ctx.body == null; // Koa's own 404: nothing set a body
  let body: unknown = ctx.body instanceof Response ? (ctx.body.body ?? '') : ctx.body;
  if (body === null || body === undefined) {
    const explicitNull = (ctx.response as { _explicitNullBody?: boolean })._explicitNullBody;
    const message = !explicitNull && ctx.status !== 204 && ctx.status !== 205 && ctx.status !== 304;
    if (message) ctx.type = 'text'; // Koa's respond() sends the status message
    body = message ? ctx.message || String(ctx.status) : EMPTY;
  }
  const serialise = (value: unknown) => Buffer.from(JSON.stringify(value));
  const read = await s.captureBody(body, ctx.status, ctx.response.headers, serialise, unmatched);
  if (Buffer.isBuffer(read)) return true;
  const length = ctx.response.get('Content-Length');
  ctx.body = read;
  if (length) ctx.set('Content-Length', length);
  return false;
}

function send(ctx: Context, { status, headers, body }: HttpResponse, replace: boolean, outermost: boolean) {
  prepareResponse(ctx.res, headers, replace, outermost); // koa-compress in front is watched
  ctx.status = status;
  const sendsBody = status !== 204 && status !== 304; // Koa sends none for these, or for HEAD
  if (sendsBody && !body) ctx.body = EMPTY; // a HEAD's: before the headers, the stored length wins
  for (const name in headers) ctx.res.setHeader(name, headers[name]!); // before: Koa looks no type up
  if (sendsBody && body) ctx.body = body;
}
