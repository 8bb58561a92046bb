import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import Router from '@koa/router';
import { cacheRoute, type KoaCacheOptions, type KoaRouteOptions, versionedCache } from '@versioned-cache/koa';
import type Koa from 'koa';
import type { Context } from 'koa';
import type { AdapterHarness, SpecResponse } from './harness.js';

async function* paced(chunks: readonly string[]): AsyncGenerator<string> {
  for (const chunk of chunks) {
    yield chunk;
    await tick();
  }
}

function write(ctx: Context, answer: SpecResponse): void {
  ctx.status = answer.status ?? 200;
  ctx.set(answer.headers ?? {});
  const body = answer.body ?? { kind: 'empty' };
  switch (body.kind) {
    case 'json':
      // Koa sends objects as JSON; a bare string would go out as text.
      if (typeof body.value === 'object' && body.value !== null) ctx.body = body.value;
      else {
        ctx.type = 'application/json';
        ctx.body = JSON.stringify(body.value);
      }
      return;
    case 'string':
    case 'buffer':
      ctx.body = body.value;
      return;
    case 'chunks':
      if (!ctx.response.get('Content-Type')) ctx.type = 'text/plain; charset=utf-8';
      ctx.body = Readable.from(paced(body.value));
      return;
    case 'empty':
      // Koa's own way: no body set, Koa sends the status message (nothing for 204).
      return;
  }
}

/**
 * The harness over one Koa module (`koa` is 3, `koa2` the 2 line): the adapter must work with
 * whichever major the application installed. Both are typed with Koa 3's types.
 */
export const koaHarness = (name: string, framework: typeof Koa): AdapterHarness => ({
  name,
  build({ namespaces, options, routes }) {
    const app = new framework();
    // Handler errors get Koa's own 500, without logging them in the test output.
    app.silent = true;
    app.use(versionedCache(namespaces, options as KoaCacheOptions));
    const router = new Router();
    for (const route of routes) {
      const handler = async (ctx: Context) => {
        write(
          ctx,
          await route.handle({
            method: ctx.method,
            url: ctx.originalUrl,
            headers: ctx.headers,
            cache: ctx.cache,
          }),
        );
      };
      const stack =
        route.options === undefined
          ? [handler]
          : [cacheRoute(route.options as KoaRouteOptions | false), handler];
      if (route.method === 'GET') router.get(route.path, ...stack);
      else router.post(route.path, ...stack);
    }
    app.use(router.routes());
    return createServer(app.callback());
  },
});
