import type { AddressInfo } from 'node:net';
import { createCache } from '@versioned-cache/core';
import { createApp } from './app.js';

// With REDIS_URL, every process shares the entries and their versions; without, an in-memory store.
const cache = createCache({ redis: process.env.REDIS_URL || undefined });
const app = await createApp(cache);
await app.listen({ port: Number(process.env.PORT ?? 3000) });
console.log(`example-fastify: http://localhost:${(app.server.address() as AddressInfo).port}`);

const stop = () => void app.close().then(() => cache.close());
process.once('SIGINT', stop).once('SIGTERM', stop);
