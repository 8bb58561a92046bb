import { randomUUID } from 'node:crypto';
import type { CapturedResponse, ProduceContext } from './produce.js';
import type { RequestCacheState } from './request-cache.js';
import type { WarmRequest } from './route-warmer.js';

/** Marks a replay's synthetic request; its value is a one-time token, so a client cannot forge it. */
const HEADER = 'x-versioned-cache-refresh';

/** Sends one synthetic GET through the app; settles once the app is done with it (or never reached a cached route). */
export type Dispatch = (request: WarmRequest) => Promise<unknown>;

interface Pending<Req> {
  context: ProduceContext;
  resolve(response: CapturedResponse<Req> | null): void;
  /** The state awaiting the response, once a hook claimed the request. */
  claimed?: RequestCacheState<Req>;
}

/**
 * Detached runs of a route, for background refreshes (a stale response already went out) and
 * warming: a synthetic GET goes through the app, carrying a one-time token in a header; the
 * adapter's hook that sees it (`claim()`) captures the response instead of looking it up, and it is
 * sent nowhere. One per adapter; the framework's part is only `dispatch`.
 */
export class Replays<Req> {
  private readonly pending = new Map<string, Pending<Req>>();

  /** Runs `request` through `dispatch`; resolves with the capture, or null when no cached route captured it. */
  run(
    request: WarmRequest,
    context: ProduceContext,
    dispatch: Dispatch,
  ): Promise<CapturedResponse<Req> | null> {
    const token = randomUUID();
    return new Promise((resolve) => {
      const pending: Pending<Req> = { context, resolve };
      this.pending.set(token, pending);
      // Once the app is done (an error response, a handler that wrote itself), or the core stops
      // waiting: nothing more will be captured. A no-op when the response was.
      const settle = () => {
        this.pending.delete(token);
        if (pending.claimed) pending.claimed.release();
        else resolve(null);
      };
      context.signal.addEventListener('abort', settle, { once: true });
      dispatch({ url: request.url, headers: { ...request.headers, [HEADER]: token } }).then(settle, settle);
    });
  }

  /** A refresh of the request being answered: the same GET, without its conditionals (the entry is the full response). */
  refresh(
    url: string,
    headers: Readonly<Record<string, string | readonly string[] | undefined>>,
    context: ProduceContext,
    dispatch: Dispatch,
  ): Promise<CapturedResponse<Req> | null> {
    const { 'if-none-match': _inm, 'if-modified-since': _ims, ...rest } = headers;
    return this.run({ url, headers: rest as Record<string, string> }, context, dispatch);
  }

  /**
   * In the adapter's first hook of each request: whether it is one of these replays. The token
   * header is removed either way; a live token makes `state` await the response for the replay
   * (hand it over as on a miss: `captured()`, `release()`), with `native` as its request.
   */
  claim(headers: Record<string, unknown>, state: RequestCacheState<Req>, native: Req): boolean {
    const token = headers[HEADER];
    if (token === undefined) return false;
    delete headers[HEADER];
    const pending = this.pending.get(String(token));
    if (!pending || pending.claimed) return false;
    pending.claimed = state;
    state.replaying = true;
    state.expect(pending.context).then(
      (captured) => pending.resolve(captured && { ...captured, request: native }),
      () => pending.resolve(null),
    );
    return true;
  }
}
