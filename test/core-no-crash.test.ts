import { setTimeout as sleep } from 'node:timers/promises';
import {
  createCache,
  type VersionedCache,
  type VersionedCacheError,
  VersionedCacheTypeError,
} from '@versioned-cache/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startRedis } from './support/redis-server.js';

// Invariant 7: nothing a caller's functions, options or Redis do can crash the process. The call's
// own functions (shouldStore, a ttl function, the codec) failing after the value is computed cost
// the store, never the answer; background work (refreshes, trailing bumps, lease releases) settles
// or is reported, and close() in the middle of it all neither hangs nor leaves a rejection behind.

let rejections: unknown[];
let exceptions: unknown[];
const onRejection = (reason: unknown) => rejections.push(reason);
const onException = (error: unknown) => exceptions.push(error);

beforeEach(() => {
  rejections = [];
  exceptions = [];
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
});
afterEach(async () => {
  // A rejection left unhandled surfaces a turn or two after the work that dropped it.
  await sleep(50);
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
  expect(rejections).toEqual([]);
  expect(exceptions).toEqual([]);
});

function collecting(options: Parameters<typeof createCache>[0] = {}) {
  const errors: VersionedCacheError[] = [];
  const cache = createCache({ ...options, onError: (error) => errors.push(error) });
  return { cache, errors };
}

describe("the call's own functions fail after the value is computed", () => {
  const broken = {
    'a throwing shouldStore': {
      shouldStore: () => {
        throw new Error('shouldStore broke');
      },
    },
    'a throwing ttl function': {
      ttl: () => {
        throw new Error('ttl broke');
      },
    },
    'a ttl function answering nonsense': { ttl: () => 'soon' as never },
    'a codec that cannot encode': {
      codec: {
        encode: () => {
          throw new Error('encode broke');
        },
        decode: (bytes: Uint8Array) => Buffer.from(bytes).toString(),
      },
    },
  } as const;

  for (const [name, options] of Object.entries(broken)) {
    it(`${name}: the caller gets its value unstored, the fault is reported, the next call computes again`, async () => {
      const { cache, errors } = collecting();
      let computed = 0;
      try {
        for (let i = 1; i <= 2; i++) {
          const result = await cache.fetch('ns', 'k', () => `v${++computed}`, options as never);
          expect(result).toMatchObject({ value: `v${i}`, status: 'MISS', stored: false });
        }
        expect(computed).toBe(2);
        expect(errors.map((e) => e.code)).toEqual(
          name.includes('codec')
            ? ['VC_DECODE_ERROR', 'VC_DECODE_ERROR']
            : ['VC_INVALID_ARGUMENT', 'VC_INVALID_ARGUMENT'],
        );
      } finally {
        await cache.close();
      }
    });
  }

  it('in a background refresh: the stale answer stands, the fault is reported, nothing is thrown', async () => {
    const { cache, errors } = collecting();
    try {
      let version = 1;
      // Stored with a ttl of 1 ms, then refreshed under grace by a computation whose ttl throws.
      const ttl = (value: string) => {
        if (value === 'v2') throw new Error('ttl broke');
        return 1;
      };
      await cache.fetch('ns', 'k', () => `v${version}`, { ttl, grace: '1m' });
      await sleep(5);
      version = 2;
      const stale = await cache.fetch('ns', 'k', () => `v${version}`, { ttl, grace: '1m' });
      expect(stale).toMatchObject({ status: 'STALE', value: 'v1' });
      await cache.close();
      expect(errors.map((e) => e.code)).toEqual(['VC_INVALID_ARGUMENT']);
    } finally {
      await cache.close();
    }
  });
});

describe('warmers are checked when added', () => {
  it('bad warmer options are a TypeError at addWarmer, not a failed invalidation later', async () => {
    const cache = createCache();
    try {
      expect(() => cache.addWarmer(null as never)).toThrow(VersionedCacheTypeError);
      expect(() =>
        cache.addWarmer({ namespaces: 'ns', key: 'k', compute: () => 1, options: { tll: '1m' } as never }),
      ).toThrow(/options\.tll/);
      expect(() =>
        cache.addWarmer({ namespaces: 'ns', key: 'k', compute: () => 1, options: { ttl: 'soon' as never } }),
      ).toThrow(/ttl/);
      expect(() => cache.addWarmer({ namespaces: 'ns', key: 'k', compute: 'x' as never })).toThrow(/compute/);
      // None of them was registered: a warm invalidation runs no warmer and succeeds.
      await cache.invalidate('ns', { warm: true });
    } finally {
      await cache.close();
    }
  });
});

describe('close() in the middle of work on a real Redis', () => {
  it('fills, a stale refresh and coalesced invalidations under way: close waits for them, nothing rejects unhandled', async () => {
    const server = await startRedis();
    let cache: VersionedCache | undefined;
    try {
      const made = collecting({ redis: server.url, timeout: '2s', invalidationInterval: '300ms' });
      cache = made.cache;
      const slow = (value: string) => async () => {
        await sleep(150);
        return value;
      };
      await cache.fetch('ns', 'graceful', () => 'old', { ttl: 1, grace: '1m' });
      await sleep(5);
      const stale = await cache.fetch('ns', 'graceful', slow('refreshed'), { ttl: '1m', grace: '1m' });
      expect(stale).toMatchObject({ status: 'STALE', value: 'old' });
      const fills = Array.from({ length: 20 }, (_, i) => cache!.fetch('ns', `fill-${i % 4}`, slow(`v${i}`)));
      // One bump now, one trailing bump for the rest of the burst, 300 ms later.
      const invalidations = Array.from({ length: 5 }, () => cache!.invalidate('other'));
      const closed = cache.close();
      const settled = await Promise.allSettled([...fills, ...invalidations]);
      await closed;
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
      expect(
        settled.slice(0, 20).map((s) => (s as PromiseFulfilledResult<{ value: string }>).value.value),
      ).toEqual(
        // Concurrent fetches of one key share the first one's computation.
        Array.from({ length: 20 }, (_, i) => `v${i % 4}`),
      );
      // The invalidations all resolved above: the trailing bump ran before the connection closed.
      // The background refresh finished before close() resolved.
      const reader = createCache({ redis: server.url });
      try {
        expect(await reader.fetch('ns', 'graceful', () => 'never', { ttl: '1m', grace: '1m' })).toMatchObject(
          {
            status: 'HIT',
            value: 'refreshed',
          },
        );
      } finally {
        await reader.close();
      }
      expect(made.errors).toEqual([]);
      // After close: fetch bypasses, invalidate refuses; neither throws anything unexpected.
      expect(await cache.fetch('ns', 'late', () => 'late')).toMatchObject({
        status: 'BYPASS',
        value: 'late',
      });
      await expect(cache.invalidate('ns')).rejects.toMatchObject({ code: 'VC_CLOSED' });
    } finally {
      await cache?.close();
      await server.stop();
    }
  });
});
