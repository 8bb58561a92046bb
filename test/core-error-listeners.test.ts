import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { createCache, VersionedCacheTypeError } from '@versioned-cache/core';
import { describe, expect, it } from 'vitest';
import { startRedis } from './support/redis-server.js';

// Invariant 7: no listener or fault can crash the process. Listeners run inside store steps and
// background work, so one that throws must be isolated there, not surface as a rejected call or an
// unhandled rejection.

describe('error listeners', () => {
  it('rejects a listener that is not a function, naming the listener and the value', async () => {
    const cache = createCache();
    try {
      for (const value of [42, 'log', null, {}]) {
        let thrown: unknown;
        try {
          cache.on('error', value as never);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(VersionedCacheTypeError);
        expect(thrown).toMatchObject({ field: 'listener' });
        expect((thrown as Error).message).toContain(
          typeof value === 'object' && value !== null ? 'an object' : String(value),
        );
      }
    } finally {
      await cache.close();
    }
  });

  it('Redis killed under a throwing listener and onError: calls fail open, warnings, no unhandled rejection', async () => {
    const server = await startRedis();
    const rejections: unknown[] = [];
    const warnings: Error[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('unhandledRejection', onRejection);
    process.on('warning', onWarning);
    let onErrorCalls = 0;
    let listenerCalls = 0;
    const cache = createCache({
      redis: server.url,
      timeout: 200,
      onError: () => {
        onErrorCalls++;
        throw new Error('onError broke');
      },
    });
    cache.on('error', () => {
      listenerCalls++;
      throw new Error('listener broke');
    });
    try {
      // A first call connects the cache, however long that takes on a loaded machine.
      await cache.fetch('reports', 'warm-up', () => 'warm-up');

      // The connection drops while a call holds its lease: its write and the lease release that
      // runs in the background both fail, and both are reported to the throwing listeners.
      const dropped = await cache.fetch('reports', 'in-flight', async () => {
        await server.kill();
        return 'computed';
      });
      expect(dropped).toMatchObject({ value: 'computed', stored: false });

      for (let i = 0; i < 3; i++) {
        expect(await cache.fetch('reports', `down-${i}`, () => `down-${i}`)).toMatchObject({
          status: 'BYPASS',
          value: `down-${i}`,
        });
      }
      await expect(cache.invalidate('reports')).rejects.toMatchObject({ code: 'VC_STORE_UNAVAILABLE' });

      await cache.close();
      // Unhandled rejections and warnings are emitted on later turns of the event loop.
      await nextTurn();
      await sleep(50);
      expect(rejections).toEqual([]);
      expect(onErrorCalls).toBeGreaterThan(0);
      expect(listenerCalls).toBe(onErrorCalls);
      expect(warnings.map((warning) => warning.message)).toContain(
        'versioned-cache: an error listener threw: onError broke',
      );
    } finally {
      process.off('unhandledRejection', onRejection);
      process.off('warning', onWarning);
      await cache.close();
      await server.stop();
    }
  });
});
