import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { appendVary } from './headers.js';
import { parseEntityTag } from './preconditions.js';
import { headerValue } from './request-key.js';
import type { ResponseHeaders } from './response-codec.js';

/**
 * Content-coding (RFC 9110 §8.4, §12.5.3): Accept-Encoding with q-values and `*`, the choice among
 * the codings an entry was stored in, the variants built once per fill with node:zlib, and an
 * entity tag per coding, so that no two codings of a response share a strong validator.
 */

/** The codings the cache can store a response in, besides identity. */
export type StoredCoding = 'br' | 'gzip';
export const STORED_CODINGS: readonly StoredCoding[] = ['br', 'gzip'];

/** Compresses a body into one coding; the default uses node:zlib. */
export type Compressor = (body: Buffer, coding: StoredCoding) => Promise<Buffer>;

/** Longer Accept-Encoding values are not parsed: the response is sent in identity. */
const MAX_ACCEPT_ENCODING = 4096;
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * The codings an Accept-Encoding value lists, lower case, with their weight (0 to 1). Members with
 * an invalid token or qvalue are skipped. `x-gzip` counts as `gzip` (§8.4.1.3). Undefined when the
 * header is absent or too long to parse.
 */
export function parseAcceptEncoding(header: string | undefined): Map<string, number> | undefined {
  if (header === undefined || header.length > MAX_ACCEPT_ENCODING) return undefined;
  const weights = new Map<string, number>();
  for (const member of header.split(',')) {
    const [rawName = '', ...params] = member.split(';');
    let name = rawName.trim().toLowerCase();
    if (name.length === 0 || !TOKEN.test(name)) continue;
    if (name === 'x-gzip') name = 'gzip';
    let q = 1;
    let valid = true;
    for (const param of params) {
      const eq = param.indexOf('=');
      if ((eq === -1 ? param : param.slice(0, eq)).trim().toLowerCase() !== 'q') continue;
      const value = eq === -1 ? '' : param.slice(eq + 1).trim();
      valid = QVALUE.test(value);
      q = Number(value);
    }
    if (valid) weights.set(name, Math.max(q, weights.get(name) ?? 0));
  }
  return weights;
}

/**
 * Identity not listed is acceptable but least preferred: below any qvalue a client can send (0.001),
 * so that `br;q=0.9` still chooses br.
 */
export const IMPLICIT_IDENTITY = 0.0001;

/**
 * How much the client wants `coding`: its own weight, else the weight of `*`, else 0; identity is
 * acceptable (`IMPLICIT_IDENTITY`) unless excluded by `identity;q=0`, or `*;q=0` without an
 * identity entry.
 */
export function codingWeight(accepted: ReadonlyMap<string, number>, coding: string): number {
  const own = accepted.get(coding);
  if (own !== undefined) return own;
  const any = accepted.get('*');
  if (any !== undefined) return any;
  return coding === 'identity' ? IMPLICIT_IDENTITY : 0;
}

/**
 * The coding to send among `available` (server preference order, `identity` included to allow it):
 * the highest weight above 0, ties to the earlier one. Without Accept-Encoding: identity. When no
 * available coding is acceptable, identity anyway (§12.5.3 lets a server disregard the field)
 * rather than a 406.
 */
export function negotiateCoding(header: string | undefined, available: readonly string[]): string {
  const accepted = parseAcceptEncoding(header);
  if (accepted === undefined) return 'identity';
  let best = 'identity';
  let bestWeight = 0;
  for (const coding of available) {
    const weight = codingWeight(accepted, coding);
    if (weight > bestWeight) {
      best = coding;
      bestWeight = weight;
    }
  }
  return best;
}

/** Whether the request accepts some coding other than identity that a compressor might choose. */
export function acceptsCompression(header: string | undefined): boolean {
  const accepted = parseAcceptEncoding(header);
  if (accepted === undefined) return false;
  for (const [coding, weight] of accepted) if (coding !== 'identity' && weight > 0) return true;
  return false;
}

const COMPRESSIBLE =
  /^(?:text\/|application\/(?:json|javascript|ecmascript|xml|x-javascript|graphql-response\+json|x-ndjson|wasm)\b|image\/svg\+xml|[a-z]+\/[^;]*\+(?:json|xml)\b)/i;

/** Whether a Content-Type is worth compressing: text, JSON, JavaScript, XML, SVG. */
export function isCompressible(contentType: string | undefined): boolean {
  return contentType !== undefined && COMPRESSIBLE.test(contentType.trim());
}

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

