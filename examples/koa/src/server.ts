import type { AddressInfo } from 'node:net';
import { createCache } from '@versioned-cache/core';
import { createApp } from './app.js';

// With REDIS_URL, every process shares the entries and their versions; without, an in-memory store.
const cache = createCache({ redis: process.env.REDIS_URL || undefined });
const server = createApp(cache).listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`example-koa: http://localhost:${(server.address() as AddressInfo).port}`);
});

const stop = () => server.close(() => void cache.close());
process.once('SIGINT', stop).once('SIGTERM', stop);
