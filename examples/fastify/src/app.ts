import type { VersionedCache } from '@versioned-cache/core';
import { versionedCache } from '@versioned-cache/fastify';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';

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

/** The user an auth proxy in front of the API names in `X-User`. */
const userOf = (request: FastifyRequest) => request.headers['x-user']?.toString();

export async function createApp(cache: VersionedCache): Promise<FastifyInstance> {
  let epoch = 0; // stands in for the database: a reprocess moves it
  let computations = 0;
  const app = Fastify();

  // Every GET and HEAD route declared after it is cached in the `reports` namespace. Awaited, so
  // that the plugin sees those routes.
  await app.register(versionedCache, { namespace: 'reports', cache, ttl: '10m' });

  app.get<{ Params: { id: string } }>('/api/reports/:id', async (request) => {
    const { id } = request.params;
    return { id, epoch, total: crunch(id, epoch), computation: ++computations };
  });

  // One entry per user, sent `private`.
  app.get('/api/me', { config: { cache: { perUser: userOf } } }, async (request, reply) => {
    const user = userOf(request);
    if (!user) return reply.code(401).send({ error: 'X-User header required' });
    return { user, epoch, computation: ++computations };
  });

  app.get('/api/health', { config: { cache: false } }, async () => ({ ok: true, epoch, computations }));

  app.post('/api/reports/reprocess', async (request) => {
    epoch++;
    await request.cache.invalidate(); // one INCR: every entry of `reports` is stale at once
    return { epoch };
  });

  return app;
}
