import { createCache } from '@versioned-cache/core';
import { describe, expect, it } from 'vitest';

// Breaker and pending-invalidation options are checked when the cache is created, each mistake
// naming the option and the value; a bad onFailure is a TypeError at the call.

describe('breaker and pending invalidation options', () => {
  it.each([
    [{ breaker: 'on' }, 'breaker', 'must be an object or false'],
    [{ breaker: { threshold: 0 } }, 'breaker.threshold', 'got number 0'],
    [{ breaker: { threshold: 1.5 } }, 'breaker.threshold', 'got number 1.5'],
    [{ breaker: { coolDown: 'soon' } }, 'breaker.coolDown', "got 'soon'"],
    [{ breaker: { threshhold: 3 } }, 'breaker.threshhold', 'is not a known option'],
    [{ pendingInvalidations: { max: -1 } }, 'pendingInvalidations.max', 'got number -1'],
    [{ pendingInvalidations: { maxRetryDelay: 0 } }, 'pendingInvalidations.maxRetryDelay', 'got 0'],
    [{ pendingInvalidations: null }, 'pendingInvalidations', 'must be an object'],
  ])('%j is a TypeError naming %s', (options, field, message) => {
    expect(() => createCache(options as never)).toThrow(
      expect.objectContaining({
        name: 'VersionedCacheTypeError',
        field,
        message: expect.stringContaining(message),
      }),
    );
  });

  it('is a RangeError above the bounds, naming the option and the value', () => {
    expect(() => createCache({ breaker: { threshold: 5000 } })).toThrow(
      expect.objectContaining({ name: 'VersionedCacheRangeError', field: 'breaker.threshold' }),
    );
    expect(() => createCache({ pendingInvalidations: { maxRetryDelay: '2d' } })).toThrow(
      expect.objectContaining({
        name: 'VersionedCacheRangeError',
        field: 'pendingInvalidations.maxRetryDelay',
      }),
    );
  });

  it('applies the documented defaults, and breaker: false turns it off', async () => {
    const cache = createCache();
    expect(cache.options.breaker).toEqual({ threshold: 3, coolDownMs: 500 });
    expect(cache.options.pendingInvalidations).toEqual({ max: 1000, maxRetryDelayMs: 2000 });
    expect(createCache({ breaker: false }).options.breaker).toBe(false);
    await cache.close();
  });

  it('rejects an unknown onFailure, naming it', async () => {
    const cache = createCache();
    await expect(cache.invalidate('sales', { onFailure: 'retry' as never })).rejects.toMatchObject({
      name: 'VersionedCacheTypeError',
      field: 'onFailure',
    });
    await cache.close();
  });

  it("refuses onFailure: 'recover' where durability is asked for: a queue in one process is not durable", async () => {
    const cache = createCache({ redis: 'redis://127.0.0.1:1', durability: { replicas: 1, timeout: '1s' } });
    await expect(cache.invalidate('sales', { onFailure: 'recover' })).rejects.toMatchObject({
      name: 'VersionedCacheTypeError',
      field: 'onFailure',
      message: expect.stringContaining('durability'),
    });
    await cache.close();
  });
});
