import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import {
  captureInto,
  type Dispatch,
  dispatchNode,
  endAfter,
  type HttpCache,
  isMutation,
  type NodeHandler,
  Replays,
  RequestCacheState,
  writeResponse,
} from '@versioned-cache/core';
import { Observable, type Subscription } from 'rxjs';
import { INVALIDATES, type InvalidatesTarget, ROUTE_OPTIONS } from './decorators.js';
import {
  type NestCacheRequest,
  type NestRouteCacheOptions,
  RESOLVED,
  type ResolvedModule,
} from './options.js';

type State = RequestCacheState<NestCacheRequest>;
type Native = NestCacheRequest & { cache?: State; raw?: IncomingMessage; originalUrl?: string };
type NativeResponse = ServerResponse | { raw: ServerResponse; getHeaders(): Record<string, unknown> };

const noop = () => {};
const replays = new Replays<NestCacheRequest>();

/**
 * Caches the GET and HEAD responses of the routes it runs for, as the adapters' middleware does,
 * with the route's `@CacheRoute()`/`@NoCache()` options; runs `@Invalidates()` after mutations.
 *
 * It works on the platform's raw `ServerResponse` (Express's `res`, Fastify's `reply.raw`), so
 * that what is stored is exactly what Nest sends: the serialised body, `@Header()`, `@HttpCode()`,
 * a `StreamableFile`, an exception filter's response. Interceptors run after guards, so a hit
 * never skips authentication. A hit (and a 304) is written before the handler would run, and the
 * Observable returned to Nest then never emits: Nest has nothing left to send, as when the handler
 * writes through `@Res()`.
 */
@Injectable()
export class VersionedCacheInterceptor implements NestInterceptor {
  private dispatchTo: Dispatch | undefined;

  constructor(
    @Inject(RESOLVED) private readonly module: ResolvedModule,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const native = http.getRequest<Native>();
    const reply = http.getResponse<NativeResponse>();
    const req = native.raw ?? (native as unknown as IncomingMessage);
    const res = 'raw' in reply ? reply.raw : reply;
    const policy = this.policyOf(context);
    const state = new RequestCacheState<NestCacheRequest>(this.module.http);
    state.http = policy;
    native.cache = state;

    return new Observable((subscriber) => {
      let subscription: Subscription | undefined;
      const run = (error?: unknown) => {
        if (error !== undefined) subscriber.error(error);
        else subscription = next.handle().subscribe(subscriber);
      };
      if (replays.claim(req.headers as Record<string, unknown>, state, native)) {
        captureInto(res, state);
        run();
      } else if (isMutation(native.method)) {
        const invalidates = this.invalidatesOf(context);
        endAfter(res, () => invalidateAfter(state, native, res.statusCode, invalidates));
        run();
      } else {
        // Headers set on the reply before us (Fastify hooks, `@Header()`) go out with a hit too.
        if ('raw' in reply)
          for (const [name, value] of Object.entries(reply.getHeaders())) setHeader(res, name, value);
        this.serve(state, policy, native, req, res, run);
      }
      return () => subscription?.unsubscribe();
    });
  }

  /** The route's policy: its handler's decorator, else its controller's, else the module's. */
  private policyOf(context: ExecutionContext): HttpCache<NestCacheRequest> {
    const targets = [context.getHandler(), context.getClass()];
    const options = this.reflector.getAllAndOverride<NestRouteCacheOptions | false | undefined>(
      ROUTE_OPTIONS,
      targets,
    );
    return options === undefined ? this.module.http : this.module.http.route(options);
  }

  private invalidatesOf(context: ExecutionContext): InvalidatesTarget[] | undefined {
    return this.reflector.getAllAndOverride<InvalidatesTarget[] | undefined>(INVALIDATES, [
      context.getHandler(),
      context.getClass(),
    ]);
  }

  /**
   * A lookup. On a miss the handler runs with its raw response captured; a HEAD miss runs the route
   * as a GET replay instead (Fastify drops a HEAD's body before it reaches the response, and the
   * entry a HEAD fills is the GET's), and the HEAD is answered from the captured response.
   */
  private serve(
    state: State,
    http: HttpCache<NestCacheRequest>,
    native: Native,
    req: IncomingMessage,
    res: ServerResponse,
    run: (error?: unknown) => void,
  ): void {
    const url = native.originalUrl ?? req.url ?? native.url;
    const method = req.method ?? native.method;
    let ran = false;
    let release: (() => void) | undefined;
    let captured = false;
    const proceed = (capture: boolean) => {
      if (capture && method === 'HEAD') {
        replays.refresh(url, req.headers, state.capturing!, this.dispatch()).then((response) => {
          if (response) return state.captured(response);
          state.release(); // no cached route answered the replay: the HEAD runs as it is
          ran = true;
          run();
        });
        return;
      }
      if (capture) release = captureInto(res, state, (got) => (captured = got));
      ran = true;
      run();
    };
    const setHeaders = (headers: Readonly<Record<string, string>>) => {
      if (release) return release(); // it sets them, then lets what was buffered go out
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    };
    const refresh = replays.refresh.bind(replays, url, req.headers);
    state
      .handle(http, { method, url, headers: req.headers }, native, {
        proceed,
        setHeaders,
        refresh: (context) => refresh(context, this.dispatch()),
      })
      .then(
        (outcome) => {
          if (outcome.response && !res.headersSent) writeResponse(res, outcome.response, captured);
        },
        (error: unknown) => {
          if (!ran) run(error);
          else if (res.headersSent) res.destroy();
        },
      );
  }

  /** Synthetic GETs through the whole application (middleware, guards, this interceptor), for refreshes and warming. */
  private dispatch(): Dispatch {
    if (this.dispatchTo) return this.dispatchTo;
    const adapter = this.adapterHost.httpAdapter;
    const instance = adapter.getInstance<unknown>();
    this.dispatchTo =
      adapter.getType() === 'fastify'
        ? (request) =>
            (instance as { inject(options: object): Promise<unknown> }).inject({
              method: 'GET',
              url: request.url,
              headers: request.headers,
            })
        : (request) => dispatchNode(instance as NodeHandler, request);
    return this.dispatchTo;
  }
}

function setHeader(res: ServerResponse, name: string, value: unknown): void {
  if (typeof value === 'string' || typeof value === 'number' || Array.isArray(value))
    res.setHeader(name, value as string | number | readonly string[]);
}

/**
 * After a mutation's response, before it completes: `invalidateOnMutation`, then `@Invalidates()`
 * on a success (2xx or 3xx, as `invalidateOnMutation`). Never rejects: store faults are reported
 * through `cache.on('error')`.
 */
function invalidateAfter(
  state: State,
  native: Native,
  status: number,
  targets: InvalidatesTarget[] | undefined,
): Promise<void> | undefined {
  const own = state.invalidateAfter(native.method, status);
  if (!targets || status < 200 || status >= 400) return own;
  const bumps = (targets.length === 0 ? [state.namespaces] : targets).map((target) =>
    Promise.resolve()
      .then(() => state.http.invalidate(typeof target === 'function' ? target(native) : target))
      .catch(noop),
  );
  return Promise.all([own, ...bumps]).then(noop);
}
