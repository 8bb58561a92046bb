import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { NestFactory } from '@nestjs/core';
import { createCache } from '@versioned-cache/core';
import { exampleSpec } from '../../shared/example-spec.ts';
import { appModule } from '../src/app.module.js';
import { crunch } from '../src/reports.service.js';

exampleSpec({
  name: 'example-nestjs',
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  crunch,
  createCache: () => createCache(), // the embedded memory store
  async listen(cache) {
    const app = await NestFactory.create(appModule({ cache }), { logger: false });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    return { base: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
});
