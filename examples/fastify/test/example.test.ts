import { fileURLToPath } from 'node:url';
import { createCache } from '@versioned-cache/core';
import { exampleSpec } from '../../shared/example-spec.ts';
import { createApp, crunch } from '../src/app.js';

exampleSpec({
  name: 'example-fastify',
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  crunch,
  createCache: () => createCache(), // the embedded memory store
  async listen(cache) {
    const app = await createApp(cache);
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    return { base, close: () => app.close() };
  },
});
