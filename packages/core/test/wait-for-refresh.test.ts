import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createCache } from '../src/cache.js';
import { VersionedCacheTypeError } from '../src/errors.js';
import { MemoryStore } from '../src/stores/memory-store.js';

// Three caches on one store stand for three processes: one refreshes an entry in the background
// under grace, and two lookups without grace arrive while it holds the entry's lease.

describe('waitForRefresh', () => {
  it('false: computes at once while another holds the lease for a background refresh; default: waits', async () => {
    const store = new MemoryStore();
    // A wait as long as the test: only `waitForRefresh: false` lets a caller past a held lease.
    const lease = { pollInterval: '5ms', maxWait: '1h' } as const;
    const [graceful, waiting, eager] = [1, 2, 3].map(() => createCache({ store, lease }));
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let refreshStarted = () => {};
    const started = new Promise<void>((resolve) => {
      refreshStarted = resolve;
    });
    try {
      await graceful!.fetch('sales', 'summary', () => 'v1', { ttl: '20ms', grace: '1h' });
      await sleep(60);
      const stale = await graceful!.fetch(
        'sales',
        'summary',
        async () => {
          refreshStarted();
          await gate;
          return 'v2';
        },
        { ttl: '1h', grace: '1h' },
      );
      expect(stale).toMatchObject({ status: 'STALE', value: 'v1' });
      await started;

      let waited = false;
      const waitingFetch = waiting!.fetch('sales', 'summary', () => 'computed by the waiting caller');
      void waitingFetch.then(() => {
        waited = true;
      });
      await sleep(100);
      // Still polling: it resolves only once an entry lands or the lease frees, however slow the machine.
      expect(waited).toBe(false);

      const eagerResult = await eager!.fetch('sales', 'summary', () => 'computed at once', {
        waitForRefresh: false,
      });
      expect(eagerResult).toMatchObject({ status: 'MISS', value: 'computed at once' });
      // The waiting caller takes the entry the eager one stored, and never computes.
      expect(await waitingFetch).toMatchObject({ status: 'HIT', value: 'computed at once' });
    } finally {
      openGate();
      await Promise.all([graceful, waiting, eager].map((cache) => cache!.close()));
    }
  });

  it('must be a boolean', async () => {
    const cache = createCache();
    try {
      await expect(
        cache.fetch('sales', 'summary', () => 1, { waitForRefresh: 'no' as unknown as boolean }),
      ).rejects.toThrow(VersionedCacheTypeError);
      await expect(
        cache.fetch('sales', 'summary', () => 1, { waitForRefresh: 'no' as unknown as boolean }),
      ).rejects.toMatchObject({ field: 'waitForRefresh' });
    } finally {
      await cache.close();
    }
  });
});
