import {
  assertRouteOptions,
  captureInto,
  createHttpCache,
  type Dispatch,
  dispatchNode,
  endAfter,
  type HttpCache,
  type HttpCacheOptions,
  holdOnPrototype,
  MiddlewarePolicies,
  type MiddlewareWarmOptions,
  type Namespaces,
  type NodeHandler,
  type RequestCache,
  type RequestCacheState,
  type RouteCacheOptions,
  routeStateOf,
  serveNode,
} from '@versioned-cache/core';
import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';

export type { RequestCache } from '@versioned-cache/core';

declare global {
  namespace Express {
    interface Request {
      /** This request's cache; exists once the `versionedCache()` middleware ran. */
      cache: RequestCache;
    }
  }
}

/** `versionedCache()` options: `cache` plus every route option. The key functions receive Express's request. */
export type ExpressCacheOptions = HttpCacheOptions<Request>;
/** `cacheRoute()` options. */
export type ExpressRouteOptions = RouteCacheOptions<Request>;
/** `warmRoutes()` options: `paths`, `headers`, `route`, `user`, and `cache`, the middleware they are behind. */
export type ExpressWarmOptions = MiddlewareWarmOptions<Request, RequestHandler>;

/** Each `versionedCache()` middleware's policy, for `warmRoutes()`; refreshes and warms. */
const policies = new MiddlewarePolicies<Request>();

/**
 * Caches the GET and HEAD responses of the routes behind it under the namespace version(s). Paths
 * whose route looks up differently (`cacheRoute` with key, vary, namespaces...) are learned, so that
 * their requests skip this lookup and cost one read, not two.
 */
export function versionedCache(namespaces: Namespaces, options: ExpressCacheOptions): RequestHandler {
  const app = createHttpCache<Request>(namespaces, options);
  const middleware: RequestHandler = (req, res, next) => {
    const request = { method: req.method, url: req.originalUrl, headers: req.headers };
    const { state, step } = policies.enter(app, holdOnPrototype(req), request, req);
    if (step === 'lookup') return serve(app, req, res, next, state);
    if (step === 'replay') captureInto(res, state, undefined, () => req.route === undefined);
    else if (step === 'mutation') endAfter(res, () => state.invalidateAfter(req.method, res.statusCode));
    else if (step === 'skip') res.once('finish', () => state.leave());
    next();
  };
  policies.register(middleware, app);
  return middleware;
}

/**
 * Warms routes on `cache.invalidate(ns, { warm: true })`: each path is replayed in-process as a
 * synthetic GET through the root app (as a stale refresh is), and its response stored under the new
 * version before it is published. Returns a function that unregisters them.
 */
export function warmRoutes(app: Application, options: ExpressWarmOptions): () => void {
  const stack = (app as { router?: { stack?: { handle?: unknown }[] } }).router?.stack ?? [];
  const replay = dispatchTo(app);
  return policies.warmRoutes(
    options,
    stack.map((layer) => layer.handle),
    (request, context) => policies.replays.run(request, context, replay),
  );
}

/** Synthetic GETs through the root app, which the outermost `versionedCache()` captures. */
function dispatchTo(app: Application): Dispatch {
  let root = app;
  while ((root as { parent?: Application }).parent) root = (root as { parent?: Application }).parent!;
  return (request) => dispatchNode(root as unknown as NodeHandler, request);
}

/**
 * Per-route options, as route middleware: `app.get('/x', cacheRoute({ ttl: '1m' }), handler)`, or
 * `cacheRoute(false)` to opt out. Options that only change what is stored (ttl, cacheControl,
 * statuses, storeHeaders) join the lookup `versionedCache()` already made; options that change the
 * lookup (key, vary, perUser, namespaces, grace...) and opt-outs make this route look up itself.
 */
export function cacheRoute(options: ExpressRouteOptions | false = {}): RequestHandler {
  assertRouteOptions(options);
  return (req, res, next) => {
    const s = routeStateOf<Request>(req, 'express'); // Express passes what it throws to next(error)
    if (s.enterRoute(options)) serve(s.http, req, res, next, s);
    else next();
  };
}

/** Opts a route out: `app.get('/live', noCache(), handler)`. */
export function noCache(): RequestHandler {
  return cacheRoute(false);
}

function serve(
  http: HttpCache<Request>,
  req: Request,
  res: Response,
  next: NextFunction,
  s: RequestCacheState<Request>,
): void {
  serveNode(s, http, req, res, {
    url: req.originalUrl,
    native: req,
    next,
    // Express sets req.route only for a matching route: without it, the 404 is the final handler's.
    unmatched: () => req.route === undefined,
    refresh: (context) =>
      policies.replays.refresh(req.originalUrl, req.headers, context, dispatchTo(req.app)),
  });
}
