import { describe, expect, it } from 'vitest';
import { createCache } from '../src/cache.js';
import { jsonCodec } from '../src/codec.js';
import { isInvalidArgument, type VersionedCacheError } from '../src/errors.js';

const roundTrip = (value: unknown) => jsonCodec.decode(Buffer.from(jsonCodec.encode(value)));

function refusal(value: unknown): string {
  try {
    jsonCodec.encode(value);
  } catch (error) {
    expect(isInvalidArgument(error)).toBe(true);
    expect(error).toBeInstanceOf(TypeError);
    return (error as Error).message;
  }
  throw new Error(`expected ${String(value)} to be refused`);
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe('the default JSON codec', () => {
  it('keeps what JSON reads back equal: plain objects, arrays, strings, finite numbers, booleans, null', () => {
    const value = {
      s: 'ünïcødé ✓',
      n: 12.5,
      big: Number.MAX_SAFE_INTEGER,
      t: true,
      f: false,
      z: null,
      list: [1, 'two', [3], { four: 4 }],
      nested: { deep: { deeper: [] } },
      'odd key': 1,
      __proto__: null,
    };
    expect(roundTrip(value)).toEqual(value);
    expect(roundTrip(Object.create(null))).toEqual({});
    for (const scalar of ['', 'x', 0, -1.5, true, null]) expect(roundTrip(scalar)).toEqual(scalar);
  });

  it.each(
    (
      [
        [{ a: undefined }, '$.a is undefined, which JSON drops'],
        [[1, undefined], '$[1] is undefined, which JSON turns into null'],
        [undefined, '$ is undefined'],
        [{ f: () => 1 }, '$.f is a function, which JSON drops'],
        [[Symbol('s')], '$[0] is a symbol, which JSON turns into null'],
        [{ n: 10n }, '$.n is a bigint'],
        [{ n: Number.NaN }, '$.n is NaN, which JSON turns into null'],
        [{ n: [Number.POSITIVE_INFINITY] }, '$.n[0] is Infinity'],
        [{ items: [{}, {}, {}, { at: new Date(0) }] }, '$.items[3].at is a Date with toJSON()'],
        [{ m: new Map([[1, 2]]) }, '$.m is a Map, which JSON reads back as a plain object'],
        [{ s: new Set([1]) }, '$.s is a Set'],
        [{ p: new Point(1, 2) }, '$.p is a Point'],
        [{ b: Buffer.from('x') }, '$.b is a Buffer with toJSON()'],
        [{ custom: { toJSON: () => 'x' } }, '$.custom is a Object with toJSON()'],
        [{ boxed: new String('x') }, '$.boxed is a String'],
        [{ ['needs quotes']: { when: undefined } }, '$["needs quotes"].when is undefined'],
        [{ sym: { [Symbol('k')]: 1 } }, '$.sym has symbol keys'],
        [new Date(0), '$ is a Date'],
      ] as [unknown, string][]
    ).map(([value, message]) => ({ value, message })),
  )('refuses what JSON would change: $message', ({ value, message }) => {
    expect(refusal(value)).toContain(message);
  });

  it('refuses cycles with a clear message rather than a bare TypeError', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(refusal(cyclic)).toContain('$.self is a circular reference');
  });

  it('a repeated (not circular) reference is fine', () => {
    const shared = { x: 1 };
    expect(roundTrip({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });
});

describe('through the cache: a miss answers what a later hit answers', () => {
  it('a value JSON would change is returned unstored and reported, so no hit ever differs', async () => {
    const faults: VersionedCacheError[] = [];
    const cache = createCache({ onError: (error) => faults.push(error) });
    const value = { at: new Date(0), tags: new Map([['a', 1]]) };
    const miss = await cache.fetch('ns', 'k', () => value);
    expect(miss).toMatchObject({ status: 'MISS', stored: false });
    expect(miss.value).toBe(value);
    expect(faults.map((f) => f.code)).toEqual(['VC_DECODE_ERROR']);
    expect(String((faults[0]!.cause as Error).message)).toContain('$.at is a Date');
    // Nothing was stored: the next call computes again rather than answering a changed value.
    expect((await cache.fetch('ns', 'k', () => value)).status).toBe('MISS');
    const plain = { at: new Date(0).toISOString(), tags: { a: 1 } };
    expect((await cache.fetch('ns', 'p', () => plain)).value).toEqual(plain);
    const hit = await cache.fetch('ns', 'p', () => plain);
    expect(hit.status).toBe('HIT');
    expect(hit.value).toEqual(plain);
    await cache.close();
  });
});
