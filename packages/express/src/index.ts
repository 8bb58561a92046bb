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
  VersionedCacheError,
  type WarmRequest,
  type WarmRoutesOptions,
} from '@versioned-cache/core';
import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';
import { capture } from './capture.js';

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
/** `warmRoutes()` options. */
export interface ExpressWarmOptions extends WarmRoutesOptions<Request> {
  /**
   * The `versionedCache()` middleware the routes are behind.
   * @default the only `versionedCache()` middleware `app.use()`d on `app` itself
   */
  cache?: RequestHandler;
}

type State = RequestCacheState<Request>;

const STATE = Symbol('versioned-cache');
const synthetic = new WeakSet<IncomingMessage>();
/** Each `versionedCache()` middleware's policy, for `warmRoutes()`. */
const policies = new MiddlewarePolicies<Request>();
const stateOf = (req: Request) => (req as Request & { [STATE]?: State })[STATE];

/**
 * Caches the GET and HEAD responses of the routes behind it under the namespace version(s). Paths
 * whose route looks up differently (`cacheRoute` with key, vary, namespaces...) are learned, so that
 * their requests skip this lookup and cost one read, not two.
 */
export function versionedCache(namespaces: Namespaces, options: ExpressCacheOptions): RequestHandler {
  const app = createHttpCache<Request>(namespaces, options);
  const middleware: RequestHandler = (req, res, next) => {
    const outer = stateOf(req);
    const s = new RequestCacheState(app, req.originalUrl.split('?', 1)[0]);
    (req as Request & { [STATE]?: State })[STATE] = s;
    req.cache = s;
    if (synthetic.has(req)) return next();
    if (isMutation(req.method)) return invalidateBeforeEnd(req, res, s, next);
    // A versionedCache() nested under another one (a router's under the app's) takes over from it.
    if (s.enter(outer)) return serve(app, req, res, next, s);
    res.once('finish', () => s.leave());
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
  const { cache, ...rest } = (options ?? {}) as ExpressWarmOptions;
  return policyOf(app, cache).warmRoutes(rest, (request, ctx) => replayThrough(rootOf(app), request, ctx), [
    'cache',
  ]);
}

function policyOf(app: Application, cache: RequestHandler | undefined): HttpCache<Request> {
  return policies.resolve(
    cache,
    ((app as { router?: { stack?: { handle?: unknown }[] } }).router?.stack ?? []).map(
      (layer) => layer.handle,
    ),
  );
}

function rootOf(app: Application): Application {
  let root = app;
  while ((root as { parent?: Application }).parent) root = (root as { parent?: Application }).parent!;
  return root;
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
    const s = stateOf(req);
    if (!s)
      return next(
        new VersionedCacheError(
          'VC_INVALID_ARGUMENT',
          '@versioned-cache/express: cacheRoute() needs app.use(versionedCache(...)) before the route',
        ),
      );
    if (s.enterRoute(options)) serve(s.http, req, res, next, s);
    else next();
  };
}

/** Opts a route out: `app.get('/live', noCache(), handler)`. */
export function noCache(): RequestHandler {
  return cacheRoute(false);
}

function serve(http: HttpCache<Request>, req: Request, res: Response, next: NextFunction, s: State): void {
  const method = req.method;
  let release: (() => void) | undefined;
  let captured = false;
  const proceed = (capturing: boolean) => {
    if (capturing) {
      req.method = 'GET';
      release = capture(res, s.capturing!, (response) => {
        req.method = method;
        captured = response !== null;
        // No route matched: the final handler's 404 (req.route is set only by a matching route).
        if (response) s.captured({ ...response, unmatched: req.route === undefined });
        else s.release();
      });
    }
    next();
  };
  const setHeaders = (headers: Readonly<Record<string, string>>) => {
    if (release) return release(); // it sets them, then lets what was buffered go out
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  };
  const request = { method, url: req.originalUrl, headers: req.headers };
  s.handle(http, request, req, { proceed, setHeaders, refresh: (ctx) => replay(req, ctx) }).then(
    (outcome) => {
      if (outcome.response && !res.headersSent) send(res, outcome.response, captured);
    },
    (error: unknown) => {
      if (res.headersSent) res.destroy();
      else next(error);
    },
  );
}

function send(res: Response, response: HttpResponse, replaceHeaders: boolean): void {
  if (replaceHeaders) for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(response.status, response.headers);
  res.end(response.body ?? undefined);
}

/**
 * A stale response already went to the client: refresh with a synthetic GET through the root app,
 * whose response is captured and never sent anywhere.
 */
function replay(req: Request, ctx: ProduceContext): Promise<CapturedResponse<Request> | null> {
  const { 'if-none-match': _inm, 'if-modified-since': _ims, ...headers } = req.headers;
  return replayThrough(rootOf(req.app), { url: req.originalUrl, headers }, ctx);
}

/** A synthetic GET through `app` that no `versionedCache()` looks up: its response is captured only. */
function replayThrough(
  app: Application,
  request: WarmRequest | { url: string; headers: Request['headers'] },
  ctx: ProduceContext,
): Promise<CapturedResponse<Request> | null> {
  const fake = new IncomingMessage(new Socket()) as Request;
  fake.method = 'GET';
  fake.url = request.url;
  fake.headers = { ...request.headers };
  fake.push(null);
  synthetic.add(fake);
  const fakeRes = new ServerResponse(fake);
  return new Promise((resolve) => {
    capture(fakeRes, ctx, (response) => {
      const routed = stateOf(fake);
      resolve(response && { ...response, noStore: routed?.noStore, route: routed?.http, request: fake });
    });
    app(fake, fakeRes as Response, (error?: unknown) => {
      fakeRes.statusCode = error ? 500 : 404;
      fakeRes.end();
    });
  });
}

/** With `invalidateOnMutation`, a successful mutation completes once the new version is written. */
function invalidateBeforeEnd(req: Request, res: Response, s: State, next: NextFunction): void {
  const end = res.end;
  res.end = function (this: Response, ...args: unknown[]) {
    res.end = end;
    const finish = () => (end as (...a: unknown[]) => Response).apply(res, args);
    const invalidating = s.invalidateAfter(req.method, res.statusCode);
    if (!invalidating) return finish();
    invalidating.then(finish);
    return res;
  } as Response['end'];
  next();
}
