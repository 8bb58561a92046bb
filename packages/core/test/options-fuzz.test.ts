import { describe, expect, it } from 'vitest';
import { createCache } from '../src/cache.js';
import { isInvalidArgument } from '../src/errors.js';
import type { CacheOptions } from '../src/options.js';

// 1,200 random option objects for createCache on the memory store: each is rejected at once with a
// TypeError or RangeError naming the option, or accepted and then serves a miss, a hit and an
// invalidation. None may fail later than construction.

/** A small seeded PRNG (mulberry32), so that a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD = [
  null,
  undefined,
  true,
  false,
  0,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  1e20,
  '',
  'x',
  [],
  {},
  () => 1,
];
const GOOD_DURATIONS = [1, 250, '250ms', '30s', '5m', '1h'];
const BAD_DURATIONS = ['366d', 0, -5, 0.4, '0ms', '1 hour', 1e20, ...ODD];

/** For each option: values that must be accepted, and values that may be rejected. */
const POOLS: Record<string, { good: readonly unknown[]; bad: readonly unknown[] }> = {
  prefix: {
    good: ['vc', 'app', 'a:b', 'p'.repeat(64)],
    bad: ['', 'with space', 'x{y}', 'p'.repeat(65), ...ODD],
  },
  ttl: { good: [...GOOD_DURATIONS, '1d', '365d'], bad: BAD_DURATIONS },
  jitter: { good: [0, 0.1, 0.5, 0.999], bad: [1, -0.1, '0.1', ...ODD] },
  timeout: { good: [...GOOD_DURATIONS.slice(0, 4), '60s'], bad: ['61s', '1h', ...BAD_DURATIONS] },
  lease: {
    good: [false, {}, { ttl: '1s' }, { maxWait: 0 }, { pollInterval: '5ms' }, { ttl: '1h', maxWait: '1h' }],
    bad: [{ ttl: '2h' }, { maxWait: '2h' }, { pollInterval: '2m' }, { ttl: null }, { wait: '1s' }, ...ODD],
  },
  invalidationInterval: { good: [0, '1s', '1d'], bad: ['2d', ...BAD_DURATIONS] },
  memory: {
    good: [{}, { maxEntries: 100 }, { maxBytes: 1_000_000 }],
    bad: [{ maxEntries: 0 }, { maxEntries: 1e12 }, { maxSize: 1 }, ...ODD],
  },
  onError: { good: [() => {}], bad: ['log', ...ODD] },
  durability: {
    good: [false],
    bad: [{ replicas: 1, timeout: '1s' }, { replicas: 0, timeout: '1s' }, { replicas: 1 }, ...ODD],
  },
};

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

function randomOptions(random: () => number): unknown {
  if (random() < 0.02) return pick(random, ODD);
  const options: Record<string, unknown> = {};
  for (const [name, { good, bad }] of Object.entries(POOLS)) {
    if (random() < 0.35) options[name] = pick(random, random() < 0.8 ? good : bad);
  }
  if (random() < 0.03) options[random() < 0.5 ? 'tll' : 'Timeout'] = '1s';
  return options;
}

/** The option a setup error must name: one of the keys given (or `options` for the object itself). */
function namedIn(message: string, options: unknown): boolean {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    return message.includes('options');
  return message.includes('options') || Object.keys(options).some((name) => message.includes(name));
}

describe('createCache options fuzz', () => {
  // 1,200 caches one after another: seconds idle, much longer on a loaded machine.
  it('1,200 random option objects: rejected at once naming the option, or fully working', {
    timeout: 120_000,
  }, async () => {
    const goodOnly = (options: unknown) =>
      typeof options === 'object' &&
      options !== null &&
      !Array.isArray(options) &&
      Object.entries(options).every(([name, value]) => POOLS[name]?.good.includes(value));
    const seed = Number(process.env.VC_FUZZ_SEED ?? 20_240_601);
    const random = prng(seed);
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < 1_200; i++) {
      const options = randomOptions(random);
      const label = `case ${i} (seed ${seed}): ${JSON.stringify(options)}`;
      let cache: ReturnType<typeof createCache>;
      try {
        cache = createCache(options as CacheOptions);
      } catch (error) {
        rejected++;
        // Only a bad value may be refused.
        expect(goodOnly(options), `${label} was refused: ${String(error)}`).toBe(false);
        expect(isInvalidArgument(error), `${label}: ${String(error)}`).toBe(true);
        expect(error instanceof TypeError || error instanceof RangeError, label).toBe(true);
        expect(namedIn((error as Error).message, options), `${label}: ${(error as Error).message}`).toBe(
          true,
        );
        continue;
      }
      accepted++;
      let computed = 0;
      const compute = () => ({ n: ++computed });
      expect(await cache.fetch('ns', 'k', compute), label).toMatchObject({ status: 'MISS', value: { n: 1 } });
      // A hit, unless the TTL drawn (1 ms) ran out in between: then a miss that computed again.
      const second = await cache.fetch('ns', 'k', compute);
      expect(second.status === 'HIT' ? 1 : second.status === 'MISS' ? 2 : 0, label).toBe(computed);
      expect(second.value, label).toEqual({ n: computed });
      await cache.invalidate('ns');
      const third = await cache.fetch('ns', 'k', compute);
      expect(third, label).toMatchObject({ status: 'MISS', value: { n: computed } });
      await cache.close();
    }
    // Both outcomes are exercised, not just one.
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
    console.info(`[measure] options fuzz: ${accepted} accepted, ${rejected} rejected (seed ${seed})`);
  });
});
