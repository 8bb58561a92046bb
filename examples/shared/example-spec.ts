import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../test/support/redis-server.ts';
import { call, type Server, startServer } from './http-helpers.ts';

/** The cache as the spec uses it; each example passes its own `createCache` (this folder is no package). */
interface Closable {
  close(): Promise<void>;
}

/** What each example gives the spec: how to serve its app, and its report function to check totals. */
export interface ExampleApp<Cache extends Closable> {
  name: string;
  /** The example's folder, whose `dist/server.js` the server test starts. */
  packageDir: string;
  crunch: (id: string, epoch: number) => number;
  /** A cache on the embedded memory store. */
  createCache(): Cache;
  /** Serves the app on a free loopback port. */
  listen(cache: Cache): Promise<{ base: string; close(): Promise<void> }>;
}

/** The same checks for every example, so the three frameworks are held to one behaviour. */
export function exampleSpec<Cache extends Closable>(app: ExampleApp<Cache>): void {
  const { crunch } = app;

  describe(app.name, () => {
    let cache: Cache;
    let served: { base: string; close(): Promise<void> };
    let base: string;
    const computations = async () => (await call(base, '/api/health')).body.computations;

    beforeEach(async () => {
      cache = app.createCache();
      served = await app.listen(cache);
      base = served.base;
    });
    afterEach(async () => {
      await served.close();
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

  describe(`${app.name}: dist/server.js on Redis`, () => {
    let redis: RedisServer;
    let server: Server | undefined;

    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await server?.stop();
      await redis?.stop();
    });

    it('serves MISS, HIT, then MISS after an invalidation, with its entries in Redis', async () => {
      server = await startServer(app.packageDir, { REDIS_URL: redis.url });
      expect(server.url).toMatch(/^http:\/\/localhost:\d+$/);

      const miss = await call(server.url, '/api/reports/7');
      expect([miss.cache, miss.body.epoch]).toEqual(['MISS', 0]);
      const hit = await call(server.url, '/api/reports/7');
      expect([hit.cache, hit.body]).toEqual(['HIT', miss.body]);
      const version = await redis.admin.get('vc:{reports}:version');
      expect(version).not.toBeNull();
      expect(await redis.admin.keys(`vc:{reports}:${version}:*`)).toHaveLength(1);

      await call(server.url, '/api/reports/reprocess', { method: 'POST' });
      expect(await redis.admin.get('vc:{reports}:version')).not.toBe(version);
      const after = await call(server.url, '/api/reports/7');
      expect([after.cache, after.body.epoch, after.body.computation]).toEqual(['MISS', 1, 2]);
      expect((await call(server.url, '/api/reports/7')).cache).toBe('HIT');

      expect(await server.stop()).toBe(0);
      server = undefined;
    });
  });
}
