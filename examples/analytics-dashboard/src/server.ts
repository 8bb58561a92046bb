import { readConfig } from './config.js';
import { startDashboard } from './dashboard.js';

const config = readConfig();
const dashboard = await startDashboard(config);
console.log(`analytics dashboard: ${dashboard.url}`);
console.log(
  config.redisUrl
    ? `store: Redis at ${config.redisUrl} (shared with every dashboard process and the reprocess worker)`
    : 'store: embedded memory (set REDIS_URL to share the cache between processes)',
);

// Process the current log now, so that the first page load only pays for the reports.
dashboard.analytics.dataset().catch((error: unknown) => console.warn('could not process the log:', error));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void dashboard.close().finally(() => process.exit(0));
  });
}
