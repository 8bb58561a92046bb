import etag from 'etag';
import type { CacheStatus } from '../cache.js';
import type { Codec } from '../codec.js';
import { parseCacheControl } from './cache-control.js';
import { buildVariants, etagOfEncoded, isCompressible, selectRepresentation } from './content-coding.js';
import { revalidatedEtag } from './downstream-encoding.js';
import { cleanHeaders, hasNoBody, httpDate, parseVary, pickHeaders } from './headers.js';
import type { HttpRequest, ResolvedHttpPolicy } from './options.js';
import { conditionalHeaders, evaluatePreconditions, type RequestConditions } from './preconditions.js';
import { CREDENTIAL_HEADERS, privacyHeaders } from './privacy.js';
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
  /** Compress `stored` into these codings before storing it (`withVariants()`). */
  compress?: ResolvedHttpPolicy<unknown>['compress'];
  storable: boolean;
  ttlMs: number;
  passed: boolean;
  failed: boolean;
  error?: unknown;
}

/** The request headers `respond()` answers from: preconditions and Accept-Encoding. */
export interface Conditions extends RequestConditions {
  acceptEncoding: string | undefined;
}

/** What `respond()` needs of the request being answered and of the policy. */
export interface Answer {
  conditions: Conditions;
  head: boolean;
  /** Lower-case name of the cache status header, or null. */
  statusHeader: string | null;
  downstreamCompressor: boolean;
}

/** The `Answer` for a request, its conditions read before the handler runs (it runs without them). */
export function answerFor(
  request: HttpRequest,
  statusHeader: string | null,
  downstreamCompressor: boolean,
): Answer {
  const headers = request.headers;
  const conditions = {
    ifMatch: headerValue(headers['if-match']),
    ifUnmodifiedSince: headerValue(headers['if-unmodified-since']),
    ifNoneMatch: headerValue(headers['if-none-match']),
    ifModifiedSince: headerValue(headers['if-modified-since']),
    acceptEncoding: headerValue(headers['accept-encoding']),
  };
  return { conditions, head: request.method === 'HEAD', statusHeader, downstreamCompressor };
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
    !(captured.unmatched && status === 404) &&
    (perUser || !responseCc.has('private')) &&
    responseVary.every(
      (name) =>
        lookup.vary.includes(name) ||
        (lookup.perUser !== undefined && CREDENTIAL_HEADERS.includes(name)) ||
        // An identity body: the coding is the cache's to negotiate (compress), or a compressor's in
        // front (koa-compress names it in Vary before the handler runs; watchDownstreamEncoding).
        (name === 'accept-encoding' && headers['content-encoding'] === undefined),
    );
  if (!storable)
    return notStored({ own: { status, headers: privately(lookup, headers, status, perUser), body } });

  if (!hasNoBody(status)) {
    const own = headerValue(headers.etag);
    const encoding = headerValue(headers['content-encoding']);
    // Express and koa-etag add the weak validator of the body when the handler set none: replace
    // it with the strong one; a validator the handler chose is kept. A weak one on a body encoded
    // behind the cache may be Express's of the identity body: the bytes stored get their own.
    if (own === undefined || own === etag(body, { weak: true }) || (encoding && own.startsWith('W/')))
      headers.etag = etag(body);
    // Encoded by a compressor behind the cache: the identity entry of this resource must not share its tag.
    headers.etag = etagOfEncoded(headerValue(headers.etag), encoding)!;
  }
  if (headers['cache-control'] === undefined && route.cacheControl)
    headers['cache-control'] = perUser ? route.cacheControl.private : route.cacheControl.public;
  if (lookup.vary.length > 0) headers.vary = lookup.vary.join(', ');
  privately(lookup, headers, status, perUser);
  const stored = pickHeaders(headers, route.storeHeaders);
  if (headers['content-length'] !== undefined) stored['content-length'] = headers['content-length'];
  if (headers.vary !== undefined) stored.vary = headers.vary;
  const compress = route.compress;
  const compressible =
    compress !== null &&
    body.byteLength >= compress.minSize &&
    headers['content-encoding'] === undefined &&
    isCompressible(headerValue(headers['content-type']));
  return {
    stored: { status, headers: stored, body },
    own: { status, headers, body },
    compress: compressible ? compress : null,
    storable: true,
    ttlMs: route.ttlMs ?? defaultTtlMs,
    passed: false,
    failed: false,
  };
}

