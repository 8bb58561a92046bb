// Requests per second per framework for two routes (a constant 1 KB JSON body, and a handler that
// aggregates 20,000 rows): the bare route (handler runs on every request), hits from the embedded
// memory store, and hits from a private redis-server.
// Run: pnpm build && pnpm --filter @versioned-cache/bench bench:http
import { fork } from 'node:child_process';
import autocannon from 'autocannon';
import { startRedis } from './redis.mjs';

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const frameworks = (process.env.BENCH_FRAMEWORKS ?? 'express,koa,fastify').split(',');

async function startServer(framework, mode, redisUrl) {
  const child = fork(new URL('./http-server.mjs', import.meta.url), [framework, mode, redisUrl ?? ''], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { port, stop: () => child.kill('SIGKILL') };
}

function load(port, path) {
  return autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    connections: CONNECTIONS,
    duration: DURATION_S,
  });
}

const redis = await startRedis();
const rows = [];
try {
  for (const framework of frameworks) {
    for (const mode of ['bare', 'memory', 'redis']) {
      const server = await startServer(framework, mode, redis.url);
      try {
        for (const [path, route] of [
          ['/data', 'constant 1 KB JSON'],
          ['/report', 'aggregation (~1 ms)'],
        ]) {
          await autocannon({ url: `http://127.0.0.1:${server.port}${path}`, amount: 500, connections: 10 });
          const result = await load(server.port, path);
          const row = {
            framework,
            route,
            mode: mode === 'bare' ? 'no cache (handler runs)' : `cache hit (${mode})`,
            'req/s': Math.round(result.requests.average),
            'p99 ms': result.latency.p99,
            errors: result.errors + result.non2xx,
          };
          rows.push(row);
          console.log(JSON.stringify(row));
        }
      } finally {
        server.stop();
      }
    }
  }
} finally {
  await redis.stop();
}
console.table(rows);
