import type { ServerResponse } from 'node:http';
import type { CapturedResponse, ProduceContext } from './produce.js';

type Captured = Omit<CapturedResponse, 'route' | 'noStore' | 'request'>;
type Callback = (error?: Error | null) => void;

const EMPTY = Buffer.alloc(0);

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return EMPTY;
}

/**
 * For adapters over Node's `ServerResponse` (Express, or any framework that exposes the raw response):
 * buffers what a handler writes (`res.json`, `res.send`, streamed `res.write` chunks) instead of
 * sending it. Headers stay on the response, unsent. `done` is called once: with the response at
 * `res.end()`, or with null when it lets go (past `maxBodySize`, on `flushHeaders()`, when the core
 * gives up (`signal`) or on the returned `release()`): what was buffered is written, the rest streams.
 */
export function capture(res: ServerResponse, ctx: ProduceContext, done: (response: Captured | null) => void) {
  const original = {
    writeHead: res.writeHead,
    write: res.write,
    end: res.end,
    flushHeaders: res.flushHeaders,
  };
  let chunks: Buffer[] = [];
  let size = 0;
  let started = false;
  let settled = false;
  const settle = (response: Captured | null) => {
    settled = true;
    Object.assign(res, original);
    chunks = [];
    done(response);
  };

  const release = () => {
    if (settled) return;
    settled = true;
    Object.assign(res, original);
    if (!res.headersSent)
      for (const [name, value] of Object.entries(ctx.passHeaders)) res.setHeader(name, value);
    if (started && !res.headersSent) {
      res.writeHead(res.statusCode);
      for (const chunk of chunks) res.write(chunk);
    }
    settle(null);
  };
  ctx.signal.addEventListener('abort', release, { once: true });

  const append = (chunk: unknown, encoding: unknown): boolean => {
    const buffer = toBuffer(chunk, encoding);
    started = true;
    if (size + buffer.byteLength > ctx.maxBodySize) {
      release();
      return false;
    }
    if (buffer.byteLength > 0) chunks.push(buffer);
    size += buffer.byteLength;
    return true;
  };

  res.writeHead = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]) {
    if (settled)
      return (original.writeHead as (...a: unknown[]) => ServerResponse).call(res, status, ...rest);
    res.statusCode = status;
    if (typeof rest[0] === 'string') res.statusMessage = rest.shift() as string;
    const headers = rest[0];
    if (Array.isArray(headers)) {
      const pairs = Array.isArray(headers[0]) ? (headers as [string, string][]) : [];
      if (pairs.length === 0)
        for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
      for (const [name, value] of pairs) res.setHeader(name, value);
    } else if (headers && typeof headers === 'object') {
      for (const [name, value] of Object.entries(headers))
        if (value !== undefined) res.setHeader(name, value);
    }
    started = true;
    return res;
  } as ServerResponse['writeHead'];

  res.write = function write(this: ServerResponse, chunk: unknown, encoding?: unknown, cb?: unknown) {
    const callback = (typeof encoding === 'function' ? encoding : cb) as Callback | undefined;
    if (settled || !append(chunk, encoding))
      return (original.write as (...a: unknown[]) => boolean).call(res, chunk, encoding, cb);
    if (callback) process.nextTick(callback);
    return true;
  } as ServerResponse['write'];

  res.end = function end(this: ServerResponse, chunk?: unknown, encoding?: unknown, cb?: unknown) {
    if (typeof chunk === 'function') [chunk, encoding, cb] = [undefined, undefined, chunk];
    else if (typeof encoding === 'function') [encoding, cb] = [undefined, encoding];
    if (settled || !append(chunk, encoding))
      return (original.end as (...a: unknown[]) => ServerResponse).call(res, chunk, encoding, cb);
    if (typeof cb === 'function') res.once('finish', cb as () => void);
    settle({ status: res.statusCode, headers: res.getHeaders(), body: Buffer.concat(chunks, size) });
    return res;
  } as ServerResponse['end'];

  res.flushHeaders = function flushHeaders(this: ServerResponse) {
    release();
    original.flushHeaders.call(res);
  };

  return release;
}
