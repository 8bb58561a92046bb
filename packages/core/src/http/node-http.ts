import { IncomingMessage, OutgoingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { watchDownstreamEncoding } from './downstream-encoding.js';
import type { HttpCache } from './http-cache.js';
import { capture } from './node-capture.js';
import type { CapturedResponse, HttpResponse, ProduceContext } from './produce.js';
import type { RequestCacheState } from './request-cache.js';
import type { ResponseHeaders } from './response-codec.js';
import type { WarmRequest } from './route-warmer.js';

/**
 * Plumbing over Node's `IncomingMessage`/`ServerResponse`, for any adapter that reaches them:
 * Express, or a framework's raw request and response (Fastify's `request.raw`/`reply.raw`).
 */

/** A node:http handler, with the continuation Express-style apps take. */
export type NodeHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => unknown;

export interface NodeServeOptions<Req> {
  /** The request target from the root (Express's `originalUrl`). */
  url: string;
  /** What the route's `key` and `perUser` functions receive. */
  native: Req;
  /** Runs the handler (Express's `next()`), or reports an error (`next(error)`). */
  next(error?: unknown): void;
  /** A stale response went out: run the route detached (`Replays.refresh()`). */
  refresh(context: ProduceContext): Promise<CapturedResponse<Req> | null>;
  /** At the end of the response: no route answered it (Express: `req.route` unset), see `CapturedResponse.unmatched`. */
  unmatched?(): boolean;
}

// Express swaps the prototype of every response, and reading `res.headersSent` through that chain
// costs about 0.3 µs a time (measured on Node 20); Node's own getter, called directly, 30 ns.
const headersSentGetter = Object.getOwnPropertyDescriptor(OutgoingMessage.prototype, 'headersSent')?.get;
const headersSent = (res: ServerResponse): boolean =>
  headersSentGetter ? headersSentGetter.call(res) === true : res.headersSent;

/**
 * Answers one request with `http`: a hit is written with `writeHead` + `end` of the stored bytes; on
 * a miss the handler runs with `res.write`/`res.end` captured (a HEAD as a GET), and the response
 * the core decides on goes out in its place.
 */
export function serveNode<Req>(
  state: RequestCacheState<Req>,
  http: HttpCache<Req>,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeServeOptions<Req>,
): void {
  const method = req.method!;
  let release: (() => void) | undefined;
  let captured = false;
  const proceed = (capturing: boolean) => {
    if (capturing) {
      req.method = 'GET';
      release = captureInto(
        res,
        state,
        (response) => {
          req.method = method;
          captured = response;
        },
        options.unmatched,
      );
    }
    options.next();
  };
  const setHeaders = (headers: Readonly<Record<string, string>>) => {
    if (release) return release(); // it sets them, then lets what was buffered go out
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  };
  const request = { method, url: options.url, headers: req.headers };
  state.handle(http, request, options.native, { proceed, setHeaders, refresh: options.refresh }).then(
    (outcome) => {
      if (outcome.response && !headersSent(res)) writeResponse(res, outcome.response, captured);
    },
    (error: unknown) => {
      if (headersSent(res)) res.destroy();
      else options.next(error);
    },
  );
}

/**
 * Captures what is written to `res` for the response `state` awaits (a miss, or a replay): handed
 * over at `res.end()`, released past maxBodySize or `flushHeaders()`. Returns the release function.
 * `unmatched`, asked at the end: no route answered (see `CapturedResponse.unmatched`).
 */
export function captureInto<Req>(
  res: ServerResponse,
  state: RequestCacheState<Req>,
  done?: (captured: boolean) => void,
  unmatched?: () => boolean,
): () => void {
  return capture(res, state.capturing!, (response) => {
    done?.(response !== null);
    if (response) state.captured({ ...response, unmatched: unmatched?.() });
    else state.release();
  });
}

/** Writes a response the core decided on; `replaceHeaders` drops the headers the handler set first. */
export function writeResponse(res: ServerResponse, response: HttpResponse, replaceHeaders = false): void {
  // The headers leave in this call, so no framework code runs after the cache: only a compressor
  // that already wrapped `res` can still change the coding (`outermost`).
  prepareResponse(res, response.headers, replaceHeaders, true);
  res.writeHead(response.status, response.headers);
  res.end(response.body ?? undefined);
}

/** `response` over the headers set before it (a framework's, CORS): the same object when there are none. */
export function overHeaders(before: Readonly<Record<string, unknown>>, response: HttpResponse): HttpResponse {
  if (Object.keys(before).length === 0) return response;
  return { ...response, headers: { ...before, ...response.headers } as ResponseHeaders };
}

const WRAPPABLE = ['writeHead', 'setHeader', 'write', 'end'] as const;

function isWrapped(res: ServerResponse): boolean {
  for (const method of WRAPPABLE) if (Object.hasOwn(res, method)) return true;
  return false;
}

/**
 * Before a response the core decided on goes out on `res`, by `writeResponse()` or the framework
 * (Koa's `ctx.body`): the handler's headers are dropped when `replaceHeaders`, and a compressor in
 * front of the cache is watched (`watchDownstreamEncoding()`), at `writeHead` only unless something
 * wrapped `res`. `outermost`: no framework code can act on the response after the cache (it is the
 * first middleware, or the response is written now), so only a wrapper of `res` could re-encode it;
 * a response nobody wrapped, a hit's in the common case, then goes without the watch.
 */
export function prepareResponse(
  res: ServerResponse,
  headers: ResponseHeaders,
  replaceHeaders = false,
  outermost = false,
): void {
  if (replaceHeaders) for (const name of res.getHeaderNames()) res.removeHeader(name);
  const wrapped = isWrapped(res);
  if (wrapped || !outermost) watchDownstreamEncoding(res, headers, wrapped);
}

/** Holds `res.end()` until `before()` settles (`invalidateOnMutation`: the new version is written first). */
export function endAfter(res: ServerResponse, before: () => Promise<void> | undefined): void {
  const end = res.end;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    res.end = end;
    const finish = () => (end as (...a: unknown[]) => ServerResponse).apply(res, args);
    const waiting = before();
    if (!waiting) return finish();
    waiting.then(finish);
    return res;
  } as ServerResponse['end'];
}

/**
 * A `Dispatch` for `Replays` over a node:http handler: a synthetic GET with no client. Settles once
 * the response ends (a route that did not capture it, or `next` reached: 404, or 500 on an error), or
 * when the handler's returned promise does (Koa's `app.callback()`).
 */
export function dispatchNode(handler: NodeHandler, request: WarmRequest): Promise<void> {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = request.url;
  req.headers = { ...request.headers };
  req.push(null);
  const res = new ServerResponse(req);
  return new Promise((resolve) => {
    const end = res.end;
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      res.end = end;
      resolve();
      return (end as (...a: unknown[]) => ServerResponse).apply(res, args);
    } as ServerResponse['end'];
    const returned = handler(req, res, (error) => {
      res.statusCode = error ? 500 : 404;
      res.end();
    });
    if (returned instanceof Promise)
      returned.then(
        () => resolve(),
        () => resolve(),
      );
  });
}
