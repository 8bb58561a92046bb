// A server whose CPU per request is measured: the parent sends 'start' and 'stop'; the reply is the
// CPU time (user + system) this process spent between them, and the requests it answered.
// argv: <express|koa|fastify> <bare|naive|memory|redis|redis-ap|l1> [redisUrl]
import { createServer } from 'node:http';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createCache } from '@versioned-cache/core';
import { Redis } from 'ioredis';

const [framework, mode, redisUrl] = process.argv.slice(2);
const body = {
  rows: Array.from({ length: 20 }, (_, i) => ({ day: i, total: i * 1000, label: 'x'.repeat(20) })),
};
// redis-ap: ioredis auto pipelining turned back on, to compare its tail latency.
const redis = mode === 'redis-ap' ? { ...parseUrl(redisUrl), enableAutoPipelining: true } : redisUrl;
const cached = ['memory', 'redis', 'redis-ap', 'l1'].includes(mode);
const cache = cached
  ? createCache({ redis: mode === 'memory' ? undefined : redis, ttl: '1h', l1: mode === 'l1' })
  : null;

function parseUrl(url) {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port) };
}
let downs = 0;
cache?.l1?.tracker.on('down', () => downs++);
// Faults the cache absorbed (a Redis timeout turns a hit into a handler run), by code.
const faults = {};
cache?.on('error', (error) => {
  faults[error.code] = (faults[error.code] ?? 0) + 1;
});
// Naive cache-aside: one GET of a ready JSON string per request.
const naive = mode === 'naive' ? new Redis(redisUrl) : null;
if (naive) await naive.set('naive:/data', JSON.stringify(body));

async function expressApp() {
  const { default: express } = await import('express');
  const { versionedCache } = await import('@versioned-cache/express');
  const app = express();
  if (cache) app.use(versionedCache('bench', { cache }));
  app.get('/data', async (req, res) => {
    if (!naive) return res.json(body);
    const hit = await naive.get(`naive:${req.originalUrl}`);
    res.type('json').send(hit);
  });
  return app;
}

async function koaApp() {
  const { default: Koa } = await import('koa');
  const { versionedCache } = await import('@versioned-cache/koa');
  const app = new Koa();
  if (cache) app.use(versionedCache('bench', { cache }));
  app.use(async (ctx) => {
    if (naive) ctx.type = 'json';
    ctx.body = naive ? await naive.get(`naive:${ctx.url}`) : body;
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
  app.get('/data', async (req, reply) => {
    if (!naive) return body;
    reply.type('application/json');
    return naive.get(`naive:${req.url}`);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

let server;
if (framework === 'fastify') server = (await fastifyApp()).server;
else {
  server = createServer(framework === 'koa' ? await koaApp() : await expressApp()).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
}
let requests = 0;
server.on('request', () => requests++);
// Where a long stall comes from: the longest garbage collection and the longest event loop delay.
let gcMaxMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMaxMs = Math.max(gcMaxMs, entry.duration);
}).observe({ entryTypes: ['gc'] });
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let start;
process.on('message', (message) => {
  if (message === 'start') {
    gcMaxMs = 0;
    loopDelay.enable();
    loopDelay.reset();
    start = { cpu: process.cpuUsage(), requests, elu: performance.eventLoopUtilization() };
  } else if (message === 'stop') {
    const cpu = process.cpuUsage(start.cpu);
    const elu = performance.eventLoopUtilization(start.elu);
    const loopMaxMs = loopDelay.max / 1e6;
    process.send({
      faults,
      gcMaxMs,
      loopMaxMs,
      cpuUs: cpu.user + cpu.system,
      requests: requests - start.requests,
      elu: elu.utilization,
      downs,
    });
  }
});
process.send({ port: server.address().port });
process.on('SIGINT', () => process.exit(0));
