import { headerValue } from './request-key.js';
import type { ResponseHeaders } from './response-codec.js';

/** Headers a handler may set that a stored entry replays; anything else belongs to the one response. */
export const REPLAYED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-language',
  'content-encoding',
  'content-disposition',
  'content-location',
  'link',
  'location',
  'last-modified',
  'etag',
  'cache-control',
  'expires',
]);

/** Connection-level headers (RFC 9110 §7.6.1) and the framing we recompute from the body. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
]);

/** Representation metadata a 304 leaves out (RFC 9110 §15.4.5): the client keeps its stored copy's. */
const NOT_IN_304: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-range',
  'content-disposition',
  'transfer-encoding',
]);

export type LooseHeaders = Readonly<Record<string, string | readonly string[] | number | undefined>>;

/** Lower-case names, string values, framing and hop-by-hop headers dropped. */
export function cleanHeaders(headers: LooseHeaders): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(lower)) continue;
    out[lower] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

export function pickHeaders(headers: ResponseHeaders, extra: ReadonlySet<string>): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const name of Object.keys(headers)) {
    if (REPLAYED_HEADERS.has(name) || extra.has(name)) out[name] = headers[name]!;
  }
  return out;
}

export function without304Metadata(headers: ResponseHeaders): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const name of Object.keys(headers)) if (!NOT_IN_304.has(name)) out[name] = headers[name]!;
  return out;
}

/** Header names listed in a Vary value, lower case; `*` stays `*`. */
export function parseVary(value: string | readonly string[] | undefined): string[] {
  const text = headerValue(value);
  if (!text) return [];
  return text
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name.length > 0);
}

/**
 * A Vary value with `names` added (lower case, each once); `*` already covers every header and is
 * left alone (RFC 9110 §12.5.5).
 */
export function appendVary(value: string | readonly string[] | undefined, names: readonly string[]): string {
  const listed = parseVary(value);
  if (listed.includes('*')) return '*';
  for (const name of names) if (!listed.includes(name.toLowerCase())) listed.push(name.toLowerCase());
  return listed.join(', ');
}

/** Statuses that carry no body, so no Content-Length either (RFC 9110 §8.6). */
export function hasNoBody(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

let dateSecond = 0;
let dateValue = '';
/** The Date header, formatted once a second rather than per response. */
export function httpDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
  }
  return dateValue;
}
