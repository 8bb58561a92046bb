import type { HttpCache } from './http-cache.js';
import type { HttpRequest } from './options.js';
import type { HttpOutcome, HttpResponse } from './produce.js';
import type { LifecycleHooks, RequestCacheState } from './request-cache.js';

/**
 * How a lookup fits the two lifecycle shapes frameworks have besides node:http's (`serveNode()`): a
 * handler the adapter awaits (Koa's `await next()`, an interceptor's `next.handle()`), or hooks
 * that continue by callback, the response arriving in a later hook (Fastify's `onRequest`/`onSend`).
 */

const noop = () => {};

export interface AroundHooks<Req> extends Omit<LifecycleHooks<Req>, 'proceed'> {
  /** Runs the handler to the end; rejects with its error. */
  run(capture: boolean): Promise<unknown>;
  /** The node:http request (Koa's `ctx.req`): a HEAD runs as a GET while its response is captured. */
  raw?: { method?: string };
  /** After `run`: hands the response to the awaited capture, if any (`state.captureBody()`). */
  handOver(): Promise<unknown>;
}

/**
 * Answers a request whose handler is awaited. Resolves once the lookup and the handler (if it ran)
 * are done: with what to send, and whether the handler ran (its headers are then replaced); rejects
 * with the handler's error. After a handlerTimeout or a takeover the handler may still be running:
 * the response is its, so it is awaited too.
 */
export async function serveAround<Req>(
  state: RequestCacheState<Req>,
  http: HttpCache<Req>,
  request: HttpRequest,
  native: Req,
  hooks: AroundHooks<Req>,
): Promise<{ response: HttpResponse | null; ran: boolean }> {
  let running: Promise<unknown> | undefined;
  const { raw } = hooks;
  const method = raw?.method;
  const proceed = (capture: boolean) => {
    if (capture && raw) raw.method = 'GET';
    running = hooks
      .run(capture)
      .finally(() => {
        if (raw) raw.method = method;
      })
      .then(hooks.handOver, (error: unknown) => {
        state.fail(error);
        throw error;
      });
    running.catch(noop); // awaited below, once the lookup is done
  };
  const { setHeaders, refresh } = hooks;
  const outcome = await state.handle(http, request, native, { proceed, setHeaders, refresh });
  await running;
  return { response: outcome.response, ran: running !== undefined };
}

export interface CallbackHooks<Req> extends Omit<LifecycleHooks<Req>, 'proceed'> {
  /** Continues the lifecycle (a hook's `done`), failing the request with `error`. Called at most once. */
  next(error?: unknown): void;
  /** A hit: answer now and end the lifecycle, as a hook that answers early does (later hooks do not run). */
  answer(response: HttpResponse): void;
  /** The handler is about to run with its response awaited (in a later hook, `state.captureBody()`). */
  capturing?(): void;
}

/**
 * Answers a request from a hook that continues by callback. The outcome, also kept as
 * `state.outcome`, never rejects (null on an error, passed to `next`); a later hook that captured
 * the response awaits it to send `response` in place of the handler's.
 */
export function serveByCallback<Req>(
  state: RequestCacheState<Req>,
  http: HttpCache<Req>,
  request: HttpRequest,
  native: Req,
  hooks: CallbackHooks<Req>,
): Promise<HttpOutcome | null> {
  let continued = false;
  const next = (error?: unknown) => {
    if (continued) return;
    continued = true;
    hooks.next(error);
  };
  const proceed = (capture: boolean) => {
    if (capture) hooks.capturing?.();
    next();
  };
  const { setHeaders, refresh } = hooks;
  state.outcome = state.handle(http, request, native, { proceed, setHeaders, refresh }).then(
    (outcome) => {
      if (continued || !outcome.response) next();
      else {
        continued = true;
        hooks.answer(outcome.response);
      }
      return outcome;
    },
    (error: unknown) => {
      next(error);
      return null;
    },
  );
  return state.outcome;
}
