import etag from 'etag';
import type { CacheStatus } from '../cache.js';
import type { Codec } from '../codec.js';
import { parseCacheControl } from './cache-control.js';
import { isNotModified } from './conditional.js';
import { cleanHeaders, hasNoBody, httpDate, parseVary, pickHeaders, without304Metadata } from './headers.js';
import type { ResolvedHttpPolicy } from './options.js';
import type { CapturedResponse, HttpResponse } from './produce.js';
import { headerValue } from './request-key.js';
import { type ResponseHeaders, type StoredResponse, storedResponseCodec } from './response-codec.js';
import { sameLookup } from './route-policy.js';

/** What one run of the handler gave: what to store (if it may be), and what its own request sends. */
export interface Computed {
  /** The representation stored, when it may be. */
  stored: StoredResponse | null;
  /** What the request that produced it sends (its full headers); null when decoded from the store. */
  own: StoredResponse | null;
  storable: boolean;
  ttlMs: number;
  passed: boolean;
  failed: boolean;
  error?: unknown;
}

/** The If-None-Match and If-Modified-Since of the request being answered. */
export interface Conditions {
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
}

const EMPTY = Buffer.alloc(0);

export const computedCodec: Codec<Computed> = {
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

export function notStored(fields: Partial<Computed>): Computed {
  return { stored: null, own: null, storable: false, ttlMs: 0, passed: false, failed: false, ...fields };
}

/**
 * The store decision for a captured response under the `lookup` policy, and the headers we add (ETag,
 * Cache-Control, Vary, Content-Length). `defaultTtlMs`: the cache's ttl, for routes without their own.
 */
export function decide<Req>(
  lookup: ResolvedHttpPolicy<Req>,
  captured: CapturedResponse<Req>,
  perUser: boolean,
  storeAllowed: boolean,
  defaultTtlMs: number,
): Computed {
  const route = captured.route && sameLookup(lookup, captured.route.policy) ? captured.route.policy : lookup;
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
    body.byteLength <= lookup.maxBodySize &&
    headers['set-cookie'] === undefined &&
    !responseCc.has('no-store') &&
    !responseCc.has('no-cache') &&
    (perUser || !responseCc.has('private')) &&
    responseVary.every((name) => lookup.vary.includes(name));
  if (!storable) return notStored({ own: { status, headers, body } });

  if (!hasNoBody(status)) {
    const own = headerValue(headers.etag);
    // Express and koa-etag add the weak validator of the body when the handler set none: replace
    // it with the strong one; a validator the handler chose is kept.
    if (own === undefined || own === etag(body, { weak: true })) headers.etag = etag(body);
  }
  if (headers['cache-control'] === undefined && route.cacheControl)
    headers['cache-control'] = perUser ? route.cacheControl.private : route.cacheControl.public;
  if (lookup.vary.length > 0) headers.vary = lookup.vary.join(', ');
  const stored = pickHeaders(headers, route.storeHeaders);
  if (headers['content-length'] !== undefined) stored['content-length'] = headers['content-length'];
  if (headers.vary !== undefined) stored.vary = headers.vary;
  return {
    stored: { status, headers: stored, body },
    own: { status, headers, body },
    storable: true,
    ttlMs: route.ttlMs ?? defaultTtlMs,
    passed: false,
    failed: false,
  };
}

/** What to send for `source`: Age, Date and the status header added, or a 304 when the conditions match. */
export function respond(
  source: StoredResponse,
  statusHeader: string | null,
  status: CacheStatus,
  createdAt: number | undefined,
  conditions: Conditions,
  head: boolean,
): HttpResponse {
  const now = Date.now();
  const headers: ResponseHeaders = { ...source.headers };
  if (createdAt !== undefined) headers.age = String(Math.max(0, Math.floor((now - createdAt) / 1000)));
  headers.date = httpDate(now);
  if (statusHeader) headers[statusHeader] = status;
  if (
    source.status >= 200 &&
    source.status < 300 &&
    (conditions.ifNoneMatch !== undefined || conditions.ifModifiedSince !== undefined) &&
    isNotModified(conditions, {
      etag: headerValue(headers.etag),
      lastModified: headerValue(headers['last-modified']),
    })
  ) {
    return { status: 304, headers: without304Metadata(headers), body: null };
  }
  return { status: source.status, headers, body: head || hasNoBody(source.status) ? null : source.body };
}

/** The request asks to revalidate: `Cache-Control: no-cache` or `max-age=0`, or a lone `Pragma: no-cache`. */
export function wantsRevalidation(
  directives: ReadonlyMap<string, string | true>,
  pragma: string | readonly string[] | undefined,
): boolean {
  if (directives.has('no-cache') || directives.get('max-age') === '0') return true;
  return directives.size === 0 && /no-cache/i.test(headerValue(pragma) ?? '');
}
