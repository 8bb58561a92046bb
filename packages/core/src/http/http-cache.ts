import etag from 'etag';
import {
  type CacheStatus,
  type ComputeContext,
  type GetOrSetOptions,
  type Namespaces,
  type VersionedCache,
  YIELD_TO_REFRESH,
} from '../cache.js';
import type { Codec } from '../codec.js';
import { VersionedCacheError, VersionedCacheTypeError } from '../errors.js';
import { parseCacheControl } from './cache-control.js';
import { buildVariants, etagOfEncoded, isCompressible, selectRepresentation } from './content-coding.js';
import { cleanHeaders, hasNoBody, httpDate, type LooseHeaders, parseVary, pickHeaders } from './headers.js';
import {
  defaultPolicy,
  HTTP_OPTION_NAMES,
  type HttpCacheOptions,
  type HttpRequest,
  mergeRouteOptions,
  type ResolvedHttpPolicy,
  type RouteCacheOptions,
  sameLookup,
} from './options.js';
import { conditionalHeaders, evaluatePreconditions, type RequestConditions } from './preconditions.js';
import { CREDENTIAL_HEADERS, privacyHeaders } from './privacy.js';
import { resolveDebug } from './representation-options.js';
import { buildEntryKey, headerValue, targetKey } from './request-key.js';
import { type ResponseHeaders, type StoredResponse, storedResponseCodec } from './response-codec.js';
import {
  assertWarmable,
  type Replay,
  resolveWarmRoutes,
  type WarmRequest,
  type WarmRoutesOptions,
} from './route-warmer.js';

/** The response a handler produced, as the adapter captured it. */
export interface CapturedResponse<Req = HttpRequest> {
  status: number;
  /** The headers the handler (and middleware before it) set, any case: Node's `res.getHeaders()`. */
  headers: LooseHeaders;
  body: Buffer;
  /** The handler asked not to store this one (`req.cache.bypass()`). */
  noStore?: boolean;
  /**
   * The route's policy, from `route()`, when it shares this lookup (`sharesLookupWith`): its
   * store-time options (ttl, cacheControl, statuses, storeHeaders, opt-out) decide this response.
   */
  route?: HttpCache<Req>;
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

/** The request headers `respond()` answers from: preconditions and Accept-Encoding. */
interface Conditions extends RequestConditions {
  acceptEncoding: string | undefined;
}

interface Computed {
  /** The representation stored, when it may be. */
  stored: StoredResponse | null;
  /** What the request that produced it sends (its full headers); null when decoded from the store. */
  own: StoredResponse | null;
  /** Compress `stored` into these codings before storing it. */
  compress?: ResolvedHttpPolicy<unknown>['compress'];
  storable: boolean;
  ttlMs: number;
  passed: boolean;
  failed: boolean;
  error?: unknown;
}

const EMPTY = Buffer.alloc(0);
const NEVER = new AbortController().signal;
const MUTATIONS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_LEARNED_PATHS = 10_000;
const MAX_LEARNED_PATH = 2048;

const computedCodec: Codec<Computed> = {
  encode: (value) => storedResponseCodec.encode(value.stored!),
  decode: (bytes) => ({
    stored: storedResponseCodec.decode(bytes),
    own: null,
    storable: true,
    ttlMs: 0,
    passed: false,
    failed: false,
  }),
};

/**
 * One HTTP caching policy over a `VersionedCache`: which requests and responses may be cached, under
 * which key, and what to send (ETag, 304, Cache-Control, Age, Vary, Date, the cache status header,
 * HEAD). Framework-free; an adapter translates its request in, calls `handle()`, and writes the result.
 */
export class HttpCache<Req = HttpRequest> {
  readonly cache: VersionedCache;
  /** Lower-case name of the cache status header, or null when turned off. */
  readonly statusHeader: string | null;
  /** @internal the resolved options; read them through the getters. */
  readonly policy: ResolvedHttpPolicy<Req>;
  private readonly fetchOptions: GetOrSetOptions<Computed>;
  /** The same, for lookups made before routing: see `handle()`. */
  private readonly routingFetchOptions: GetOrSetOptions<Computed>;
  private readonly passHeaders: Readonly<Record<string, string>>;
  private readonly routes = new WeakMap<object, HttpCache<Req>>();
  private readonly ownLookups = new Set<string>();
  private optedOut: HttpCache<Req> | undefined;

