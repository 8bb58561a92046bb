// One benchmark server, in its own process so that the load generator does not share its core.
// argv: <express|koa|fastify> <bare|memory|redis> [redisUrl]
import { createServer } from 'node:http';
import { createCache } from '@versioned-cache/core';

const [framework, mode, redisUrl] = process.argv.slice(2);
const body = {
  rows: Array.from({ length: 20 }, (_, i) => ({ day: i, total: i * 1000, label: 'x'.repeat(20) })),
};
// A handler with real work, as the dashboard's are: an aggregation over 20,000 rows (~1-2 ms).
const rows = Array.from({ length: 20_000 }, (_, i) => ({ day: i % 30, value: (i * 7919) % 1000 }));
function report() {
  const totals = new Array(30).fill(0);
  for (const row of rows) totals[row.day] += row.value;
  const sorted = [...rows].sort((a, b) => a.value - b.value);
  return { totals, p50: sorted[rows.length >> 1].value, p99: sorted[Math.floor(rows.length * 0.99)].value };
}
const cache =
  mode === 'bare' ? null : createCache({ redis: mode === 'redis' ? redisUrl : undefined, ttl: '1h' });

async function expressApp() {
  const { default: express } = await import('express');
  const { versionedCache } = await import('@versioned-cache/express');
  const app = express();
  if (cache) app.use(versionedCache('bench', { cache }));
  app.get('/data', (_req, res) => res.json(body));
  app.get('/report', (_req, res) => res.json(report()));
  return app;
}

async function koaApp() {
  const { default: Koa } = await import('koa');
  const { versionedCache } = await import('@versioned-cache/koa');
  const app = new Koa();
  if (cache) app.use(versionedCache('bench', { cache }));
  app.use((ctx) => {
    ctx.body = ctx.path === '/report' ? report() : body;
  });
  return app.callback();
}

async function fastifyApp() {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  if (cache) {
    const { versionedCache } = await import('@versioned-cache/fastify');
    await app.register(versionedCache, { namespace: 'bench', cache });
  }
  app.get('/data', async () => body);
  app.get('/report', async () => report());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

let port;
if (framework === 'fastify') {
  const app = await fastifyApp();
  port = app.server.address().port;
} else {
  const handler = framework === 'koa' ? await koaApp() : await expressApp();
  const server = createServer(handler).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = server.address().port;
}
process.send({ port });
process.on('SIGINT', () => process.exit(0));
