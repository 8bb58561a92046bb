import type { VersionedCache } from '@versioned-cache/core';
import { cacheRoute, noCache, versionedCache } from '@versioned-cache/express';
import express, { type Express } from 'express';

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

export function createApp(cache: VersionedCache): Express {
  let epoch = 0; // stands in for the database: a reprocess moves it
  let computations = 0;
  const app = express();

  // Every GET and HEAD below is cached in the `reports` namespace.
  app.use(versionedCache('reports', { cache, ttl: '10m' }));

  app.get('/api/reports/:id', (req, res) => {
    const { id } = req.params;
    res.json({ id, epoch, total: crunch(id, epoch), computation: ++computations });
  });

  // One entry per user, sent `private`. The user comes from an auth proxy's `X-User` header.
  app.get('/api/me', cacheRoute({ perUser: (req) => req.get('x-user') }), (req, res) => {
    const user = req.get('x-user');
    if (!user) {
      res.status(401).json({ error: 'X-User header required' });
      return;
    }
    res.json({ user, epoch, computation: ++computations });
  });

  app.get('/api/health', noCache(), (_req, res) => {
    res.json({ ok: true, epoch, computations });
  });

  app.post('/api/reports/reprocess', async (req, res) => {
    epoch++;
    await req.cache.invalidate(); // one INCR: every entry of `reports` is stale at once
    res.json({ epoch });
  });

  return app;
}
