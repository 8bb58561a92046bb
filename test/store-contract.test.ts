import { MemoryStore, RedisStore } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandDelta } from './support/command-delta.js';
import { type RedisServer, startRedis } from './support/redis-server.js';
import { storeContractSuite } from './support/store-contract.js';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server.stop();
});

storeContractSuite('MemoryStore', () => new MemoryStore());

storeContractSuite('RedisStore', () => new RedisStore(server.url, { commandTimeoutMs: 1_000 }));

describe('RedisStore round trips', () => {
  let store: RedisStore;
  beforeAll(async () => {
    store = new RedisStore(server.url, { commandTimeoutMs: 1_000 });
    // The first call of each script loads it (EVALSHA, NOSCRIPT, EVAL): count from the second on.
    await store.acquireLease('warm:{w}:lock', 't', 1_000, 'warm:{w}');
    await store.storeAndRelease('warm:{w}', Buffer.from('x'), 1_000, 'warm:{w}:lock', 't');
    await store.renewLease('warm:{w}:lock', 't', 1_000);
    await store.advanceVersion('warm:{w}:version', '5000000000', { previousKey: 'warm:{w}:previous' });
  });
  afterAll(async () => {
    await store.close();
  });

  // INFO commandstats counts the commands a script runs too: each delta below is one EVALSHA (one
  // round trip) and exactly the commands inside it.
  it('acquireLease is one script: SET NX PX and a GET of the entry, or two GETs when taken', async () => {
    expect(
      await commandDelta(server, () => store.acquireLease('rt:{a}:e:lock', 't1', 5_000, 'rt:{a}:e')),
    ).toEqual({
      evalsha: 1,
      set: 1,
      get: 1,
    });
    expect(
      await commandDelta(server, () => store.acquireLease('rt:{a}:e:lock', 't2', 5_000, 'rt:{a}:e')),
    ).toEqual({
      evalsha: 1,
      set: 1,
      get: 2,
    });
  });

  it('storeAndRelease is one script: SET PX, GET and DEL of the lease', async () => {
    await store.acquireLease('rt:{b}:e:lock', 't1', 5_000, 'rt:{b}:e');
    const delta = await commandDelta(server, () =>
      store.storeAndRelease('rt:{b}:e', Buffer.from('v'), 5_000, 'rt:{b}:e:lock', 't1'),
    );
    expect(delta).toEqual({ evalsha: 1, set: 1, get: 1, del: 1 });
  });

  it('renewLease is one script: GET and PEXPIRE', async () => {
    await store.acquireLease('rt:{c}:e:lock', 't1', 5_000, 'rt:{c}:e');
    expect(await commandDelta(server, () => store.renewLease('rt:{c}:e:lock', 't1', 5_000))).toEqual({
      evalsha: 1,
      get: 1,
      pexpire: 1,
    });
  });

  it('a bump that records the previous version is one script: GET, INCRBY, GET, SET', async () => {
    await store.advanceVersion('rt:{d}:version', '5000000000');
    const delta = await commandDelta(server, () =>
      store.advanceVersion('rt:{d}:version', '1', { previousKey: 'rt:{d}:previous' }),
    );
    expect(delta).toEqual({ evalsha: 1, get: 2, incrby: 1, set: 1 });
  });
});