  constructor(cache: VersionedCache, statusHeader: string | null, policy: ResolvedHttpPolicy<Req>) {
    this.cache = cache;
    this.statusHeader = statusHeader;
    this.policy = policy;
    this.fetchOptions = Object.freeze({
      ttl: (value: Computed) => value.ttlMs,
      grace: policy.graceMs,
      earlyRefresh: policy.earlyBeta,
      codec: computedCodec,
      shouldStore: (value: Computed) => value.storable,
    });
    this.routingFetchOptions = Object.freeze({ ...this.fetchOptions, [YIELD_TO_REFRESH]: true });
    this.passHeaders = Object.freeze(statusHeader ? { [statusHeader]: 'BYPASS' } : {});
  }

  /** The namespaces this policy's entries live in (sorted); `invalidate()` bumps them. */
  get namespaces(): readonly string[] {
    return this.policy.namespaces;
  }

  /** false for a route that opted out. */
  get enabled(): boolean {
    return this.policy.enabled;
  }

  /**
   * A route's policy: `options` merged over this one (namespaces, vary and storeHeaders add; the
   * rest replace), or `false` to opt out. Validated here; remembered per options object, so calling
   * it per request with the same object costs a WeakMap read.
   */
  route(options: RouteCacheOptions<Req> | false): HttpCache<Req> {
    if (options === false) {
      this.optedOut ??= new HttpCache(this.cache, this.statusHeader, mergeRouteOptions(this.policy, false));
      return this.optedOut;
    }
    let route = typeof options === 'object' && options !== null ? this.routes.get(options) : undefined;
    if (!route) {
      route = new HttpCache(this.cache, this.statusHeader, mergeRouteOptions(this.policy, options));
      this.routes.set(options, route);
    }
    return route;
  }

  /**
   * Whether `other` looks entries up exactly as this policy does (same namespaces, key, vary,
   * perUser, grace, honorNoCache, maxBodySize, handlerTimeout). When it does, one lookup serves
   * both and `other` only changes what is stored; when it does not, `other` must do its own lookup.
   */
  sharesLookupWith(other: HttpCache<Req>): boolean {
    return sameLookup(this.policy, other.policy);
  }

  /**
   * For adapters whose middleware looks up before routing (Express, Koa): whether requests for this
   * path were last handled by a route with its own lookup or an opt-out, so that the middleware can
   * skip a lookup that route would make again. Bounded: the oldest paths are forgotten first.
   */
  routeLooksUp(path: string): boolean {
    return this.ownLookups.has(path);
  }

  /** Records what `routeLooksUp(path)` answers next time. */
  learnRoute(path: string, ownLookup: boolean): void {
    this.ownLookups.delete(path);
    if (!ownLookup || path.length > MAX_LEARNED_PATH) return;
    if (this.ownLookups.size >= MAX_LEARNED_PATHS)
      this.ownLookups.delete(this.ownLookups.values().next().value!);
    this.ownLookups.add(path);
  }

  /** Whether a finished request should invalidate: invalidateOnMutation, an unsafe method, 2xx or 3xx. */
  invalidatesAfter(method: string, status: number): boolean {
    return this.policy.invalidateOnMutation && MUTATIONS.has(method) && status >= 200 && status < 400;
  }

  /** Invalidates this policy's namespaces, or the given ones. */
  invalidate(namespaces: Namespaces = this.policy.namespaces): Promise<void> {
    return this.cache.invalidate(namespaces);
  }

  /**
   * For adapters' `warmRoutes()`: registers a warmer per path (see `addRouteWarmer`) with this
   * policy, or the route's (`options.route`). Validates everything first, naming the field; `extra`
   * are the adapter's own option names. Returns a function that unregisters them all.
   */
  warmRoutes(options: WarmRoutesOptions<Req>, replay: Replay<Req>, extra?: readonly string[]): () => void {
    const { paths, headers, route, user } = resolveWarmRoutes(options, extra);
    const policy = route === undefined ? this : this.route(route);
    assertWarmable(policy.policy, headers, user);
    const unregister = paths.map((url) => policy.addRouteWarmer({ url, headers }, replay, user));
    return () => {
      for (const remove of unregister) remove();
    };
  }

