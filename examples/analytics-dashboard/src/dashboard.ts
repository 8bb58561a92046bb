import type { AddressInfo } from 'node:net';
import { createCache } from '@versioned-cache/core';
import { Redis } from 'ioredis';
import { Analytics } from './analytics.js';
import { createApp } from './app.js';
import { type Config, PREFIX } from './config.js';
import { type EpochSource, MemoryEpochs, RedisEpochs } from './epochs.js';
import { startMetrics } from './metrics.js';

export interface Dashboard {
  url: string;
  port: number;
  analytics: Analytics;
  close(): Promise<void>;
}

/**
 * Starts the dashboard: on Redis when `redisUrl` is set (cache entries, namespace versions and the
 * dataset epoch shared by every process), on the embedded memory store otherwise.
 */
export async function startDashboard(config: Config): Promise<Dashboard> {
  const cache = createCache({ redis: config.redisUrl, prefix: PREFIX, ttl: '10m' });
  cache.on('error', (error) => console.warn(`cache: ${error.message}`));
  let epochClient: Redis | undefined;
  let epochs: EpochSource;
  if (config.redisUrl) {
    epochClient = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
    epochClient.on('error', (error) => console.warn(`redis: ${error.message}`));
    epochs = new RedisEpochs(epochClient);
  } else {
    epochs = new MemoryEpochs();
  }
  const analytics = new Analytics(epochs, config.rows);
  const metrics = startMetrics();
  const server = createApp({ cache, analytics, metrics }).listen(config.port);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    port,
    analytics,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await cache.close();
      await metrics.close();
      epochClient?.disconnect();
    },
  };
}
