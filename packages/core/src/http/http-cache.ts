import type { CacheStatus, ComputeContext, GetOrSetOptions, Namespaces, VersionedCache } from '../cache.js';
import { type BypassReason, bypassed } from '../engine/events.js';
import { VersionedCacheError } from '../errors.js';
import { parseCacheControl } from './cache-control.js';
import { LearnedRoutes } from './learned-routes.js';
import type { HttpRequest, ResolvedHttpPolicy, RouteCacheOptions } from './options.js';
import type { CapturedResponse, HttpOutcome, Produce, RoutePolicy } from './produce.js';
import { buildEntryKey, targetKey } from './request-key.js';
import { mergeRouteOptions, sameLookup } from './route-policy.js';
import {
  assertWarmable,
  type Replay,
  resolveWarmRoutes,
  type WarmRequest,
  type WarmRoutesOptions,
} from './route-warmer.js';
import {
  answerFor,
  type Computed,
  computedCodec,
  decide,
  notStored,
  respond,
  wantsRevalidation,
  withVariants,
} from './store-decision.js';

const NEVER = new AbortController().signal;
const MUTATIONS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

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
  /**
   * For adapters whose middleware looks up before routing (Express, Koa): the paths last handled by a
   * route with its own lookup or an opt-out, so that the middleware skips a lookup that route makes again.
   */
  readonly learned = new LearnedRoutes();
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
      label: policy.label,
    });
    this.routingFetchOptions = Object.freeze({ ...this.fetchOptions, waitForRefresh: false });
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
  sharesLookupWith(other: RoutePolicy<Req>): boolean {
    return sameLookup(this.policy, other.policy);
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
    const target = targetKey(request.headers, request.url, p.query);
    const key = buildEntryKey(target, p.vary, request.headers, user);
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
    if (!route?.policy.enabled || !this.sharesLookupWith(route))
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
    if (credentials && user === undefined) return this.pass(produce, 'credentials');
    const requestCc = parseCacheControl(headers['cache-control']);
    if (p.honorNoCache && wantsRevalidation(requestCc, headers.pragma)) return this.pass(produce, 'no-cache');
    const storeAllowed = !requestCc.has('no-store');

    const base = p.key ? `k:${p.key(input)}` : targetKey(headers, request.url, p.query);
    const key = buildEntryKey(base, p.vary, headers, user);
    const answer = answerFor(request, this.statusHeader, p.downstreamCompressor);
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

    if (mine) {
      if (mine.failed) throw mine.error;
      if (mine.passed) return { status: 'BYPASS', response: null };
      const status: CacheStatus = mine.stored && result.stored ? 'MISS' : 'BYPASS';
      return { status, response: respond(mine.own!, status, undefined, answer) };
    }
    const stored = result.value.stored;
    if (!stored) return this.pass(produce);
    const age = result.status === 'MISS' ? undefined : result.createdAt;
    return {
      status: result.status,
      response: respond(stored, result.status, age, answer),
    };
  }

  /** `reason`: a GET or HEAD that could have been looked up, published as a bypass. */
  private async pass(produce: Produce<Req>, reason?: BypassReason): Promise<HttpOutcome> {
    if (reason) bypassed(this.policy.namespaces, this.policy.label, reason);
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
      return await withVariants(
        decide(this.policy, captured, perUser, storeAllowed, this.cache.options.ttlMs),
      );
    } catch (error) {
      // Not stored, so that requests waiting on this one run their own handler.
      return notStored({ failed: true, error });
    } finally {
      clearTimeout(timer);
    }
  }
}
