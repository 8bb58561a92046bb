import { createCache } from '@versioned-cache/core';
import { Redis } from 'ioredis';
import { Analytics } from './analytics.js';
import { NAMESPACE, PREFIX, readConfig } from './config.js';
import { RedisEpochs } from './epochs.js';
import { summary } from './pieces.js';
import { reprocess } from './reprocess-job.js';

/**
 * The reprocessing job as its own process: it shares nothing with the dashboard servers but Redis.
 * It moves the dataset epoch, then invalidates the namespace with one version bump, which every
 * server sees on its next request.
 */
const config = readConfig();
if (!config.redisUrl) {
  console.error(
    "reprocess: set REDIS_URL to the Redis the dashboard servers use (with the embedded memory store, use the page's Reprocess button)",
  );
  process.exit(2);
}

const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
const cache = createCache({ redis: config.redisUrl, prefix: PREFIX });
try {
  const analytics = new Analytics(new RedisEpochs(redis), config.rows);
  const before = await cache.version(NAMESPACE);
  let invalidateMs = 0;
  const result = await reprocess(analytics, async () => {
    const started = performance.now();
    await cache.invalidate(NAMESPACE);
    invalidateMs = performance.now() - started;
  });
  const after = await cache.version(NAMESPACE);
  const totals = summary(await analytics.prepare(result.epoch));
  console.log(
    `reprocessed: epoch ${result.epoch}, ${result.rows} log lines processed in ${result.processMs} ms: ` +
      `${totals.requests} requests, ${totals.serverErrors} server errors`,
  );
  console.log(
    `invalidated namespace '${NAMESPACE}': version ${before} -> ${after} in ${invalidateMs.toFixed(1)} ms ` +
      '(one command, whatever the number of entries)',
  );
} finally {
  await cache.close();
  redis.disconnect();
}
