/**
 * Conditional requests (RFC 9110 §13): If-None-Match with the weak comparison, lists and `*`, and
 * If-Modified-Since when no If-None-Match was sent. Pure functions over header values.
 */

/** Longer If-None-Match values are ignored (answered in full): parsing them is a cost a client chooses. */
export const MAX_IF_NONE_MATCH_LENGTH = 8192;

/** The opaque part of an entity tag, for the weak comparison: `W/"x"` and `"x"` compare equal. */
function opaqueTag(tag: string): string | null {
  const start = tag.startsWith('W/') ? 2 : 0;
  if (tag.length - start < 2 || tag[start] !== '"' || tag[tag.length - 1] !== '"') return null;
  const opaque = tag.slice(start + 1, -1);
  return opaque.includes('"') ? null : opaque;
}

/**
 * Whether an If-None-Match value matches the current entity tag under the weak comparison
 * (RFC 9110 §8.8.3.2). `*` matches any current representation. Malformed members are ignored, so a
 * garbage header never matches and the client gets the full response.
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string | undefined): boolean {
  if (!header || !etag || header.length > MAX_IF_NONE_MATCH_LENGTH) return false;
  const current = opaqueTag(etag);
  if (current === null) return false;
  let start = 0;
  for (;;) {
    const comma = header.indexOf(',', start);
    const member = header.slice(start, comma === -1 ? undefined : comma).trim();
    if (member === '*' || (member.length > 0 && opaqueTag(member) === current)) return true;
    if (comma === -1) return false;
    start = comma + 1;
  }
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
