import { afterAll, expect } from 'vitest';
import { liveProcesses } from './processes.js';

// Registered before the file's own hooks, so it runs after them: by then every redis-server,
// sentinel and worker process the file started must have been stopped.
afterAll(() => {
  expect(liveProcesses(), 'processes left running by this test file').toBe(0);
});
