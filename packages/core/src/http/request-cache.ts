import type { Readable } from 'node:stream';
import type { CacheStatus, Namespaces } from '../cache.js';
import { readBody } from './body.js';
import type { LooseHeaders } from './headers.js';
import type { HttpCache } from './http-cache.js';
import type { HttpRequest, RouteCacheOptions } from './options.js';
import type { CapturedResponse, HttpOutcome, ProduceContext } from './produce.js';

/** The cache of one request, as adapters expose it: Koa's `ctx.cache`, Fastify's `request.cache`. */
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

/** What `RequestCacheState.handle()` asks of the framework. */
export interface LifecycleHooks<Req> {
  /**
   * Run the handler: continue the framework's lifecycle (Koa's `next()`, a Fastify hook's `done()`).
   * Called at most once; `capture` says the response is awaited (run a HEAD as a GET if you can).
   */
  proceed(capture: boolean): void;
  /** Set these headers on the response (`X-Cache: BYPASS` on one that goes through uncached). */
  setHeaders(headers: Readonly<Record<string, string>>): void;
  /** A stale response went out: run the handler detached from it (see `ProduceContext.background`). */
  refresh(context: ProduceContext): Promise<CapturedResponse<Req> | null>;
}

type Headers = Record<string, string | readonly string[] | undefined>;

interface Run<Req> {
  context: ProduceContext;
  setHeaders: (headers: Readonly<Record<string, string>>) => void;
  resolve(response: CapturedResponse<Req> | null): void;
  reject(error: unknown): void;
}

const noop = () => {};
const MUTATIONS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** POST, PUT, PATCH or DELETE: never looked up; `invalidateOnMutation` applies. */
export function isMutation(method: string): boolean {
  return MUTATIONS.has(method);
}

/**
 * The per-request side of an `HttpCache`, for adapters whose handler's response arrives later than
 * the lookup (after Koa's `await next()`, in Fastify's `onSend`): `handle()` looks up and runs the
 * handler through `proceed()`; the adapter then hands the response over with `captured()`, or lets
 * it through with `release()` or `fail()`. Exposed to handlers as a `RequestCache`.
 */
export class RequestCacheState<Req = HttpRequest> implements RequestCache {
  status: CacheStatus = 'BYPASS';
  /** `bypass()` was called. */
  noStore = false;
  /** The policy of the request's route (the app's until a route applies its options). */
  http: HttpCache<Req>;
  /** The policy of the middleware or plugin this state belongs to. */
  readonly app: HttpCache<Req>;
  /** The request path, for route learning (`enter()`). */
  readonly path: string;
  /** A route or a nested middleware applied its options to this request. */
  claimed = false;
  /** This middleware skipped its lookup: the path's route looks up itself. */
  skipped = false;
  /** The lookup's outcome, never rejecting, for a later hook that captures the response (`serveByCallback()`). */
  outcome: Promise<HttpOutcome | null> | undefined;
  /** A refresh or warm replay (`Replays.claim()`), or a state nested under one: nothing is looked up. */
  replaying = false;
  /** The state of a caching middleware nested under this one on a replay: its route decides what is stored. */
  handoff: RequestCacheState<Req> | undefined;
  private entered = false;
  private run: Run<Req> | undefined;
  /** The lookup under way, never rejecting: a later lookup of this request waits for it (it may share its entry). */
  private settled: Promise<unknown> | undefined;

  constructor(app: HttpCache<Req>, path = '') {
    this.app = app;
    this.http = app;
    this.path = path;
  }

  get namespaces(): readonly string[] {
    return this.http.namespaces;
  }

  invalidate(namespaces?: Namespaces): Promise<void> {
    return this.http.invalidate(namespaces);
  }

  bypass(): void {
    this.noStore = true;
  }

  /**
   * Answers the request with `http` (this state's policy or its route's). On a miss, the request's
   * If-None-Match and If-Modified-Since are removed from `request.headers` while the handler runs
   * (the core answers conditionals itself) and the response is awaited: hand it over with
   * `captured()`. Resolves with what to send; rejects when `key`/`perUser` throw or on `fail()`.
   */
  handle(
    http: HttpCache<Req>,
    request: HttpRequest,
    native: Req,
    hooks: LifecycleHooks<Req>,
  ): Promise<HttpOutcome> {
    const produce = (context: ProduceContext): Promise<CapturedResponse<Req> | null> => {
      if (context.background) return hooks.refresh(context);
      if (!context.capture) {
        hooks.setHeaders(context.passHeaders);
        hooks.proceed(false);
        return Promise.resolve(null);
      }
      this.status = 'MISS';
      const headers = request.headers as Headers;
      const { 'if-none-match': inm, 'if-modified-since': ims } = headers;
      delete headers['if-none-match'];
      delete headers['if-modified-since'];
      const captured = this.expect(context, hooks.setHeaders);
      hooks.proceed(true);
      return captured.finally(() => {
        if (inm !== undefined) headers['if-none-match'] = inm;
        if (ims !== undefined) headers['if-modified-since'] = ims;
      });
    };
    const lookup = () =>
      // Lookups of middleware that runs before routing (enter()) may hand the request to its route.
      http.handle(request, produce, native, this.entered && http === this.app).then((outcome) => {
        if (this.http === http) this.status = outcome.status;
        return outcome;
      });
    const outcome = this.settled ? this.settled.then(lookup) : lookup();
    this.settled = outcome.catch(noop);
    return outcome;
  }