  /**
   * Registers a core warmer for one route: on `invalidate(ns, { warm: true })` of any of this
   * policy's namespaces, `replay` runs the request through the app (detached, never looked up or
   * stored by the adapter) and the core stores the captured response under the new, unpublished
   * version, with the entry key, ETag, headers and bytes a client's miss would store. A replay the
   * entry cannot come from (another route's lookup, another user, a response that may not be stored)
   * fails the warmer: reported through `cache.on('error')`, and the entry is a miss later.
   */
  addRouteWarmer(request: WarmRequest, replay: Replay<Req>, user?: string): () => void {
    const p = this.policy;
    assertWarmable(p, request.headers, user);
    const key = buildEntryKey(
      targetKey(request.headers, request.url, p.query),
      p.vary,
      request.headers,
      user,
    );
    const produce: Produce<Req> = async (context) => {
      const captured = await replay(request, context);
      if (captured) this.assertWarmedBy(captured, request.url, user);
      return captured;
    };
    const compute = async (): Promise<Computed> => {
      const computed = await this.produceOnce(produce, true, user !== undefined, true);
      if (computed.failed) throw computed.error;
      if (computed.storable) return computed;
      const why = computed.passed
        ? 'was not captured (no cached route answered it, or it exceeded maxBodySize or handlerTimeout)'
        : `may not be stored (status ${computed.own?.status}; see "What is never stored")`;
      throw new VersionedCacheError('VC_REFRESH_FAILED', `versioned-cache: warm GET ${request.url} ${why}`);
    };
    return this.cache.addWarmer({
      namespaces: p.namespaces,
      key,
      compute,
      options: this.fetchOptions as GetOrSetOptions<unknown>,
    });
  }

  /** A warm entry must be the one a client's request gets: same lookup, same user. */
  private assertWarmedBy(captured: CapturedResponse<Req>, url: string, user: string | undefined): void {
    const route = captured.route;
    if (!route?.enabled || !this.sharesLookupWith(route))
      throw new VersionedCacheError(
        'VC_INVALID_ARGUMENT',
        `versioned-cache: warm GET ${url} was answered by a route that looks up differently: pass its cache options as \`route\``,
      );
    if (user === undefined) return;
    const actual = captured.request === undefined ? undefined : this.policy.perUser?.(captured.request);
    if (actual !== user)
      throw new VersionedCacheError(
        'VC_INVALID_ARGUMENT',
        `versioned-cache: warm GET ${url}: perUser returned ${JSON.stringify(actual ?? null)}, not the user '${user}' to warm`,
      );
  }

  /**
   * Answers one request: from the cache (HIT, STALE, or a 304 decided from the stored entry without
   * running the handler), or by calling `produce` and storing what it captured when it may be
   * stored. `native` is what the `key` and `perUser` functions receive (the framework's request);
   * without it they receive `request`. Rejects only when `key`/`perUser` throw or `produce` rejects;
   * store faults fail open. `beforeRouting`: this lookup is made before the route is known (Express
   * and Koa middleware), so `produce` may hand the request to a route that looks up itself; then a
   * miss does not wait while another process refreshes the entry for such a route (with grace), but
   * routes the request at once, so that the route answers from stale.
   */
  async handle(
    request: HttpRequest,
    produce: Produce<Req>,
    native?: Req,
    beforeRouting = false,
  ): Promise<HttpOutcome> {
    const p = this.policy;
    const { method, headers } = request;
    if (!p.enabled || (method !== 'GET' && method !== 'HEAD')) return this.pass(produce);
    const input = (native ?? request) as Req;
    const credentials = headers.authorization !== undefined || headers.cookie !== undefined;
    const user = p.perUser?.(input) || undefined;
    if (credentials && user === undefined) return this.pass(produce);
    const requestCc = parseCacheControl(headers['cache-control']);
    if (p.honorNoCache && wantsRevalidation(requestCc, headers.pragma)) return this.pass(produce);
    const storeAllowed = !requestCc.has('no-store');

    const base = p.key ? `k:${p.key(input)}` : targetKey(headers, request.url, p.query);
    const key = buildEntryKey(base, p.vary, headers, user);
    const conditions: Conditions = {
      ifMatch: headerValue(headers['if-match']),
      ifUnmodifiedSince: headerValue(headers['if-unmodified-since']),
      ifNoneMatch: headerValue(headers['if-none-match']),
      ifModifiedSince: headerValue(headers['if-modified-since']),
      acceptEncoding: headerValue(headers['accept-encoding']),
    };
    let mine: Computed | undefined;
    const compute = async (context: ComputeContext): Promise<Computed> => {
      const computed = await this.produceOnce(produce, context.background, user !== undefined, storeAllowed);
      if (!context.background) mine = computed;
      return computed;
    };
    const result = await this.cache.fetch(
      p.namespaces,
      key,
      compute,
      beforeRouting ? this.routingFetchOptions : this.fetchOptions,
    );
    const head = method === 'HEAD';

    if (mine) {
      if (mine.failed) throw mine.error;
      if (mine.passed) return { status: 'BYPASS', response: null };
      const status: CacheStatus = mine.stored && result.stored ? 'MISS' : 'BYPASS';
      return { status, response: this.respond(mine.own!, status, undefined, conditions, head) };
    }
    const stored = result.value.stored;
    if (!stored) return this.pass(produce);
    const age = result.status === 'MISS' ? undefined : result.createdAt;
    return { status: result.status, response: this.respond(stored, result.status, age, conditions, head) };
  }

