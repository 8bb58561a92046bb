import type { ServerResponse } from 'node:http';
import { weakEtag } from './content-coding.js';
import { appendVary } from './headers.js';
import { headerValue } from './request-key.js';
import type { ResponseHeaders } from './response-codec.js';

/**
 * A compressor in front of the cache (`compression`, `koa-compress`, `@fastify/compress`) encodes the
 * response the cache sends and keeps its ETag: gzip and identity bytes would share one strong
 * validator (RFC 9110 §8.8.1). Until the headers go out, this watches the response the cache wrote:
 * when a Content-Encoding other than the cache's own is set over the cache's strong ETag, the ETag
 * goes out weak (If-None-Match compares weakly, so revalidation still gives 304) and Vary names
 * Accept-Encoding. A compressor decides in its `writeHead` hook (`on-headers`), always through
 * `setHeader` or the headers `writeHead` is given, or after the handler (Koa), before `writeHead`.
 * `setters: false` watches `writeHead` alone: enough when no compressor wrapped `res` (Koa's
 * koa-compress sets its headers before Koa writes them), and cheaper.
 */
export function watchDownstreamEncoding(res: ServerResponse, sent: ResponseHeaders, setters = true): void {
  const etag = headerValue(sent.etag);
  if (etag === undefined || etag.startsWith('W/') || res.headersSent) return;
  const own = headerValue(sent['content-encoding'])?.toLowerCase();
  const foreign = (value: unknown) => {
    const coding = typeof value === 'string' ? value.trim().toLowerCase() : '';
    return coding !== '' && coding !== 'identity' && coding !== own;
  };
  const setHeader = res.setHeader;
  const writeHead = res.writeHead;
  const weaken = () => {
    if (res.getHeader('etag') !== etag || !foreign(res.getHeader('content-encoding'))) return;
    setHeader.call(res, 'etag', weakEtag(etag));
    const vary = res.getHeader('vary');
    setHeader.call(
      res,
      'vary',
      appendVary(typeof vary === 'number' ? String(vary) : vary, ['accept-encoding']),
    );
  };
  if (setters) {
    res.setHeader = function (this: ServerResponse, name: string, value: Parameters<typeof setHeader>[1]) {
      setHeader.call(this, name, value);
      const lower = name.toLowerCase();
      if (lower === 'content-encoding' || lower === 'etag') weaken();
      return this;
    } as ServerResponse['setHeader'];
  }
  let restored = false;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    if (restored) return (writeHead as (...args: unknown[]) => ServerResponse).call(this, status, ...rest);
    restored = true;
    const headers = rest[rest.length - 1];
    // Fastify hands its headers to writeHead: apply them first, so that the check sees them.
    if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
      for (const [name, value] of Object.entries(headers))
        if (value !== undefined) setHeader.call(this, name, value as string);
      rest.pop();
    }
    weaken();
    try {
      // An on-headers compressor (`compression`) sets Content-Encoding in here, through setHeader.
      return (writeHead as (...args: unknown[]) => ServerResponse).call(this, status, ...rest);
    } finally {
      if (setters) res.setHeader = setHeader;
      res.writeHead = writeHead;
    }
  } as ServerResponse['writeHead'];
}

/**
 * The ETag a 304 carries with `downstreamCompressor`: the weak form when the client revalidates a
 * copy it got weak (encoded by the compressor in front), so that the 304 updates that copy (RFC 9111
 * §4.3.4) and not the identity one; else `etag`. Without the option a 304 carries the ETag a 200
 * would (RFC 9110 §15.4.5), the strong one.
 */
export function revalidatedEtag(
  ifNoneMatch: string | undefined,
  etag: string | undefined,
): string | undefined {
  if (ifNoneMatch === undefined || etag === undefined || etag.startsWith('W/')) return etag;
  const members = ifNoneMatch.split(',').map((member) => member.trim());
  return !members.includes(etag) && members.includes(weakEtag(etag)) ? weakEtag(etag) : etag;
}
