// Hit path of the core engine against alternatives, on a private redis-server:
//   plain GET (cache-aside, no versioning) - the floor a versioned read should match;
//   naive versioned read (GET version, then GET entry) - two round trips;
//   versioned-cache fetch (one MGET of version + entry).
// Run: pnpm build && pnpm --filter @versioned-cache/bench bench:core (BENCH_MS, BENCH_CONCURRENCY)
// CPU per call, steadier than calls per second: `BENCH_REDIS_CPU=1 taskset -c 0 node bench/core-hit.mjs`
// keeps this process on core 0 and redis-server on core 1.
import { performance } from 'node:perf_hooks';
import { bufferCodec, createCache } from '@versioned-cache/core';
import { Redis } from 'ioredis';
import { startRedis } from './redis.mjs';

const DURATION_MS = Number(process.env.BENCH_MS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const BODY = JSON.stringify({
  rows: Array.from({ length: 20 }, (_, i) => ({ day: i, total: i * 1000, label: 'x'.repeat(20) })),
});

async function measure(name, once) {
  await once();
  let done = 0;
  const deadline = performance.now() + DURATION_MS;
  const worker = async () => {
    while (performance.now() < deadline) {
      await once();
      done++;
    }
  };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - started) / 1000;
  const row = { name, opsPerSec: Math.round(done / seconds), cpuUsPerOp: (cpu.user + cpu.system) / done };
  console.log(
    `${name.padEnd(44)} ${String(row.opsPerSec).padStart(8)} ops/s ${row.cpuUsPerOp.toFixed(2).padStart(7)} µs CPU/op`,
  );
  return row;
}

const redisCpu = process.env.BENCH_REDIS_CPU;
const server = await startRedis({ pin: redisCpu ? ['taskset', '-c', redisCpu] : [] });
// Auto-pipelining for the baselines too, as the cache's own connection uses it.
const client = new Redis(server.url, { enableAutoPipelining: true });
try {
  console.log(`body ${BODY.length} bytes, concurrency ${CONCURRENCY}, ${DURATION_MS} ms each\n`);
  await client.set('bench:plain', BODY);
  await client.set('bench:{ns}:version', '1000');
  await client.set('bench:{ns}:1000:k', BODY);
  await measure('plain GET (no versioning)', () => client.getBuffer('bench:plain'));
  await measure('naive versioned: GET version, GET entry', async () => {
    const v = await client.get('bench:{ns}:version');
    return client.getBuffer(`bench:{ns}:${v}:k`);
  });

  const redisCache = createCache({ redis: server.url, prefix: 'vcbench' });
  const compute = () => JSON.parse(BODY);
  const bytes = Buffer.from(BODY);
  const raw = { codec: bufferCodec };
  // Bytes in, bytes out: what the HTTP layer stores and replays.
  await measure('versioned-cache fetch (Redis, bytes)', () => redisCache.fetch('ns', 'b', () => bytes, raw));
  await measure('versioned-cache fetch (Redis, bytes, 2 namespaces)', () =>
    redisCache.fetch(['ns', 'other'], 'b', () => bytes, raw),
  );
  await measure('versioned-cache fetch (Redis, JSON value)', () => redisCache.fetch('ns', 'k', compute));
  await redisCache.close();

  const memoryCache = createCache({ prefix: 'vcbench' });
  await measure('versioned-cache fetch (memory store, bytes)', () =>
    memoryCache.fetch('ns', 'b', () => bytes, raw),
  );
  await memoryCache.close();

  const before = process.memoryUsage().heapUsed;
  const sized = createCache({ memory: { maxEntries: 10_000 } });
  for (let i = 0; i < 20_000; i++) await sized.getOrSet('ns', `k${i}`, compute);
  const after = process.memoryUsage().heapUsed;
  console.log(
    `\nmemory store, 20,000 writes into maxEntries 10,000: heap +${Math.round((after - before) / 1048576)} MiB`,
  );
  await sized.close();
} finally {
  client.disconnect();
  await server.stop();
}
