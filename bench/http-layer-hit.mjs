// CPU per hit of the core HTTP layer alone (HttpCache.handle(), no framework, no socket), for the
// embedded memory store, Redis, and Redis with the l1 tier, one hit at a time and 50 at once. CPU
// time per hit is steady on a shared machine where requests per second are not; the least of five
// rounds is reported, since other work only ever adds to it. Bytes allocated per hit (50 at once)
// come from V8's sampling heap profiler, counting the objects collected since: an estimate, but one
// that load on the machine does not move, and what a hit leaves for the garbage collector.
// Run: pnpm build && node bench/http-layer-hit.mjs
import { Session } from 'node:inspector/promises';
import { createCache, createHttpCache } from '@versioned-cache/core';
import { startRedis } from './redis.mjs';

const ROUNDS = 5;
const body = Buffer.from(JSON.stringify({ rows: 'x'.repeat(1000) }));
const produce = async () => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body,
  noStore: false,
  route: undefined,
});
const request = () => ({ method: 'GET', url: '/data', headers: { host: 'localhost', accept: '*/*' } });

/** Bytes allocated by `run()`, sampled every 256 bytes, garbage included. */
async function allocatedBy(run) {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await run();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    const total = (node) => node.selfSize + node.children.reduce((sum, child) => sum + total(child), 0);
    return total(profile.head);
  } finally {
    session.disconnect();
  }
}

async function measure(mode, redisUrl, concurrency, allocation = false) {
  // A generous timeout: on a loaded machine a slow answer must not turn a hit into a bypass.
  const redis = mode === 'memory' ? undefined : redisUrl;
  const cache = createCache({ redis, l1: mode === 'l1', ttl: '1h', timeout: '5s' });
  const http = createHttpCache('bench', { cache });
  try {
    for (let i = 0; i < 3; i++) await http.handle(request(), produce);
    if (cache.l1) await cache.l1.tracker.track(['vc:{bench}:version']);
    const hits = mode === 'redis' ? 20_000 : 100_000;
    const run = async () => {
      for (let done = 0; done < hits; done += concurrency) {
        const batch = Array.from({ length: concurrency }, () => http.handle(request(), produce));
        for (const outcome of await Promise.all(batch))
          if (outcome.status !== 'HIT') throw new Error(`${mode}: a ${outcome.status}, not a hit`);
      }
    };
    if (allocation) {
      await run(); // optimised code allocates less than the first calls do
      return (await allocatedBy(run)) / hits;
    }
    let least = Number.POSITIVE_INFINITY;
    for (let round = 0; round < ROUNDS; round++) {
      const before = process.cpuUsage();
      await run();
      const spent = process.cpuUsage(before);
      least = Math.min(least, (spent.user + spent.system) / hits);
    }
    return least;
  } finally {
    await cache.close();
  }
}

const redis = await startRedis();
const rows = [];
try {
  for (const mode of ['memory', 'redis', 'l1']) {
    const row = { store: mode };
    for (const concurrency of [1, 50]) {
      row[`CPU µs/hit, ${concurrency} at once`] = (await measure(mode, redis.url, concurrency)).toFixed(2);
    }
    row['bytes/hit, 50 at once'] = Math.round(await measure(mode, redis.url, 50, true));
    rows.push(row);
  }
} finally {
  await redis.stop();
}
console.table(rows);
