import { describe, expect, it } from 'vitest';
import { createCache } from '../src/cache.js';
import { jsonCodec } from '../src/codec.js';
import { isInvalidArgument } from '../src/errors.js';
import type { CacheOptions } from '../src/options.js';
import { MemoryStore } from '../src/stores/memory-store.js';
import {
  checkCallOptions,
  checkCompute,
  checkInvalidateOptions,
  checkSingleNamespace,
  resolveTtl,
} from '../src/validate.js';

/** The error `run` throws: a setup error of `kind` whose field and message name `field`. */
function rejection(run: () => unknown, kind: typeof TypeError | typeof RangeError, field: string): Error {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(isInvalidArgument(thrown)).toBe(true);
  expect(thrown).toBeInstanceOf(kind);
  expect((thrown as { field: string }).field).toBe(field);
  expect((thrown as Error).message).toContain(field);
  return thrown as Error;
}

const options = (value: unknown) => value as CacheOptions;

describe('createCache bounds and shapes', () => {
  it.each([
    [{ ttl: 1e20 }, RangeError, 'ttl'],
    [{ ttl: '400d' }, RangeError, 'ttl'],
    [{ timeout: '2m' }, RangeError, 'timeout'],
    [{ lease: { ttl: '2h' } }, RangeError, 'lease.ttl'],
    [{ lease: { maxWait: '2h' } }, RangeError, 'lease.maxWait'],
    [{ lease: { pollInterval: '2m' } }, RangeError, 'lease.pollInterval'],
    [{ lease: null }, TypeError, 'lease'],
    [{ lease: true }, TypeError, 'lease'],
    [{ lease: [] }, TypeError, 'lease'],
    [{ invalidationInterval: '2d' }, RangeError, 'invalidationInterval'],
    [{ memory: null }, TypeError, 'memory'],
    [{ memory: { maxEntries: 1e12 } }, RangeError, 'memory.maxEntries'],
    [{ memory: { maxEntries: '10' } }, TypeError, 'memory.maxEntries'],
    [{ jitter: 2 }, RangeError, 'jitter'],
    [{ jitter: '0.1' }, TypeError, 'jitter'],
    [{ redis: null }, TypeError, 'redis'],
    [{ redis: '' }, TypeError, 'redis'],
    [{ redis: ['redis://127.0.0.1:1'] }, TypeError, 'redis'],
    [{ store: null }, TypeError, 'store'],
    [{ store: {} }, TypeError, 'store.getMany'],
    [{ store: new MemoryStore(), memory: { maxEntries: 10 } }, TypeError, 'memory'],
    [{ onError: null }, TypeError, 'onError'],
    [{ durability: { replicas: 1, timeout: '1s' } }, TypeError, 'durability'],
    [
      { store: new MemoryStore(), durability: { replicas: 0, timeout: '1s' } },
      TypeError,
      'durability.replicas',
    ],
    [
      { store: new MemoryStore(), durability: { replicas: 1.5, timeout: '1s' } },
      TypeError,
      'durability.replicas',
    ],
    [
      { store: new MemoryStore(), durability: { replicas: 1, timeout: '5m' } },
      RangeError,
      'durability.timeout',
    ],
    [{ store: new MemoryStore(), durability: { replicas: 1 } }, TypeError, 'durability'],
    [{ store: new MemoryStore(), durability: { replicas: 1, timeout: '1s' } }, TypeError, 'durability'],
    [{ store: new MemoryStore(), durability: true }, TypeError, 'durability'],
    [
      { store: new MemoryStore(), durability: { replicas: 1, timeout: '1s', wait: 1 } },
      TypeError,
      'durability.wait',
    ],
  ])('%j is rejected at once, naming %s', (value, kind, field) => {
    rejection(() => createCache(options(value)), kind, field);
  });

  it('null options are a TypeError naming options, not a crash', () => {
    rejection(() => createCache(options(null)), TypeError, 'options');
  });

  it('durability resolves to replicas and a timeout in ms, and false by default', async () => {
    expect(createCache().options.durability).toBe(false);
    // Nothing connects: the options are resolved before the first command.
    const cache = createCache({
      redis: { lazyConnect: true, port: 1 },
      durability: { replicas: 2, timeout: '500ms' },
    });
    expect(cache.options.durability).toEqual({ replicas: 2, timeoutMs: 500 });
    await cache.close();
  });
});

