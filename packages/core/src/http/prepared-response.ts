import type { CacheStatus } from '../cache.js';
import { selectRepresentation } from './content-coding.js';
import { hasNoBody, httpDate } from './headers.js';
import type { HttpResponse } from './produce.js';
import type { StoredResponse } from './response-codec.js';
import { type Answer, respond } from './store-decision.js';

interface Built {
  date: string;
  age: number;
  status: CacheStatus;
  head: boolean;
  response: HttpResponse;
}

// Keyed by the decoded response, which the engine shares between hits of one entry (`shareDecoded`).
const lastBuilt = new WeakMap<StoredResponse, Built>();
// An entry with stored codings: one response per Accept-Encoding value clients send (a handful).
const lastBuiltByCoding = new WeakMap<StoredResponse, Map<string, Built>>();
const MAX_ACCEPT_ENCODINGS = 8;

/**
 * `respond()` for a response read from the cache (HIT or STALE). Within one second, hits of one
 * entry with the same Age, status and method get the same response object, so a hot entry costs no
 * header copying per hit; adapters only read responses, never change them. An entry with stored
 * content-codings keeps one per Accept-Encoding value. Conditional requests and a declared
 * compressor in front take `respond()`'s path, which evaluates preconditions per request.
 */
export function respondStored(
  source: StoredResponse,
  status: CacheStatus,
  createdAt: number,
  answer: Answer,
): HttpResponse {
  const { conditions, head, statusHeader } = answer;
  if (
    conditions.ifNoneMatch !== undefined ||
    conditions.ifModifiedSince !== undefined ||
    conditions.ifMatch !== undefined ||
    conditions.ifUnmodifiedSince !== undefined ||
    answer.downstreamCompressor
  )
    return respond(source, status, createdAt, answer);
  const now = Date.now();
  const date = httpDate(now);
  const age = Math.max(0, Math.floor((now - createdAt) / 1000));
  const same = (built: Built | undefined): built is Built =>
    built !== undefined &&
    built.date === date &&
    built.age === age &&
    built.status === status &&
    built.head === head;
  if (source.variants === undefined) {
    const last = lastBuilt.get(source);
    if (same(last)) return last.response;
    const headers: StoredResponse['headers'] = { ...source.headers, age: String(age), date };
    if (statusHeader) headers[statusHeader] = status;
    const body = head || hasNoBody(source.status) ? null : source.body;
    const response = { status: source.status, headers, body };
    lastBuilt.set(source, { date, age, status, head, response });
    return response;
  }
  // Stored codings: the negotiation is decided by the Accept-Encoding value alone, so its response is
  // remembered per value, as the identity one is; a stored gzip hit then costs what an identity hit does.
  const accept = conditions.acceptEncoding ?? '';
  let byCoding = lastBuiltByCoding.get(source);
  const last = byCoding?.get(accept);
  if (same(last)) return last.response;
  const chosen = selectRepresentation(source, conditions.acceptEncoding, false);
  const headers = chosen.headers;
  headers.age = String(age);
  headers.date = date;
  if (statusHeader) headers[statusHeader] = status;
  const body = head || hasNoBody(source.status) ? null : chosen.body;
  const response = { status: source.status, headers, body };
  if (!byCoding) {
    byCoding = new Map();
    lastBuiltByCoding.set(source, byCoding);
  }
  if (byCoding.has(accept) || byCoding.size < MAX_ACCEPT_ENCODINGS)
    byCoding.set(accept, { date, age, status, head, response });
  return response;
}
