import { VersionedCacheTypeError } from '../errors.js';
import { assertKnownOptions } from '../options.js';
import type { HttpRequest, ResolvedHttpPolicy, RouteCacheOptions } from './options.js';
import type { CapturedResponse, ProduceContext } from './produce.js';

/**
 * What every adapter's `warmRoutes()` takes: which routes to warm for `invalidate(ns, { warm: true })`
 * and what their requests look like. The entries are keyed exactly as a client's request with these
 * URL and headers would be.
 */
export interface WarmRoutesOptions<Req = HttpRequest> {
  /** Path and query of each route to warm, from the root, as clients send them (`/api/summary?range=7d`). */
  paths: readonly string[];
  /**
   * The headers of the warm requests (any case). `host` is required: the key includes the Host header,
   * so it must be the one clients send (behind a proxy, the public host). Add the values of the
   * route's `vary` headers, and the credentials of `user` for a `perUser` route.
   */
  headers: { readonly host: string } & Readonly<Record<string, string>>;
  /**
   * The route's own options (the object given to `cacheRoute()` or `config.cache`), when they change
   * the lookup (`vary`, `namespaces`, `grace`, `perUser`...). A warm replay answered by a route that
   * looks up differently is not stored, and reported.
   * @default the middleware's or plugin's options
   */
  route?: RouteCacheOptions<Req>;
  /**
   * For a `perUser` route: the user id the entries belong to. The route's `perUser` must return it for
   * the warm request (checked on every warm), so `headers` must carry that user's credentials.
   * @default undefined (required for `perUser` routes, refused for the others)
   */
  user?: string;
}

/** One warm request as the adapter replays it: URL from the root, lower-case header names. */
export interface WarmRequest {
  url: string;
  headers: Record<string, string>;
}

/**
 * The adapter's in-process replay: runs `request` through the app as a synthetic GET that does not
 * look up or store, captures the response (status, headers, bytes) and sends it nowhere. Resolves
 * with the capture, its `route` and the framework's `request`, or null when no cached route
 * captured it.
 */
export type Replay<Req = HttpRequest> = (
  request: WarmRequest,
  context: ProduceContext,
) => Promise<CapturedResponse<Req> | null>;

const WARM_OPTIONS: ReadonlySet<string> = new Set(['paths', 'headers', 'route', 'user']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** The core answers conditionals itself; a warm entry must be the full response. */
const DROPPED = new Set(['if-none-match', 'if-modified-since']);

/** Validates `warmRoutes()` options at setup; every mistake is a TypeError naming the field. */
export function resolveWarmRoutes<Req>(
  options: WarmRoutesOptions<Req>,
  extra: readonly string[] = [],
): {
  paths: readonly string[];
  headers: Record<string, string>;
  route?: RouteCacheOptions<Req>;
  user?: string;
} {
  if (typeof options !== 'object' || options === null)
    throw new VersionedCacheTypeError('options', 'must be an object with `paths` and `headers`');
  assertKnownOptions('warmRoutes options', options, new Set([...WARM_OPTIONS, ...extra]));
  const { paths, route, user } = options;
  if (!Array.isArray(paths) || paths.length === 0)
    throw new VersionedCacheTypeError('paths', 'must be a non-empty array of paths');
  paths.forEach((path: unknown, i) => {
    if (typeof path !== 'string' || !path.startsWith('/') || /[\s#]/.test(path))
      throw new VersionedCacheTypeError(`paths[${i}]`, `'${String(path)}' is not a path starting with /`);
  });
  if (user !== undefined && (typeof user !== 'string' || user.length === 0))
    throw new VersionedCacheTypeError('user', 'must be a non-empty string');
  if (route !== undefined && (typeof route !== 'object' || route === null))
    throw new VersionedCacheTypeError('route', "must be the route's cache options object");
  return { paths: [...paths], headers: warmHeaders(options.headers), route, user };
}

function warmHeaders(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null)
    throw new VersionedCacheTypeError('headers', 'must be an object with at least `host`');
  const headers: Record<string, string> = {};
  for (const [name, raw] of Object.entries(value)) {
    if (!TOKEN.test(name)) throw new VersionedCacheTypeError('headers', `'${name}' is not a header name`);
    if (typeof raw !== 'string' || /[\r\n\0]/.test(raw))
      throw new VersionedCacheTypeError(`headers.${name}`, 'must be a single-line string');
    const lower = name.toLowerCase();
    if (!DROPPED.has(lower)) headers[lower] = raw;
  }
  // The key includes the Host: a guessed one would warm entries no client ever reads.
  if (!headers.host)
    throw new VersionedCacheTypeError('headers.host', 'required: the Host header your clients send');
  return headers;
}

/** Whether a policy's entries can be warmed for these headers and user; throws naming the field if not. */
export function assertWarmable<Req>(
  policy: ResolvedHttpPolicy<Req>,
  headers: Record<string, string>,
  user: string | undefined,
): void {
  if (!policy.enabled) throw new VersionedCacheTypeError('route', 'the route opts out of caching');
  if (policy.key)
    throw new VersionedCacheTypeError(
      'key',
      'a route with a `key` function cannot be warmed: its key needs the routed request',
    );
  if (policy.perUser && user === undefined)
    throw new VersionedCacheTypeError(
      'user',
      'the route scopes entries per user (`perUser`): give the user id to warm',
    );
  if (!policy.perUser && user !== undefined)
    throw new VersionedCacheTypeError('user', 'only for routes with `perUser`');
  if (!policy.perUser && (headers.authorization !== undefined || headers.cookie !== undefined))
    throw new VersionedCacheTypeError(
      'headers',
      'requests with Authorization or Cookie are not cached unless the route has `perUser`',
    );
}
