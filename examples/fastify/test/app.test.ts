import { createCache, type VersionedCache } from '@versioned-cache/core';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp, crunch } from '../src/app.js';
import { call } from './helpers.js';

describe('example-fastify', () => {
  let cache: VersionedCache;
  let app: FastifyInstance;
  let base: string;
  const computations = async () => (await call(base, '/api/health')).body.computations;

  beforeEach(async () => {
    cache = createCache(); // the embedded memory store
    app = await createApp(cache);
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterEach(async () => {
    await app.close();
    await cache.close();
  });

  it('answers a report as a MISS, then a HIT with the same body, computed once', async () => {
    const miss = await call(base, '/api/reports/42');
    expect(miss.cache).toBe('MISS');
    expect(miss.body).toEqual({ id: '42', epoch: 0, total: crunch('42', 0), computation: 1 });
    const hit = await call(base, '/api/reports/42');
    expect(hit.cache).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
    expect(await computations()).toBe(1);
  });

  it('recomputes after POST /api/reports/reprocess, with the new data', async () => {
    const before = await call(base, '/api/reports/42');
    expect((await call(base, '/api/reports/42')).cache).toBe('HIT');
    const reprocess = await call(base, '/api/reports/reprocess', { method: 'POST' });
    expect(reprocess.body).toEqual({ epoch: 1 });

    const after = await call(base, '/api/reports/42');
    expect(after.cache).toBe('MISS');
    expect(after.body).toEqual({ id: '42', epoch: 1, total: crunch('42', 1), computation: 2 });
    expect(after.body.total).not.toBe(before.body.total);
    const again = await call(base, '/api/reports/42');
    expect([again.cache, again.body]).toEqual(['HIT', after.body]);
    expect(await computations()).toBe(2);
  });

  it('keeps one /api/me entry per user, never shared', async () => {
    const as = (user: string) => call(base, '/api/me', { headers: { 'x-user': user } });
    const [alice, bob] = [await as('alice'), await as('bob')];
    expect([alice.cache, alice.body.user]).toEqual(['MISS', 'alice']);
    expect([bob.cache, bob.body.user]).toEqual(['MISS', 'bob']);
    expect(alice.headers.get('cache-control')).toMatch(/^private/);

    const [alice2, bob2] = [await as('alice'), await as('bob')];
    expect([alice2.cache, alice2.body]).toEqual(['HIT', alice.body]);
    expect([bob2.cache, bob2.body]).toEqual(['HIT', bob.body]);
    expect(await computations()).toBe(2);

    // Without a user there is nothing to key by: the 401 is never stored.
    for (let i = 0; i < 2; i++) {
      const anonymous = await call(base, '/api/me');
      expect([anonymous.status, anonymous.cache]).toEqual([401, 'BYPASS']);
    }
  });

  it('never caches /api/health', async () => {
    const first = await call(base, '/api/health');
    expect([first.cache, first.body]).toEqual(['BYPASS', { ok: true, epoch: 0, computations: 0 }]);
    await call(base, '/api/reports/1');
    await call(base, '/api/reports/reprocess', { method: 'POST' });
    const second = await call(base, '/api/health');
    expect([second.cache, second.body]).toEqual(['BYPASS', { ok: true, epoch: 1, computations: 1 }]);
    expect(second.headers.get('cache-control')).toBeNull();
  });
});
