// Invariant 2 under real faults, counted: a version key lost to a restart without persistence, or
// evicted under `maxmemory-policy allkeys-lru` while older entries survive, never makes an older
// generation readable again. Every read after an acknowledged invalidation answers the data of
// that invalidation or newer: 0 stale reads.
import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import { describe, expect, it } from 'vitest';
import { startRedis } from './support/redis-server.js';

const KEYS = ['summary', 'details', 'chart'];

/** Invalidates until Redis acknowledges: an invalidation that rejected changed nothing yet. */
async function invalidateUntilAcknowledged(cache: VersionedCache, ns: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      await cache.invalidate(ns);
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error('Redis never acknowledged the invalidation');
}

describe('versions lost while entries survive', () => {
  it('Redis restarted empty mid-run: 0 stale reads from two processes over 30 generations', async () => {
    const server = await startRedis();
    const writer = createCache({ redis: server.url, timeout: '1s' });
    const reader = createCache({ redis: server.url, timeout: '1s' });
    let source = 0;
    const compute = () => `generation-${source}`;
    let reads = 0;
    let stale = 0;
    try {
      for (let generation = 1; generation <= 30; generation++) {
        if (generation === 15) await server.restart();
        source = generation;
        await invalidateUntilAcknowledged(writer, 'reports');
        for (const cache of [writer, reader, writer, reader]) {
          for (const key of KEYS) {
            const { value } = await cache.fetch('reports', key, compute);
            reads++;
            if (value !== `generation-${generation}`) stale++;
          }
        }
      }
      console.info(`[measure] restart without persistence: ${stale} stale reads of ${reads}`);
      expect(reads).toBe(30 * 4 * KEYS.length);
      expect(stale).toBe(0);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      await server.stop();
    }
  });

  it('version keys evicted under allkeys-lru while their entries are kept hot: 0 stale reads', async () => {
    const server = await startRedis([
      '--maxmemory',
      '8mb',
      '--maxmemory-policy',
      'allkeys-lru',
      '--maxmemory-samples',
      '10',
    ]);
    const writer = createCache({ redis: server.url, timeout: '1s' });
    const reader = createCache({ redis: server.url, timeout: '1s' });
    const filler = Buffer.alloc(64 * 1024, 'x');
    let evictedVersions = 0;
    let reads = 0;
    let stale = 0;
    try {
      // LRU is approximate (one-second clock, sampled keys): a round in which the old entry went
      // with its version is not the state under test, and is run again under a new namespace.
      for (let round = 1; evictedVersions < 3; round++) {
        if (round > 10) throw new Error('never evicted a version key while its old entry stayed');
        const ns = `cold-${round}`;
        const versionKey = writer.keys.versionKey(ns);
        // Two generations, both stored; the newest acknowledged is generation 2.
        let source = 1;
        const compute = () => `generation-${source}`;
        await writer.fetch(ns, 'summary', compute);
        const old = writer.keys.entryKey([ns], [await writer.version(ns)], 'summary');
        source = 2;
        await invalidateUntilAcknowledged(writer, ns);
        expect((await reader.fetch(ns, 'summary', compute)).value).toBe('generation-2');
        // Idle longer than the old entry by more than the LRU clock's one-second resolution, then
        // churn until Redis evicts the version key, reading the old entry meanwhile so that LRU
        // keeps it: the state a lost version must survive (EXISTS does not touch the key).
        await sleep(2_100);
        for (let i = 0; (await server.admin.exists(versionKey)) === 1; i++) {
          if (i > 5_000) throw new Error('the version key was never evicted');
          await server.admin.get(old);
          await server.admin.set(`churn:${round}:${i}`, filler);
        }
        if ((await server.admin.exists(old)) === 0) continue;
        evictedVersions++;
        for (const cache of [reader, writer, reader]) {
          const { value } = await cache.fetch(ns, 'summary', compute);
          reads++;
          if (value !== 'generation-2') stale++;
        }
      }
      const info = await server.admin.info('stats');
      const evicted = Number(/evicted_keys:(\d+)/.exec(info)?.[1] ?? 0);
      console.info(
        `[measure] allkeys-lru: ${evictedVersions} version keys evicted (${evicted} keys in all) ` +
          `with their old entries alive; ${stale} stale reads of ${reads}`,
      );
      expect(evictedVersions).toBe(3);
      expect(stale).toBe(0);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      await server.stop();
    }
  });
});