  private async pass(produce: Produce<Req>): Promise<HttpOutcome> {
    await produce({
      capture: false,
      background: false,
      maxBodySize: this.policy.maxBodySize,
      passHeaders: this.passHeaders,
      signal: NEVER,
    });
    return { status: 'BYPASS', response: null };
  }

  /** Runs the handler once, bounded by `handlerTimeout`, and decides whether the result may be stored. */
  private async produceOnce(
    produce: Produce<Req>,
    background: boolean,
    perUser: boolean,
    storeAllowed: boolean,
  ): Promise<Computed> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<null>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(null);
      }, this.policy.handlerTimeoutMs);
      timer.unref();
    });
    try {
      const captured = await Promise.race([
        produce({
          capture: true,
          background,
          maxBodySize: this.policy.maxBodySize,
          passHeaders: this.passHeaders,
          signal: controller.signal,
        }),
        timedOut,
      ]);
      if (!captured) return notStored({ passed: true });
      return await this.withVariants(this.decide(captured, perUser, storeAllowed));
    } catch (error) {
      // Not stored, so that requests waiting on this one run their own handler.
      return notStored({ failed: true, error });
    } finally {
      clearTimeout(timer);
    }
  }

  /** The store decision and the headers we add (ETag, Cache-Control, Vary, Content-Length). */
  private decide(captured: CapturedResponse<Req>, perUser: boolean, storeAllowed: boolean): Computed {
    const lookup = this.policy;
    const route = captured.route && this.sharesLookupWith(captured.route) ? captured.route.policy : lookup;
    const status = captured.status;
    const headers = cleanHeaders(captured.headers);
    const body = hasNoBody(status) ? EMPTY : captured.body;
    if (!hasNoBody(status)) headers['content-length'] = String(body.byteLength);
    const responseCc = parseCacheControl(headers['cache-control']);
    const responseVary = parseVary(headers.vary);
    const storable =
      storeAllowed &&
      route.enabled &&
      !captured.noStore &&
      route.statuses.has(status) &&
      !(captured.unmatched && status === 404) &&
      body.byteLength <= lookup.maxBodySize &&
      headers['set-cookie'] === undefined &&
      !responseCc.has('no-store') &&
      !responseCc.has('no-cache') &&
      (perUser || !responseCc.has('private')) &&
      responseVary.every(
        (name) =>
          lookup.vary.includes(name) ||
          (lookup.perUser && CREDENTIAL_HEADERS.includes(name)) ||
          // An identity body the cache negotiates itself, or a compressor in front marked in advance.
          (name === 'accept-encoding' &&
            (route.compress !== null || lookup.downstreamCompressor) &&
            headers['content-encoding'] === undefined),
      );
    if (!storable)
      return notStored({ own: { status, headers: this.private(headers, status, perUser), body } });

    if (!hasNoBody(status)) {
      const own = headerValue(headers.etag);
      // Express and koa-etag add the weak validator of the body when the handler set none: replace
      // it with the strong one; a validator the handler chose is kept.
      if (own === undefined || own === etag(body, { weak: true })) headers.etag = etag(body);
      // Encoded by a compressor behind the cache: the identity entry of this resource must not share its tag.
      headers.etag = etagOfEncoded(headerValue(headers.etag), headerValue(headers['content-encoding']))!;
    }
    if (headers['cache-control'] === undefined && route.cacheControl)
      headers['cache-control'] = perUser ? route.cacheControl.private : route.cacheControl.public;
    if (lookup.vary.length > 0) headers.vary = lookup.vary.join(', ');
    this.private(headers, status, perUser);
    const stored = pickHeaders(headers, route.storeHeaders);
    if (headers['content-length'] !== undefined) stored['content-length'] = headers['content-length'];
    if (headers.vary !== undefined) stored.vary = headers.vary;
    const compress = route.compress;
    const compressible =
      compress !== null &&
      body.byteLength >= compress.minSize &&
      headers['content-encoding'] === undefined &&
      isCompressible(headerValue(headers['content-type']));
    return {
      stored: { status, headers: stored, body },
      own: { status, headers, body },
      compress: compressible ? compress : null,
      storable: true,
      ttlMs: route.ttlMs ?? this.cache.options.ttlMs,
      passed: false,
      failed: false,
    };
  }

  /**
   * A per-user response goes out `private` whatever the handler set, and every response of a route
   * that varies by user names the credential headers in Vary; changes `headers` in place.
   */
  private private(headers: ResponseHeaders, status: number, perUser: boolean): ResponseHeaders {
    const from = headerValue(headers['cache-control']);
    const decision = privacyHeaders({
      cacheControl: from,
      vary: headerValue(headers.vary),
      perUserEntry: perUser,
      perUserRoute: this.policy.perUser !== undefined,
    });
    if (decision.cacheControl !== undefined) headers['cache-control'] = decision.cacheControl;
    if (decision.vary !== undefined) headers.vary = decision.vary;
    if (decision.rewritten)
      this.policy.onDebug?.({ type: 'cache-control-privatised', status, from, to: decision.cacheControl! });
    return headers;
  }

  /** The compressed variants of a stored response, built once per fill. */
  private async withVariants(computed: Computed): Promise<Computed> {
    const compress = computed.compress;
    if (!compress || !computed.stored) return computed;
    try {
      const variants = await buildVariants(computed.stored.body, compress.codings, compress.compressor);
      computed.stored.variants = variants;
      computed.own!.variants = variants;
    } catch {
      // A compressor that fails costs the variants, not the response: the entry is stored in identity.
    }
    return computed;
  }

  private respond(
    source: StoredResponse,
    status: CacheStatus,
    createdAt: number | undefined,
    conditions: Conditions,
    head: boolean,
  ): HttpResponse {
    const now = Date.now();
    const chosen = selectRepresentation(source, conditions.acceptEncoding, this.policy.downstreamCompressor);
    const headers = chosen.headers;
    if (createdAt !== undefined) headers.age = String(Math.max(0, Math.floor((now - createdAt) / 1000)));
    headers.date = httpDate(now);
    if (this.statusHeader) headers[this.statusHeader] = status;
    // Range is not answered from the cache: a ranged request gets the full 200 (RFC 9110 §14.2 allows it).
    const outcome = evaluatePreconditions(
      conditions,
      { etag: headerValue(headers.etag), lastModified: headerValue(headers['last-modified']) },
      source.status,
    );
    if (outcome !== 200) {
      const kept = conditionalHeaders(outcome, headers, this.statusHeader ? [this.statusHeader] : []);
      return { status: outcome, headers: kept, body: outcome === 412 && !head ? EMPTY : null };
    }
    return { status: source.status, headers, body: head || hasNoBody(source.status) ? null : chosen.body };
  }
}