/**
 * A per-user response goes out `private` whatever the handler set, and every response of a route
 * that varies by user names the credential headers in Vary; changes `headers` in place.
 */
function privately<Req>(
  lookup: ResolvedHttpPolicy<Req>,
  headers: ResponseHeaders,
  status: number,
  perUser: boolean,
): ResponseHeaders {
  const from = headerValue(headers['cache-control']);
  const decision = privacyHeaders({
    cacheControl: from,
    vary: headerValue(headers.vary),
    perUserEntry: perUser,
    perUserRoute: lookup.perUser !== undefined,
  });
  if (decision.cacheControl !== undefined) headers['cache-control'] = decision.cacheControl;
  if (decision.vary !== undefined) headers.vary = decision.vary;
  if (decision.rewritten)
    lookup.onDebug?.({ type: 'cache-control-privatised', status, from, to: decision.cacheControl! });
  return headers;
}

/** The compressed variants of a stored response, built once per fill. */
export async function withVariants(computed: Computed): Promise<Computed> {
  const compress = computed.compress;
  if (!compress || !computed.stored) return computed;
  try {
    const variants = await buildVariants(computed.stored.body, compress.codings, compress.compressor);
    computed.stored.variants = variants;
    computed.own!.variants = variants;
  } catch {
    // A compressor that fails costs the variants, not the response: the entry is stored in identity.
  }
  return computed;
}

/**
 * What to send for `source`: the representation Accept-Encoding chooses, Age, Date and the status
 * header added; or a 304 or 412 when the preconditions say so (RFC 9110 §13.2.2).
 */
export function respond(
  source: StoredResponse,
  status: CacheStatus,
  createdAt: number | undefined,
  answer: Answer,
): HttpResponse {
  const { conditions, head, statusHeader, downstreamCompressor } = answer;
  const now = Date.now();
  const chosen = selectRepresentation(source, conditions.acceptEncoding, downstreamCompressor);
  const headers = chosen.headers;
  if (createdAt !== undefined) headers.age = String(Math.max(0, Math.floor((now - createdAt) / 1000)));
  headers.date = httpDate(now);
  if (statusHeader) headers[statusHeader] = status;
  // Range is not answered from the cache: a ranged request gets the full 200 (RFC 9110 §14.2 allows it).
  const outcome = evaluatePreconditions(
    conditions,
    { etag: headerValue(headers.etag), lastModified: headerValue(headers['last-modified']) },
    source.status,
  );
  // Declared compressor in front: the 304 updates the weak copy the client holds (RFC 9111 §4.3.4).
  const tag = revalidatedEtag(conditions.ifNoneMatch, headerValue(headers.etag));
  if (outcome === 304 && downstreamCompressor && tag !== undefined) headers.etag = tag;
  if (outcome !== 200) {
    const kept = conditionalHeaders(outcome, headers, statusHeader ? [statusHeader] : []);
    return { status: outcome, headers: kept, body: outcome === 412 && !head ? EMPTY : null };
  }
  return { status: source.status, headers, body: head || hasNoBody(source.status) ? null : chosen.body };
}

/** The request asks to revalidate: `Cache-Control: no-cache` or `max-age=0`, or a lone `Pragma: no-cache`. */
export function wantsRevalidation(
  directives: ReadonlyMap<string, string | true>,
  pragma: string | readonly string[] | undefined,
): boolean {
  if (directives.has('no-cache') || directives.get('max-age') === '0') return true;
  return directives.size === 0 && /no-cache/i.test(headerValue(pragma) ?? '');
}
