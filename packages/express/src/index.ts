import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import {
  assertRouteOptions,
  type CacheStatus,
  type CapturedResponse,
  createHttpCache,
  type HttpCache,
  type HttpCacheOptions,
  type HttpResponse,
  type Namespaces,
  type ProduceContext,
  type RouteCacheOptions,
  VersionedCacheError,
  VersionedCacheTypeError,
  type WarmRequest,
  type WarmRoutesOptions,
} from '@versioned-cache/core';
import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';
import { capture } from './capture.js';

/** The cache of one request. */
export interface RequestCache {
  /** MISS or BYPASS while the handler runs (a HIT never runs it); the final status once answered. */
  readonly status: CacheStatus;
  /** The namespaces of this request's route. */
  readonly namespaces: readonly string[];
  /** Invalidates the route's namespaces, or the given ones: one version bump each. */
  invalidate(namespaces?: Namespaces): Promise<void>;
  /** Do not store this response (it still goes to its client). */
  bypass(): void;
}

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

interface State extends RequestCache {
  status: CacheStatus;
  app: HttpCache<Request>;
  http: HttpCache<Request>;
  noStore: boolean;
  claimed: boolean;
  skipped: boolean;
  release: () => void;
  /** The app-level lookup under way, which a route taking over waits for (it may share its entry key). */
  pending?: Promise<void>;
  path: string;
}

const STATE = Symbol('versioned-cache');
const synthetic = new WeakSet<IncomingMessage>();
/** Each `versionedCache()` middleware's policy, for `warmRoutes()`. */
const policies = new WeakMap<object, HttpCache<Request>>();
const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const state = (req: Request) => (req as Request & { [STATE]?: State })[STATE];

/**
 * Caches the GET and HEAD responses of the routes behind it under the namespace version(s). Paths
 * whose route looks up differently (`cacheRoute` with key, vary, namespaces...) are learned, so that
 * their requests skip this lookup and cost one read, not two.
 */
export function versionedCache(namespaces: Namespaces, options: ExpressCacheOptions): RequestHandler {
  const app = createHttpCache<Request>(namespaces, options);
  const middleware: RequestHandler = (req, res, next) => {
    const outer = state(req);
    const s: State = {
      status: 'BYPASS',
      app,
      http: app,
      noStore: false,
      claimed: false,
      skipped: false,
      release: () => {},
      path: req.originalUrl.split('?', 1)[0]!,
      get namespaces() {
        return this.http.namespaces;
      },
      invalidate(ns) {
        return this.http.invalidate(ns);
      },
      bypass() {
        this.noStore = true;
      },
    };
    (req as Request & { [STATE]?: State })[STATE] = s;
    req.cache = s;
    if (synthetic.has(req)) return next();
    if (MUTATIONS.has(req.method)) return invalidateBeforeEnd(req, res, s, next);
    if (app.routeLooksUp(s.path)) {
      s.skipped = true;
      res.once('finish', () => s.claimed || app.learnRoute(s.path, false));
      return next();
    }
    // A versionedCache() nested under another one (a router's under the app's) takes over from it.
    if (outer) {
      outer.claimed = true;
      outer.app.learnRoute(outer.path, true);
      outer.release();
    }
    if (outer?.pending) void outer.pending.then(() => (s.pending = serve(app, req, res, next, s)));
    else s.pending = serve(app, req, res, next, s);
  };
  policies.set(middleware, app);
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
  if (cache !== undefined) {
    const http = policies.get(cache);
    if (!http) throw new VersionedCacheTypeError('cache', 'must be a middleware versionedCache() returned');
    return http;
  }
  const stack = (app as { router?: { stack?: { handle?: object }[] } }).router?.stack ?? [];
  const found = stack.flatMap((layer) => (layer.handle && policies.get(layer.handle)) || []);
  if (found.length !== 1)
    throw new VersionedCacheTypeError(
      'cache',
      `app uses ${found.length} versionedCache() middlewares: pass the one the routes are behind`,
    );
  return found[0]!;
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
    const s = state(req);
    if (!s)
      return next(
        new VersionedCacheError(
          'VC_INVALID_ARGUMENT',
          '@versioned-cache/express: cacheRoute() needs app.use(versionedCache(...)) before the route',
        ),
      );
    const route = s.app.route(options);
    s.claimed = true;
    s.http = route;
    const takeover = !route.enabled || !s.app.sharesLookupWith(route);
    if (synthetic.has(req) || MUTATIONS.has(req.method) || (!takeover && !s.skipped)) return next();
    s.app.learnRoute(s.path, takeover);
    s.release();
    if (s.pending) void s.pending.then(() => serve(route, req, res, next, s));
    else serve(route, req, res, next, s);
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
  s: State,
): Promise<void> {
  let captured = false;
  const produce = async (ctx: ProduceContext): Promise<CapturedResponse<Request> | null> => {
    if (ctx.background) return replay(req, ctx);
    if (!ctx.capture) {
      for (const [name, value] of Object.entries(ctx.passHeaders)) res.setHeader(name, value);
      next();
      return null;
    }
    s.status = 'MISS';
    const { method, headers } = req;
    const { 'if-none-match': inm, 'if-modified-since': ims } = headers;
    delete headers['if-none-match'];
    delete headers['if-modified-since'];
    req.method = 'GET';
    const run = capture(res, ctx);
    s.release = run.release;
    next();
    const response = await run.response;
    req.method = method;
    if (!response) {
      // Released to a route that looks up itself: it answers the conditionals.
      if (inm !== undefined) headers['if-none-match'] = inm;
      if (ims !== undefined) headers['if-modified-since'] = ims;
      return null;
    }
    captured = true;
    return { ...response, noStore: s.noStore, route: s.http };
  };
  const request = { method: req.method, url: req.originalUrl, headers: req.headers };
  // The middleware's lookup comes before routing: a route that looks up itself may take the request over.
  return http.handle(request, produce, req, http === s.app).then(
    (outcome) => {
      if (s.http === http) s.status = outcome.status;
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
  const fake = new IncomingMessage(new Socket());
  fake.method = 'GET';
  fake.url = request.url;
  fake.headers = { ...request.headers };
  fake.push(null);
  synthetic.add(fake);
  const fakeRes = new ServerResponse(fake);
  const run = capture(fakeRes, ctx);
  app(fake as Request, fakeRes as Response, (error?: unknown) => {
    fakeRes.statusCode = error ? 500 : 404;
    fakeRes.end();
  });
  return run.response.then((response) => {
    const routed = state(fake as Request);
    return (
      response && { ...response, noStore: routed?.noStore, route: routed?.http, request: fake as Request }
    );
  });
}

/** With `invalidateOnMutation`, a successful mutation completes once the new version is written. */
function invalidateBeforeEnd(req: Request, res: Response, s: State, next: NextFunction): void {
  const end = res.end;
  res.end = function (this: Response, ...args: unknown[]) {
    res.end = end;
    const finish = () => (end as (...a: unknown[]) => Response).apply(res, args);
    if (!s.http.invalidatesAfter(req.method, res.statusCode)) return finish();
    // A failed invalidation is reported through cache.on('error'); the response still completes.
    s.http
      .invalidate()
      .catch(() => {})
      .finally(finish);
    return res;
  } as Response['end'];
  next();
}
