import type { RequestHandler, Response } from 'express';

/**
 * Adds `total;dur=<ms>` to `Server-Timing` on every response, as its headers are written. Installed
 * before the cache, it times cache hits too: the cache replays a stored response, but never a stored
 * timing, so what this header says is always about this request.
 */
export function serverTiming(): RequestHandler {
  return (_req, res, next) => {
    const started = performance.now();
    const writeHead = res.writeHead;
    res.writeHead = function (this: Response, ...args: unknown[]) {
      const total = `total;dur=${(performance.now() - started).toFixed(1)}`;
      // Headers passed to writeHead win over those set before, so add ours to them when given.
      const headers = args.find(
        (arg): arg is Record<string, unknown> =>
          typeof arg === 'object' && arg !== null && !Array.isArray(arg),
      );
      const name = headers && Object.keys(headers).find((key) => key.toLowerCase() === 'server-timing');
      if (headers && name) headers[name] = `${String(headers[name])}, ${total}`;
      else {
        const own = res.getHeader('server-timing');
        res.setHeader('Server-Timing', own === undefined ? total : `${String(own)}, ${total}`);
      }
      return (writeHead as (...a: unknown[]) => Response).apply(this, args);
    } as Response['writeHead'];
    next();
  };
}
