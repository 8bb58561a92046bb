import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { appModule } from './app.module.js';

// With REDIS_URL, every process shares the entries and their versions; without, an in-memory store.
// The module creates the cache, so it closes it when the application shuts down.
const app = await NestFactory.create(appModule({ redis: process.env.REDIS_URL || undefined }), {
  logger: ['error', 'warn'],
});
await app.listen(Number(process.env.PORT ?? 3000));
const { port } = app.getHttpServer().address() as AddressInfo;
console.log(`example-nestjs: http://localhost:${port}`);

// app.close() runs the shutdown hooks (the cache closes); the process then exits 0 on its own.
const stop = () => void app.close();
process.once('SIGINT', stop).once('SIGTERM', stop);
