import { VersionedCacheError } from '../errors.js';
import type { HttpCache } from './http-cache.js';
import type { Replays } from './replays.js';
import { isMutation, RequestCacheState } from './request-cache.js';
import { pathOf } from './request-key.js';

/**
 * The state lives where the adapters expose it, `req.cache` / `ctx.cache`: one property per request.
 * Adding a property to an Express request is slow (its prototype was swapped, about half a
 * microsecond per new property), and a hit should add only the one users read.
 */
interface Holder {
  cache?: unknown;
}

const heldStates = new WeakMap<object, unknown>();
const prototypesWithAccessor = new WeakSet<object>();

/**
 * For a framework that swaps the prototype of every request it hands down (Express): a property
 * added to such an object costs about a microsecond plus garbage (1.5 % of a hit's CPU, and as much
 * again in GC, in a profile of the benchmark's Express hit). So `cache` becomes an accessor on the
 * holder's prototype, over a WeakMap, and `enterMiddleware()` setting it adds no property to the
 * holder. A prototype that already has a `cache` is left as it is. Returns `holder`.
 */
export function holdOnPrototype<Holder extends object>(holder: Holder): Holder {
  const proto: object | null = Object.getPrototypeOf(holder);
  if (proto === null || prototypesWithAccessor.has(proto)) return holder;
  prototypesWithAccessor.add(proto);
  if (!('cache' in proto))
    Object.defineProperty(proto, 'cache', {
      configurable: true,
      get(this: object) {
        return heldStates.get(this);
      },
      set(this: object, state: unknown) {
        heldStates.set(this, state);
      },
    });
  return holder;
}

/**
 * What a caching middleware that runs before routing does with a request:
 * - `lookup`: answer it (`serveNode()`, or `state.handle()` with the framework's hooks);
 * - `skip`: run the handler, then `state.leave()`: the path's route looks up itself;
 * - `mutation`: run the handler, then `state.invalidateAfter(method, status)` before the response ends;
 * - `replay`: a refresh's or warm's synthetic GET: run the handler, hand its response to `state`;
 * - `through`: under a replay (a nested middleware): just run the handler.
 */
export type MiddlewareStep = 'lookup' | 'skip' | 'mutation' | 'replay' | 'through';

/** The state the innermost caching middleware attached to `holder` (`enterMiddleware()`) as `cache`, if any. */
export function stateOf<Req>(holder: object): RequestCacheState<Req> | undefined {
  const state = (holder as Holder).cache;
  return state instanceof RequestCacheState ? (state as RequestCacheState<Req>) : undefined;
}

/** For route middleware (`cacheRoute()`): the state `enterMiddleware()` attached, or a clear error naming `adapter`. */
export function routeStateOf<Req>(holder: object, adapter: string): RequestCacheState<Req> {
  const state = stateOf<Req>(holder);
  if (state) return state;
  throw new VersionedCacheError(
    'VC_INVALID_ARGUMENT',
    `@versioned-cache/${adapter}: cacheRoute() needs app.use(versionedCache(...)) before the route`,
  );
}

/**
 * The start of a caching middleware that runs before routing (Express, Koa). `holder` is the object
 * the framework hands down one request (Express's `req`, Koa's `ctx`): the new state becomes its
 * `cache`, taking over from the state of an outer caching middleware (a router's under the app's).
 */
export function enterMiddleware<Req>(
  app: HttpCache<Req>,
  holder: object,
  request: { method: string; url: string; headers: Record<string, unknown> },
  native: Req,
  replays: Replays<Req>,
): { state: RequestCacheState<Req>; step: MiddlewareStep } {
  const outer = stateOf<Req>(holder);
  const state = new RequestCacheState(app, pathOf(request.url));
  (holder as Holder).cache = state;
  if (outer?.replaying) {
    outer.handoff = state;
    state.replaying = true;
    return { state, step: 'through' };
  }
  if (replays.claim(request.headers, state, native)) return { state, step: 'replay' };
  if (isMutation(request.method)) return { state, step: 'mutation' };
  return { state, step: state.enter(outer) ? 'lookup' : 'skip' };
}
