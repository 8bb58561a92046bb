import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file starts its own redis-server processes; two cores run two files at a time.
    maxWorkers: 2,
  },
});
