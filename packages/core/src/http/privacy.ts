import { parseCacheControl, privatise } from './cache-control.js';
import { appendVary } from './headers.js';

/**
 * What a response of a route that may vary by user sends, so that no cache in front of us (CDN,
 * proxy, browser) hands one user's response to another: a per-user entry goes out `private` without
 * `s-maxage`, whatever the handler set, and every response of such a route, the anonymous one
 * included, names the credential headers its entry is keyed by in `Vary`.
 */

/** The request headers whose presence or value decides the user: the ones the entry is keyed by. */
export const CREDENTIAL_HEADERS: readonly string[] = ['authorization', 'cookie'];

export interface PrivacyInput {
  /** The Cache-Control about to be sent, if any. */
  cacheControl: string | undefined;
  /** The Vary about to be sent, if any. */
  vary: string | undefined;
  /** The entry is one user's (the route's `perUser` returned an id for this request). */
  perUserEntry: boolean;
  /** The route keys entries by user (`perUser`), whether or not this request had credentials. */
  perUserRoute: boolean;
}

export interface PrivacyDecision {
  cacheControl: string | undefined;
  vary: string | undefined;
  /** The Cache-Control was changed to keep a per-user response out of shared caches. */
  rewritten: boolean;
}

/** Whether a Cache-Control value lets a shared cache store the response: `public`, `s-maxage` or no `private`. */
export function sharedCacheable(cacheControl: string | undefined): boolean {
  const directives = parseCacheControl(cacheControl);
  if (directives.has('no-store')) return false;
  return directives.has('public') || directives.has('s-maxage') || !directives.has('private');
}

/**
 * The Cache-Control and Vary to send (RFC 9111 §3, §5.2.2.7): a per-user entry that a shared cache
 * could store is rewritten to `private` (its `public` and `s-maxage` dropped, other directives kept);
 * a route that varies by user adds its credential headers to `Vary`.
 */
export function privacyHeaders(input: PrivacyInput): PrivacyDecision {
  let cacheControl = input.cacheControl;
  let rewritten = false;
  if (input.perUserEntry && sharedCacheable(cacheControl)) {
    cacheControl = cacheControl === undefined ? 'private' : privatise(cacheControl);
    rewritten = true;
  }
  const vary = input.perUserRoute ? appendVary(input.vary, CREDENTIAL_HEADERS) : input.vary;
  return { cacheControl, vary, rewritten };
}
