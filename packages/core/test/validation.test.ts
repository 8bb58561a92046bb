import { describe, expect, it } from 'vitest';
import { createCache, type VersionedCache } from '../src/cache.js';
import {
  isInvalidArgument,
  type VersionedCacheRangeError,
  type VersionedCacheTypeError,
} from '../src/errors.js';
import type { CacheOptions } from '../src/options.js';

// Bad arguments are programming mistakes: a VersionedCacheTypeError (a TypeError: wrong kind of
// value) or a VersionedCacheRangeError (a RangeError: out of bounds) that names the field, thrown at
// setup, never a silently misbehaving cache.

type SetupError = VersionedCacheTypeError | VersionedCacheRangeError;

function setupError(run: () => unknown): SetupError {
  try {
    run();
  } catch (error) {
    expect(isInvalidArgument(error)).toBe(true);
    expect(error instanceof TypeError || error instanceof RangeError).toBe(true);
    expect((error as SetupError).code).toBe('VC_INVALID_ARGUMENT');
    return error as SetupError;
  }
  throw new Error('expected a setup error');
}

async function callError(run: () => Promise<unknown>): Promise<SetupError> {
  const error = await run().then(
    () => {
      throw new Error('expected a setup error');
    },
    (e: unknown) => e,
  );
  expect(isInvalidArgument(error)).toBe(true);
  return error as SetupError;
}

const options = (value: unknown) => value as CacheOptions;

describe('createCache options', () => {
  it.each([
    [{ bogus: 1 }, 'options.bogus'],
    [{ prefix: '' }, 'prefix'],
    [{ prefix: 'a{b}' }, 'prefix'],
    [{ prefix: 'with space' }, 'prefix'],
    [{ prefix: 'p'.repeat(65) }, 'prefix'],
    [{ ttl: 0 }, 'ttl'],
    [{ ttl: -5 }, 'ttl'],
    [{ ttl: '5 minutes' }, 'ttl'],
    [{ ttl: Number.NaN }, 'ttl'],
    [{ ttl: Number.POSITIVE_INFINITY }, 'ttl'],
    [{ ttl: 0.4 }, 'ttl'],
    [{ jitter: -0.1 }, 'jitter'],
    [{ jitter: 1 }, 'jitter'],
    [{ jitter: Number.NaN }, 'jitter'],
    [{ jitter: '0.1' }, 'jitter'],
    [{ timeout: 0 }, 'timeout'],
    [{ timeout: '0ms' }, 'timeout'],
    [{ timeout: 0.2 }, 'timeout'],
    [{ timeout: 'soon' }, 'timeout'],
    [{ lease: 'yes' }, 'lease'],
    [{ lease: { ttl: 0 } }, 'lease.ttl'],
    [{ lease: { wait: '1s' } }, 'lease.wait'],
    [{ lease: { pollInterval: -1 } }, 'lease.pollInterval'],
    [{ invalidationInterval: -1 }, 'invalidationInterval'],
    [{ memory: { maxEntries: 0 } }, 'memory.maxEntries'],
    [{ memory: { maxEntries: 1.5 } }, 'memory.maxEntries'],
    [{ memory: { maxBytes: -1 } }, 'memory.maxBytes'],
    [{ memory: { maxSize: 10 } }, 'memory.maxSize'],
    [{ onError: 'log' }, 'onError'],
    [{ redis: 42 }, 'redis'],
    [{ redis: 'redis://127.0.0.1:1', store: {} }, 'store'],
  ])('%j is rejected naming %s', (value, field) => {
    const error = setupError(() => createCache(options(value)));
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('accepts durations as milliseconds or strings, and zero where zero means off', () => {
    const cache = createCache({ ttl: '30s', timeout: 100, jitter: 0, invalidationInterval: 0, lease: false });
    expect(cache.options.ttlMs).toBe(30_000);
    expect(cache.options.timeoutMs).toBe(100);
    expect(cache.options.lease).toBe(false);
  });

  it('has the documented defaults', () => {
    const { options: resolved } = createCache();
    expect(resolved).toMatchObject({
      prefix: 'vc',
      ttlMs: 300_000,
      jitter: 0.1,
      timeoutMs: 250,
      lease: { ttlMs: 10_000, maxWaitMs: 10_000, pollMs: 20 },
      invalidationIntervalMs: 0,
    });
  });
});

describe('namespaces, keys and call options', () => {
  const cache: VersionedCache = createCache();
  const compute = () => 1;

  it.each([
    ['', 'namespace'],
    ['n'.repeat(129), 'namespace'],
    ['a{b', 'namespace'],
    ['a}b', 'namespace'],
    ['{tag}', 'namespace'],
    ['with space', 'namespace'],
    ['tab\there', 'namespace'],
    ['nul\u0000', 'namespace'],
  ])('namespace %j is rejected', async (ns, field) => {
    expect((await callError(() => cache.getOrSet(ns, 'k', compute))).field).toBe(field);
    expect((await callError(() => cache.invalidate(ns))).field).toBe(field);
    expect((await callError(() => cache.version(ns))).field).toBe(field);
  });

  it('accepts a namespace of exactly 128 characters, and unicode', async () => {
    expect(await cache.getOrSet('n'.repeat(128), 'k', compute)).toBe(1);
    expect(await cache.getOrSet('données:2024/ü', 'k', compute)).toBe(1);
  });

  it('rejects an empty namespace list, a non-string one, and a bad name inside a list', async () => {
    expect((await callError(() => cache.getOrSet([], 'k', compute))).field).toBe('namespace');
    expect((await callError(() => cache.getOrSet(['ok', ''], 'k', compute))).field).toBe('namespace');
    expect((await callError(() => cache.getOrSet(42 as never, 'k', compute))).field).toBe('namespace');
  });

  it('rejects bad keys, computations and per-call options, naming them', async () => {
    expect((await callError(() => cache.getOrSet('ns', '', compute))).field).toBe('key');
    expect((await callError(() => cache.getOrSet('ns', 42 as never, compute))).field).toBe('key');
    expect((await callError(() => cache.getOrSet('ns', 'k', 'value' as never))).field).toBe('compute');
    expect((await callError(() => cache.getOrSet('ns', 'k', compute, { ttl: 0 }))).field).toBe('ttl');
    expect(
      (await callError(() => cache.getOrSet('ns', 'k', compute, { ttl: '1 hour' as never }))).field,
    ).toBe('ttl');
    expect((await callError(() => cache.getOrSet('ns', 'k', compute, { grace: -1 }))).field).toBe('grace');
    expect((await callError(() => cache.getOrSet('ns', 'k', compute, { earlyRefresh: -1 }))).field).toBe(
      'earlyRefresh',
    );
    expect((await callError(() => cache.getOrSet('ns', 'k', compute, { tll: '1s' } as never))).field).toBe(
      'options.tll',
    );
    expect((await callError(() => cache.invalidate('ns', { wram: true } as never))).field).toBe(
      'invalidate options.wram',
    );
  });

  it('rejects bad warmers and unknown events at setup', () => {
    expect(setupError(() => cache.addWarmer({ namespaces: '', key: 'k', compute })).field).toBe('namespace');
    expect(setupError(() => cache.addWarmer({ namespaces: 'ns', key: '', compute })).field).toBe('key');
    expect(setupError(() => cache.addWarmer({ namespaces: 'ns', key: 'k', compute: 1 as never })).field).toBe(
      'compute',
    );
    expect(setupError(() => cache.on('eror' as never, () => {})).field).toBe('event');
  });
});
