import { createCache, type RedisClientLike, RedisStore } from '@versioned-cache/core';
import { type Cluster as Cluster5, Redis as Redis5 } from 'ioredis5';
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6';
import { describe, expectTypeOf, it } from 'vitest';

// The application brings its own ioredis, 5 or 6: its clients must type-check where the cache takes
// a client, although their class types are not the ones the core was built against.

describe('ioredis types', () => {
  it('accepts Redis and Cluster clients of ioredis 5 and 6', () => {
    expectTypeOf<Redis5>().toExtend<RedisClientLike>();
    expectTypeOf<Cluster5>().toExtend<RedisClientLike>();
    expectTypeOf<Redis6>().toExtend<RedisClientLike>();
    expectTypeOf<Cluster6>().toExtend<RedisClientLike>();
    // Not just anything with a status: the store reads entries as bytes and defines its scripts.
    expectTypeOf<{ status: string; quit(): Promise<unknown> }>().not.toExtend<RedisClientLike>();
    // Declared, never run: the checks are the compiler's.
    const declarations = () => {
      createCache({ redis: new Redis5() });
      createCache({ redis: new Redis6() });
      createCache({ redis: new Cluster6([{ host: '127.0.0.1', port: 7000 }]) });
      new RedisStore(new Redis6(), { commandTimeoutMs: 100 });
    };
    expectTypeOf(declarations).toBeFunction();
  });
});
