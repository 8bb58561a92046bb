import type { CacheStatus } from '../cache.js';
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

/**
 * `respond()` for a response read from the cache (HIT or STALE). Within one second, hits of one
 * entry with the same Age, status and method get the same response object, so a hot entry costs no
 * header copying per hit; adapters only read responses, never change them. Conditional requests,
 * stored content-codings and a declared compressor in front take `respond()`'s path, which
 * negotiates and evaluates preconditions per request.
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
    source.variants !== undefined ||
    answer.downstreamCompressor
  )
    return respond(source, status, createdAt, answer);
  const now = Date.now();
  const date = httpDate(now);
  const age = Math.max(0, Math.floor((now - createdAt) / 1000));
  const last = lastBuilt.get(source);
  if (last && last.date === date && last.age === age && last.status === status && last.head === head)
    return last.response;
  const headers: StoredResponse['headers'] = { ...source.headers, age: String(age), date };
  if (statusHeader) headers[statusHeader] = status;
  const body = head || hasNoBody(source.status) ? null : source.body;
  const response = { status: source.status, headers, body };
  lastBuilt.set(source, { date, age, status, head, response });
  return response;
}
