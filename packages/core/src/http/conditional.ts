import { entityTagListMatches, MAX_CONDITION_LENGTH } from './preconditions.js';

/**
 * Conditional requests (RFC 9110 §13): If-None-Match with the weak comparison, lists and `*`, and
 * If-Modified-Since when no If-None-Match was sent. Pure functions over header values.
 */

/** Longer If-None-Match values are ignored (answered in full): parsing them is a cost a client chooses. */
export const MAX_IF_NONE_MATCH_LENGTH = MAX_CONDITION_LENGTH;

/**
 * Whether an If-None-Match value matches the current entity tag under the weak comparison
 * (RFC 9110 §8.8.3.2). `*` matches any current representation. Malformed members are ignored, so a
 * garbage header never matches and the client gets the full response.
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string | undefined): boolean {
  return etag !== undefined && entityTagListMatches(header, etag, 'weak');
}

/**
 * Whether a GET or HEAD for a 2xx representation should be answered 304 Not Modified, the way
 * jshttp's `fresh(reqHeaders, resHeaders)` decides, over plain header values: If-None-Match wins;
 * If-Modified-Since only counts when If-None-Match is absent.
 */
export function isNotModified(
  request: { ifNoneMatch?: string | undefined; ifModifiedSince?: string | undefined },
  response: { etag?: string | undefined; lastModified?: string | undefined },
): boolean {
  if (request.ifNoneMatch) return ifNoneMatchMatches(request.ifNoneMatch, response.etag);
  if (!request.ifModifiedSince || !response.lastModified) return false;
  const since = Date.parse(request.ifModifiedSince);
  const modified = Date.parse(response.lastModified);
  return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
}