function notStored(fields: Partial<Computed>): Computed {
  return { stored: null, own: null, storable: false, ttlMs: 0, passed: false, failed: false, ...fields };
}

function wantsRevalidation(
  directives: ReadonlyMap<string, string | true>,
  pragma: string | readonly string[] | undefined,
): boolean {
  if (directives.has('no-cache') || directives.get('max-age') === '0') return true;
  return directives.size === 0 && /no-cache/i.test(headerValue(pragma) ?? '');
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Creates the HTTP caching policy for `namespaces`. Every option is validated here; a mistake is a
 * `VersionedCacheTypeError` naming the field.
 */
export function createHttpCache<Req = HttpRequest>(
  namespaces: Namespaces,
  options: HttpCacheOptions<Req>,
): HttpCache<Req> {
  if (typeof options !== 'object' || options === null)
    throw new VersionedCacheTypeError('options', 'must be an object with at least `cache`');
  const { cache, cacheStatusHeader = 'X-Cache', onDebug, ...route } = options;
  if (
    typeof cache !== 'object' ||
    cache === null ||
    typeof (cache as Partial<VersionedCache>).fetch !== 'function'
  ) {
    throw new VersionedCacheTypeError('cache', 'must be the cache createCache() returned');
  }
  if (
    cacheStatusHeader !== false &&
    (typeof cacheStatusHeader !== 'string' || !HEADER_NAME.test(cacheStatusHeader))
  )
    throw new VersionedCacheTypeError('cacheStatusHeader', 'must be a header name or false');
  const policy = mergeRouteOptions(defaultPolicy<Req>(namespaces), route, HTTP_OPTION_NAMES);
  policy.onDebug = resolveDebug(onDebug);
  return new HttpCache(cache, cacheStatusHeader === false ? null : cacheStatusHeader.toLowerCase(), policy);
}

/** Validates route options without an app policy (adapters call it when a route is declared). */
export function assertRouteOptions(options: unknown): void {
  if (options === false) return;
  mergeRouteOptions(defaultPolicy('route'), options as RouteCacheOptions<unknown>);
}
