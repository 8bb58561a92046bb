import { without304Metadata } from './headers.js';
import type { ResponseHeaders } from './response-codec.js';

/**
 * Conditional requests evaluated on a stored response, in the order of RFC 9110 §13.2.2:
 * If-Match (strong comparison), If-Unmodified-Since, If-None-Match (weak comparison),
 * If-Modified-Since. Pure functions over header values, like jshttp's `fresh`.
 */

/** Longer validator lists are not parsed: the condition is treated as not matching. */
export const MAX_CONDITION_LENGTH = 8192;

/** The request headers that make a request conditional, as received (lists joined by commas). */
export interface RequestConditions {
  ifMatch?: string | undefined;
  ifUnmodifiedSince?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
}

/** The validators of the selected representation. */
export interface Validators {
  etag?: string | undefined;
  lastModified?: string | undefined;
}

/** 200: answer in full; 304 Not Modified; 412 Precondition Failed. */
export type PreconditionOutcome = 200 | 304 | 412;

interface EntityTag {
  weak: boolean;
  opaque: string;
}

/** `W/"x"` or `"x"`; null when malformed (RFC 9110 §8.8.3: no DQUOTE inside). */
export function parseEntityTag(tag: string): EntityTag | null {
  const weak = tag.startsWith('W/');
  const start = weak ? 2 : 0;
  if (tag.length - start < 2 || tag[start] !== '"' || tag[tag.length - 1] !== '"') return null;
  const opaque = tag.slice(start + 1, -1);
  return opaque.includes('"') ? null : { weak, opaque };
}

/**
 * Whether a list of entity tags (or `*`) matches the current one. Strong comparison (If-Match):
 * both must be strong and equal; weak comparison (If-None-Match): the opaque parts are equal.
 * `*` matches any current representation. Malformed members never match.
 */
export function entityTagListMatches(
  header: string | undefined,
  etag: string | undefined,
  comparison: 'strong' | 'weak',
): boolean {
  if (header === undefined || header.length > MAX_CONDITION_LENGTH) return false;
  const current = etag === undefined ? null : parseEntityTag(etag.trim());
  let start = 0;
  for (;;) {
    const comma = header.indexOf(',', start);
    const member = header.slice(start, comma === -1 ? undefined : comma).trim();
    if (member === '*') return true;
    if (current !== null && member.length > 0) {
      const tag = parseEntityTag(member);
      if (
        tag !== null &&
        tag.opaque === current.opaque &&
        (comparison === 'weak' || (!tag.weak && !current.weak))
      )
        return true;
    }
    if (comma === -1) return false;
    start = comma + 1;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms) in ms
 * since the epoch; NaN for anything else, including a list of dates, so that the caller ignores it.
 */
export function parseHttpDate(value: string | undefined): number {
  if (value === undefined || value.length > 64) return Number.NaN;
  const text = value.trim();
  let parts: [day: string, month: string, year: number, h: string, m: string, s: string] | undefined;
  const imf = IMF_FIXDATE.exec(text);
  const rfc850 = imf ? null : RFC850.exec(text);
  const asctime = imf || rfc850 ? null : ASCTIME.exec(text);
  if (imf) parts = [imf[1]!, imf[2]!, Number(imf[3]), imf[4]!, imf[5]!, imf[6]!];
  else if (rfc850) {
    // Two-digit years: the most recent year with those digits that is not more than 50 years ahead.
    const now = new Date().getUTCFullYear();
    let year = Math.floor(now / 100) * 100 + Number(rfc850[3]);
    if (year > now + 50) year -= 100;
    parts = [rfc850[1]!, rfc850[2]!, year, rfc850[4]!, rfc850[5]!, rfc850[6]!];
  } else if (asctime)
    parts = [asctime[2]!.trim(), asctime[1]!, Number(asctime[6]), asctime[3]!, asctime[4]!, asctime[5]!];
  if (!parts) return Number.NaN;
  const [day, month, year, h, m, s] = parts;
  const time = Date.UTC(year, MONTHS.indexOf(month), Number(day), Number(h), Number(m), Number(s));
  // Reject dates that roll over (31 Feb, 25:00:00): Date.UTC would quietly normalise them.
  const date = new Date(time);
  return date.getUTCDate() === Number(day) &&
    date.getUTCHours() === Number(h) &&
    Number(m) < 60 &&
    Number(s) < 60
    ? time
    : Number.NaN;
}

/**
 * Evaluates the preconditions of a GET or HEAD against the stored representation, in the order of
 * RFC 9110 §13.2.2. `status` is the stored response's: preconditions are ignored unless it is 2xx
 * (§13.2.1). A date that is not a valid HTTP-date is ignored (§13.1.3, §13.1.4), and so are the
 * date conditions when the representation has no valid Last-Modified.
 */
export function evaluatePreconditions(
  request: RequestConditions,
  current: Validators,
  status: number,
): PreconditionOutcome {
  if (status < 200 || status > 299) return 200;
  const lastModified = parseHttpDate(current.lastModified);
  if (request.ifMatch !== undefined) {
    if (!entityTagListMatches(request.ifMatch, current.etag, 'strong')) return 412;
  } else if (request.ifUnmodifiedSince !== undefined) {
    const since = parseHttpDate(request.ifUnmodifiedSince);
    if (Number.isFinite(since) && Number.isFinite(lastModified) && lastModified > since) return 412;
  }
  if (request.ifNoneMatch !== undefined)
    return entityTagListMatches(request.ifNoneMatch, current.etag, 'weak') ? 304 : 200;
  if (request.ifModifiedSince !== undefined) {
    const since = parseHttpDate(request.ifModifiedSince);
    if (Number.isFinite(since) && Number.isFinite(lastModified) && lastModified <= since) return 304;
  }
  return 200;
}

/** What a 412 keeps: no representation metadata, nothing a cache could mistake for the resource's. */
const IN_412: ReadonlySet<string> = new Set(['date', 'vary']);

/**
 * The headers of a 304 or 412 built from the 200's: a 304 keeps Cache-Control, Content-Location,
 * Date, ETag, Expires and Vary (§15.4.5) and drops the content metadata; a 412 keeps Date and Vary,
 * plus the names in `keep` (the cache status header), with an empty body.
 */
export function conditionalHeaders(
  outcome: 304 | 412,
  headers: ResponseHeaders,
  keep: readonly string[] = [],
): ResponseHeaders {
  if (outcome === 304) return without304Metadata(headers);
  const out: ResponseHeaders = { 'content-length': '0' };
  for (const name of Object.keys(headers))
    if (IN_412.has(name) || keep.includes(name)) out[name] = headers[name]!;
  return out;
}
