import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createCache } from '../src/cache.js';
import { bufferCodec } from '../src/codec.js';
import type { VersionedCacheError } from '../src/errors.js';
import { SingleFlight } from '../src/single-flight.js';
import { MemoryStore } from '../src/stores/memory-store.js';

describe('cache on the embedded memory store', () => {
  it('100 concurrent misses for one entry run exactly one computation', async () => {
    const cache = createCache();
    let computations = 0;
    const compute = async () => {
      computations++;
      await sleep(20);
      return { rows: 42 };
    };
    const results = await Promise.all(
      Array.from({ length: 100 }, () => cache.fetch('sales', 'summary', compute)),
    );
    expect(computations).toBe(1);
    expect(results.every((r) => r.status === 'MISS' && (r.value as { rows: number }).rows === 42)).toBe(true);
    expect(await cache.fetch('sales', 'summary', compute)).toMatchObject({ status: 'HIT' });
    expect(computations).toBe(1);
  });

  it('concurrent misses for different entries each compute once', async () => {
    const cache = createCache();
    const counts = new Map<string, number>();
    const compute = (key: string) => async () => {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      await sleep(10);
      return key;
    };
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => cache.getOrSet('ns', `k${i % 3}`, compute(`k${i % 3}`))),
    );
    expect(Object.fromEntries(counts)).toEqual({ k0: 1, k1: 1, k2: 1 });
  });

  it('an entry depending on two namespaces misses after invalidating either one', async () => {
    const cache = createCache();
    let n = 0;
    const compute = () => ++n;
    expect(await cache.getOrSet(['sales', 'regions'], 'chart', compute)).toBe(1);
    expect(await cache.getOrSet(['regions', 'sales'], 'chart', compute)).toBe(1);
    await cache.invalidate('sales');
    expect(await cache.getOrSet(['sales', 'regions'], 'chart', compute)).toBe(2);
    expect(await cache.getOrSet(['sales', 'regions'], 'chart', compute)).toBe(2);
    await cache.invalidate('regions');
    expect(await cache.getOrSet(['sales', 'regions'], 'chart', compute)).toBe(3);
    await cache.invalidate('unrelated');
    expect(await cache.getOrSet(['sales', 'regions'], 'chart', compute)).toBe(3);
    // An entry of one namespace is untouched by the other's invalidation.
    expect(await cache.getOrSet('sales', 'only', compute)).toBe(4);
    await cache.invalidate('regions');
    expect(await cache.getOrSet('sales', 'only', compute)).toBe(4);
  });

  it('an entry expires after its TTL', async () => {
    const cache = createCache({ jitter: 0 });
    let n = 0;
    const compute = () => ++n;
    // The hit must come within the TTL even when a loaded machine pauses the process; the sleep
    // outlasts it whatever the load, since a timer never fires early.
    expect(await cache.getOrSet('ns', 'k', compute, { ttl: 500 })).toBe(1);
    expect(await cache.getOrSet('ns', 'k', compute, { ttl: 500 })).toBe(1);
    await sleep(600);
    expect(await cache.fetch('ns', 'k', compute, { ttl: 500 })).toMatchObject({ status: 'MISS', value: 2 });
  });

  it('a TTL can be decided from the computed value', async () => {
    const cache = createCache({ jitter: 0 });
    let n = 0;
    const ttl = (value: number) => (value === 1 ? 40 : '1h');
    expect(await cache.getOrSet('ns', 'k', () => ++n, { ttl })).toBe(1);
    await sleep(80);
    expect(await cache.getOrSet('ns', 'k', () => ++n, { ttl })).toBe(2);
    await sleep(80);
    expect(await cache.getOrSet('ns', 'k', () => ++n, { ttl })).toBe(2);
  });

  it('jitter shortens TTLs by up to its fraction, never lengthens them', async () => {
    const store = new MemoryStore();
    const cache = createCache({ store, jitter: 0.5, ttl: '10s' });
    for (let i = 0; i < 40; i++) await cache.getOrSet('ns', `k${i}`, () => i);
    // The stored envelopes carry the jittered freshness (bytes 10-17 of the header).
    const version = await cache.version('ns');
    const fresh = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const [raw] = await store.getMany([cache.keys.entryKey(['ns'], [version], `k${i}`)]);
        return raw!.readDoubleLE(10);
      }),
    );
    expect(fresh.every((ms) => ms > 5_000 && ms <= 10_000)).toBe(true);
    expect(new Set(fresh).size).toBeGreaterThan(1);
  });

  it('an entry it cannot decode is a miss that recomputes and is reported, not thrown', async () => {
    const errors: VersionedCacheError[] = [];
    const store = new MemoryStore();
    const cache = createCache({ store, onError: (e) => errors.push(e) });
    const version = await cache.version('ns');
    await store.set(cache.keys.entryKey(['ns'], [version], 'garbage'), Buffer.from('not an entry'), 60_000);
    expect(await cache.fetch('ns', 'garbage', () => 'fresh')).toMatchObject({
      status: 'MISS',
      value: 'fresh',
    });
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['VC_DECODE_ERROR']));
    expect(await cache.fetch('ns', 'garbage', () => 'never')).toMatchObject({
      status: 'HIT',
      value: 'fresh',
    });
  });

  it('stores bytes as they are with the buffer codec', async () => {
    const cache = createCache();
    const bytes = Buffer.from([0, 255, 1, 254]);
    await cache.getOrSet('ns', 'bin', () => bytes, { codec: bufferCodec });
    const hit = await cache.fetch('ns', 'bin', () => Buffer.alloc(0), { codec: bufferCodec });
    expect(hit.status).toBe('HIT');
    expect(hit.value.equals(bytes)).toBe(true);
  });

  it('a value shouldStore refuses goes to its caller only', async () => {
    const cache = createCache();
    let n = 0;
    const options = { shouldStore: (value: number) => value > 1 };
    expect(await cache.fetch('ns', 'k', () => ++n, options)).toMatchObject({ value: 1, stored: false });
    expect(await cache.fetch('ns', 'k', () => ++n, options)).toMatchObject({ value: 2, stored: true });
    expect(await cache.fetch('ns', 'k', () => ++n, options)).toMatchObject({ value: 2, status: 'HIT' });
  });

  it('hits of one turn share one store read per entry and resume together, after the turn', async () => {
    const cache = createCache();
    await cache.getOrSet('ns', 'hot', () => 'h');
    await cache.getOrSet('ns', 'cold', () => 'c');
    const reads: number[] = [];
    const getMany = cache.store.getMany.bind(cache.store);
    cache.store.getMany = (keys) => {
      reads.push(keys.length);
      return getMany(keys);
    };
    const resolved: string[] = [];
    const hits = [...Array.from({ length: 50 }, () => 'hot'), 'cold'].map((key) =>
      cache.getOrSet('ns', key, () => 'never').then((value) => resolved.push(value)),
    );
    for (let i = 0; i < 100; i++) await Promise.resolve();
    expect(resolved).toEqual([]); // not inside the callback that asked
    let seenByTheNextCallback = -1;
    setImmediate(() => {
      seenByTheNextCallback = resolved.length;
    });
    await Promise.all(hits);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seenByTheNextCallback).toBe(51);
    expect(resolved.filter((value) => value === 'h')).toHaveLength(50);
    expect(reads).toEqual([2, 2]); // version and entry, once per entry
  });

  it('creates versions at random, far from 0 and 1, and bumps by a random step', async () => {
    const cache = createCache();
    const version = BigInt(await cache.version('ns'));
    expect(version >= 2n ** 32n && version < 2n ** 53n).toBe(true);
    await cache.invalidate('ns');
    const step = BigInt(await cache.version('ns')) - version;
    expect(step >= 1n && step < 2n ** 31n).toBe(true);
  });
});

describe('SingleFlight', () => {
  it('shares one run per key while it is under way, then forgets it', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    const work = async () => {
      runs++;
      await sleep(5);
      return runs;
    };
    const first = flight.run('k', work);
    const second = flight.run('k', work);
    expect(first.leader).toBe(true);
    expect(second.leader).toBe(false);
    expect(await second.promise).toBe(1);
    expect(flight.has('k')).toBe(false);
    expect(await flight.run('k', work).promise).toBe(2);
  });

  it('forgets a failed run so that the next call retries', async () => {
    const flight = new SingleFlight<number>();
    await expect(flight.run('k', () => Promise.reject(new Error('boom'))).promise).rejects.toThrow('boom');
    expect(await flight.run('k', async () => 7).promise).toBe(7);
  });
});
