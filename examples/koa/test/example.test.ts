import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createCache } from '@versioned-cache/core';
import { exampleSpec } from '../../shared/example-spec.ts';
import { createApp, crunch } from '../src/app.js';

exampleSpec({
  name: 'example-koa',
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  crunch,
  createCache: () => createCache(), // the embedded memory store
  async listen(cache) {
    const server = createApp(cache).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    return { base: `http://127.0.0.1:${port}`, close: async () => void server.close() };
  },
});