describe('per-call validators', () => {
  it('checkCallOptions resolves durations and keeps functions', () => {
    const ttl = () => '1s' as const;
    const shouldStore = () => true;
    expect(
      checkCallOptions({ ttl: '2s', grace: '1m', earlyRefresh: true, codec: jsonCodec, shouldStore }),
    ).toEqual({
      ttl: 2_000,
      graceMs: 60_000,
      earlyBeta: 1,
      codec: jsonCodec,
      shouldStore,
    });
    expect(checkCallOptions({ ttl }).ttl).toBe(ttl);
    expect(checkCallOptions(undefined)).toEqual({
      ttl: undefined,
      graceMs: 0,
      earlyBeta: 0,
      codec: undefined,
      shouldStore: undefined,
    });
  });

  it.each([
    [null, TypeError, 'options'],
    ['fast', TypeError, 'options'],
    [[], TypeError, 'options'],
    [{ ttl: 1e20 }, RangeError, 'ttl'],
    [{ grace: 1e20 }, RangeError, 'grace'],
    [{ grace: null }, TypeError, 'grace'],
    [{ codec: {} }, TypeError, 'codec'],
    [{ codec: null }, TypeError, 'codec'],
    [{ codec: { encode: () => Buffer.alloc(0) } }, TypeError, 'codec'],
    [{ earlyRefresh: 'yes' }, TypeError, 'earlyRefresh'],
    [{ earlyRefresh: -1 }, TypeError, 'earlyRefresh'],
    [{ earlyRefresh: Number.NaN }, TypeError, 'earlyRefresh'],
    [{ earlyRefresh: 1e9 }, RangeError, 'earlyRefresh'],
    [{ shouldStore: true }, TypeError, 'shouldStore'],
    [{ tll: '1s' }, TypeError, 'options.tll'],
  ])('checkCallOptions(%j) is rejected naming %s', (value, kind, field) => {
    rejection(() => checkCallOptions(value), kind, field);
  });

  it('a ttl function result is bounded like a static ttl', () => {
    expect(resolveTtl('1h')).toBe(3_600_000);
    rejection(() => resolveTtl(1e20), RangeError, 'ttl');
    rejection(() => resolveTtl(undefined), TypeError, 'ttl');
  });

  it('invalidate options: warm is a real boolean', () => {
    expect(checkInvalidateOptions(undefined)).toEqual({ warm: false });
    expect(checkInvalidateOptions({})).toEqual({ warm: false });
    expect(checkInvalidateOptions({ warm: true })).toEqual({ warm: true });
    rejection(() => checkInvalidateOptions({ warm: 'no' }), TypeError, 'warm');
    rejection(() => checkInvalidateOptions({ warm: 1 }), TypeError, 'warm');
    rejection(() => checkInvalidateOptions(null), TypeError, 'invalidate options');
    rejection(() => checkInvalidateOptions({ wram: true }), TypeError, 'invalidate options.wram');
  });

  it('version() takes one namespace: a list is rejected rather than answered for its first name', () => {
    expect(checkSingleNamespace('orders')).toBe('orders');
    rejection(() => checkSingleNamespace(['b', 'a']), TypeError, 'namespace');
    rejection(() => checkSingleNamespace(''), TypeError, 'namespace');
    rejection(() => checkSingleNamespace(null), TypeError, 'namespace');
  });

  it('compute must be a function', () => {
    const compute = () => 1;
    expect(checkCompute(compute)).toBe(compute);
    rejection(() => checkCompute(null), TypeError, 'compute');
  });
});