  /**
   * Starts awaiting a response for `context` (what `handle()` does on a miss; an adapter calls it for
   * a refresh's synthetic request): the next `captured()`, `release()` or `fail()` settles it.
   */
  expect(
    context: ProduceContext,
    setHeaders: (headers: Readonly<Record<string, string>>) => void = noop,
  ): Promise<CapturedResponse<Req> | null> {
    return new Promise((resolve, reject) => {
      const run = { context, setHeaders, resolve, reject };
      this.run = run;
      // The core stopped waiting (handlerTimeout): the response goes through when it comes.
      context.signal.addEventListener('abort', () => this.run === run && this.release(), { once: true });
    });
  }

  /** What a response is awaited for (maxBodySize, signal), or undefined when none is. */
  get capturing(): ProduceContext | undefined {
    return this.run?.context;
  }

  /** The handler's response, body buffered: it settles the awaited capture. */
  captured(response: { status: number; headers: LooseHeaders; body: Buffer; unmatched?: boolean }): void {
    let routed: RequestCacheState<Req> = this;
    while (routed.handoff) routed = routed.handoff;
    this.take()?.resolve({ ...response, noStore: routed.noStore, route: routed.http });
  }

  /**
   * For adapters that capture a body value rather than writes (Koa's `ctx.body`, Fastify's `onSend`
   * payload): reads `value` within the awaited capture's limits and hands it over (`captured()`).
   * Resolves with the bytes; or, having released the capture, with what to send instead: the stream
   * (past maxBodySize, or the core stopped waiting), or undefined for a value neither read nor
   * `serialise`d. Rejects, after `fail()`, with a failing stream's error. `unmatched`: no route
   * answered (the framework's own 404), see `CapturedResponse.unmatched`.
   */
  async captureBody(
    value: unknown,
    status: number,
    headers: LooseHeaders,
    serialise?: (value: unknown) => Buffer,
    unmatched = false,
  ): Promise<Buffer | Readable | undefined> {
    const context = this.capturing;
    if (!context) return undefined;
    let read: Buffer | Readable | undefined;
    try {
      read = await readBody(value, context.maxBodySize, context.signal);
    } catch (error) {
      this.fail(error);
      throw error;
    }
    if (read === undefined && serialise) read = serialise(value);
    if (Buffer.isBuffer(read)) this.captured({ status, headers, body: read, unmatched });
    else this.release();
    return read;
  }

  /** Lets the response through uncached (over maxBodySize, a route taking over) with `X-Cache: BYPASS`. */
  release(): void {
    const run = this.take();
    if (!run) return;
    run.setHeaders(run.context.passHeaders);
    run.resolve(null);
  }

  /** The handler, or its body stream, failed: requests waiting on this one run their own handler. */
  fail(error: unknown): void {
    this.take()?.reject(error);
  }

  private take(): Run<Req> | undefined {
    const run = this.run;
    this.run = undefined;
    return run;
  }

  /** With `invalidateOnMutation`, after a successful mutation: the bump, never rejecting (faults go to `cache.on('error')`). */
  invalidateAfter(method: string, status: number): Promise<void> | undefined {
    return this.http.invalidatesAfter(method, status) ? this.http.invalidate().catch(noop) : undefined;
  }

  /**
   * For middleware that looks up before routing (Koa, Express): whether to look up now. Not when
   * the path's route learned to look up itself (call `leave()` once the request is done). A state of
   * an outer middleware (`outer`) is taken over: its capture is let go, its path learned.
   */
  enter(outer?: RequestCacheState<Req>): boolean {
    this.entered = true;
    if (this.app.learned.has(this.path)) {
      this.skipped = true;
      return false;
    }
    if (outer) {
      outer.claimed = true;
      outer.app.learned.learn(outer.path, true);
      outer.release();
      this.settled = outer.settled;
    }
    return true;
  }

  /**
   * For route middleware: applies the route's options. True when the route must look up itself
   * (`handle(this.http, ...)`): its options change the lookup, it opts out, or the lookup was skipped;
   * the lookup already under way, if any, is let go.
   */
  enterRoute(options: RouteCacheOptions<Req> | false): boolean {
    const route = this.app.route(options);
    this.claimed = true;
    this.http = route;
    const takeover = !route.enabled || !this.app.sharesLookupWith(route);
    if (!this.entered || (!takeover && !this.skipped)) return false;
    this.app.learned.learn(this.path, takeover);
    this.release();
    return true;
  }

  /** After a skipped lookup: forgets the path when no route claimed it. */
  leave(): void {
    if (this.skipped && !this.claimed) this.app.learned.learn(this.path, false);
  }
}
