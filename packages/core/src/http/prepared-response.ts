import type { CacheStatus } from '../cache.js';
import { hasNoBody, httpDate } from './headers.js';
import type { HttpResponse } from './produce.js';
import type { StoredResponse } from './response-codec.js';
import { type Conditions, respond } from './store-decision.js';

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
 * header copying per hit; adapters only read responses, never change them. Conditional requests
 * take `respond()`'s path.
 */
export function respondStored(
  source: StoredResponse,
  statusHeader: string | null,
  status: CacheStatus,
  createdAt: number,
  conditions: Conditions,
  head: boolean,
): HttpResponse {
  if (conditions.ifNoneMatch !== undefined || conditions.ifModifiedSince !== undefined)
    return respond(source, statusHeader, status, createdAt, conditions, head);
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
