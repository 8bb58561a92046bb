import Router from '@koa/router';
import type { VersionedCache } from '@versioned-cache/core';
import { cacheRoute, noCache, versionedCache } from '@versioned-cache/koa';
import Koa from 'koa';

/** A report that costs real work: a deterministic pass over ten million pseudo-random numbers. */
export function crunch(id: string, epoch: number): number {
  let x = epoch + 1;
  for (const c of id) x = (Math.imul(x, 31) + c.charCodeAt(0)) >>> 0;
  let total = 0;
  for (let i = 0; i < 10_000_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    total = (total + (x >>> 16)) % 1_000_000_007;
  }
  return total;
}

export function createApp(cache: VersionedCache): Koa {
  let epoch = 0; // stands in for the database: a reprocess moves it
  let computations = 0;
  const app = new Koa();
  const router = new Router();

  // Every GET and HEAD below is cached in the `reports` namespace.
  app.use(versionedCache('reports', { cache, ttl: '10m' }));

  router.get('/api/reports/:id', (ctx) => {
    const id = ctx.params.id!;
    ctx.body = { id, epoch, total: crunch(id, epoch), computation: ++computations };
  });

  // One entry per user, sent `private`. The user comes from an auth proxy's `X-User` header.
  router.get('/api/me', cacheRoute({ perUser: (ctx) => ctx.get('x-user') }), (ctx) => {
    const user = ctx.get('x-user');
    if (!user) {
      ctx.status = 401;
      ctx.body = { error: 'X-User header required' };
      return;
    }
    ctx.body = { user, epoch, computation: ++computations };
  });

  router.get('/api/health', noCache(), (ctx) => {
    ctx.body = { ok: true, epoch, computations };
  });

  router.post('/api/reports/reprocess', async (ctx) => {
    epoch++;
    await ctx.cache.invalidate(); // one INCR: every entry of `reports` is stale at once
    ctx.body = { epoch };
  });

  app.use(router.routes());
  return app;
}
