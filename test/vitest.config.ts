import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file starts its own redis-server processes; two cores run two files at a time.
    maxWorkers: 2,
    // An unhandled rejection or uncaught exception fails the run, even when every test passed
    // (the default, stated so that no one turns it off by accident).
    dangerouslyIgnoreUnhandledErrors: false,
    // Fails a file that leaves a process it started running.
    setupFiles: ['./support/no-leftovers.ts'],
  },
});
