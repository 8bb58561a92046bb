/** What passes between the core and an adapter while one request is answered. */
import type { CacheStatus } from '../cache.js';
import type { LooseHeaders } from './headers.js';
import type { HttpRequest, ResolvedHttpPolicy } from './options.js';
import type { ResponseHeaders } from './response-codec.js';

/** What the core reads of a route's policy (an `HttpCache`): its resolved options. */
export interface RoutePolicy<Req = HttpRequest> {
  readonly policy: ResolvedHttpPolicy<Req>;
}

/** The response a handler produced, as the adapter captured it. */
export interface CapturedResponse<Req = HttpRequest> {
  status: number;
  /** The headers the handler (and middleware before it) set, any case: Node's `res.getHeaders()`. */
  headers: LooseHeaders;
  body: Buffer;
  /** The handler asked not to store this one (`req.cache.bypass()`). */
  noStore?: boolean;
  /**
   * The route's policy (an `HttpCache` from `route()`), when it shares this lookup (`sharesLookupWith`):
   * its store-time options (ttl, cacheControl, statuses, storeHeaders, opt-out) decide this response.
   */
  route?: RoutePolicy<Req>;
  /** The framework's request that produced it, after routing: a warmer checks `perUser` against it. */
  request?: Req;
  /**
   * No route answered: the framework's own 404 (Express's final handler, Koa's default). Such a 404
   * is not stored, so that random URLs cannot each create an entry.
   */
  unmatched?: boolean;
}

/** What `produce` is asked to do. */
export interface ProduceContext {
  /**
   * false: run the handler untouched (no buffering), set `passHeaders` on its response, and resolve
   * null at once. true: buffer the response and resolve with it. Before a capturing run, remove the
   * request's If-None-Match and If-Modified-Since (the core answers conditionals itself) and run a
   * HEAD as a GET, because the entry serves both.
   */
  readonly capture: boolean;
  /**
   * The client was already answered (stale): run the handler detached from its response (a synthetic
   * request, or a framework that ignores writes after the response) and resolve with the capture,
   * or null when the framework cannot.
   */
  readonly background: boolean;
  /** Stop buffering past this many body bytes: let the response through and resolve null. */
  readonly maxBodySize: number;
  /** Headers to set on a response that goes through uncaptured (`X-Cache: BYPASS`). */
  readonly passHeaders: Readonly<Record<string, string>>;
  /**
   * Aborted when the core stops waiting (`handlerTimeout`). Release the capture so that a late
   * response still reaches its client; the core already treats the response as passed through, and
   * requests waiting on it run their own handler.
   */
  readonly signal: AbortSignal;
}

/** Runs the handler for one request. Called at most once per `handle()`, only when needed. */
export type Produce<Req = HttpRequest> = (context: ProduceContext) => Promise<CapturedResponse<Req> | null>;

/** What to send. Header names are lower case. */
export interface HttpResponse {
  status: number;
  /**
   * On a hit, merge these over headers set before the cache ran (CORS, X-Powered-By). After a
   * capture, these replace the headers the handler set.
   */
  headers: ResponseHeaders;
  /** null: send no body (HEAD, 304, 204). */
  body: Buffer | null;
}

export interface HttpOutcome {
  status: CacheStatus;
  /** null when the response goes through without the cache: nothing for the adapter to send. */
  response: HttpResponse | null;
}