/** node:zlib at settings that suit a compression done once per fill and reused by every hit. */
export const zlibCompressor: Compressor = (body, coding) =>
  coding === 'gzip'
    ? gzip(body, { level: 6 })
    : brotli(body, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength,
        },
      });

/**
 * The compressed variants of a body, one call to `compress` per coding. A variant that is not
 * smaller than the body is left out (a client asking for it gets identity).
 */
export async function buildVariants(
  body: Buffer,
  codings: readonly StoredCoding[],
  compress: Compressor = zlibCompressor,
): Promise<Partial<Record<StoredCoding, Buffer>>> {
  const variants: Partial<Record<StoredCoding, Buffer>> = {};
  const built = await Promise.all(codings.map((coding) => compress(body, coding)));
  codings.forEach((coding, i) => {
    if (built[i]!.byteLength < body.byteLength) variants[coding] = built[i]!;
  });
  return variants;
}

/**
 * The entity tag of `coding` derived from the identity one (the way Apache's mod_deflate does):
 * `"abc"` becomes `"abc-gzip"`, weakness kept. Identity, or a tag already derived, is unchanged;
 * a malformed tag is returned as is.
 */
export function codingEtag(etag: string, coding: string): string {
  if (coding === 'identity') return etag;
  const tag = parseEntityTag(etag);
  if (tag === null || tag.opaque.endsWith(`-${coding}`)) return etag;
  return `${tag.weak ? 'W/' : ''}"${tag.opaque}-${coding}"`;
}

/** The weak form of an entity tag: for bytes a compressor after us may re-encode (§8.8.1). */
export function weakEtag(etag: string): string {
  return etag.startsWith('W/') ? etag : `W/${etag}`;
}

export interface Representation {
  headers: ResponseHeaders;
  body: Buffer;
  variants?: Readonly<Partial<Record<string, Buffer>>> | undefined;
}

/**
 * The representation to send for a request's Accept-Encoding. With stored variants: the chosen
 * coding's bytes, Content-Encoding, Content-Length and derived ETag, and `Vary: Accept-Encoding` on
 * every coding, identity included. Without: the identity bytes; when `downstreamCompressor` says a
 * compressor after the cache may encode them, a compressible response gets `Vary: Accept-Encoding`
 * and, for a request that accepts compression, a weak ETag.
 */
export function selectRepresentation(
  stored: Representation,
  acceptEncoding: string | undefined,
  downstreamCompressor = false,
): { headers: ResponseHeaders; body: Buffer; coding: string } {
  const variants = stored.variants ?? {};
  const codings = STORED_CODINGS.filter((coding) => variants[coding] !== undefined);
  const headers: ResponseHeaders = { ...stored.headers };
  const etag = headerValue(headers.etag);
  if (codings.length > 0) {
    const coding = negotiateCoding(acceptEncoding, [...codings, 'identity']);
    headers.vary = appendVary(headers.vary, ['accept-encoding']);
    if (coding === 'identity') {
      // A coding we did not store (deflate) may still be applied by a compressor after us.
      if (downstreamCompressor && etag !== undefined && acceptsCompression(acceptEncoding))
        headers.etag = weakEtag(etag);
      return { headers, body: stored.body, coding };
    }
    const body = variants[coding]!;
    headers['content-encoding'] = coding;
    headers['content-length'] = String(body.byteLength);
    if (etag !== undefined) headers.etag = codingEtag(etag, coding);
    return { headers, body, coding };
  }
  const encoded = headers['content-encoding'] !== undefined;
  if (downstreamCompressor && !encoded && isCompressible(headerValue(headers['content-type']))) {
    headers.vary = appendVary(headers.vary, ['accept-encoding']);
    if (etag !== undefined && acceptsCompression(acceptEncoding)) headers.etag = weakEtag(etag);
  }
  return { headers, body: stored.body, coding: 'identity' };
}

/**
 * A response captured already encoded (a compressor between the handler and the cache): its strong
 * ETag is derived per coding, so that the identity entry of the same resource never shares it.
 * Whether the response is stored at all is decided by its `Vary: Accept-Encoding` and the key.
 */
export function etagOfEncoded(
  etag: string | undefined,
  contentEncoding: string | undefined,
): string | undefined {
  if (etag === undefined || contentEncoding === undefined) return etag;
  const codings = contentEncoding
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding.length > 0 && coding !== 'identity');
  return codings.length === 0 ? etag : codingEtag(etag, codings.join('+'));
}
