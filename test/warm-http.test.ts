// HTTP route warming through each adapter's `warmRoutes()`: after `invalidate(ns, { warm: true })`
// the warmed routes are HITs of the new data on their first request, with no handler run by readers,
// stored exactly as a client's miss would store them (ETag, headers, bytes). Handler runs are
// counted per path; Redis commands with INFO commandstats; races are sequenced with a gate.
import { createCache, type VersionedCache, type VersionedCacheError } from '@versioned-cache/core';
import etag from 'etag';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { get, type HttpReply, representation } from './fixtures/http-client.js';
import { type WarmApp, type WarmRoute, warmHarnesses } from './fixtures/http-warm-apps.js';
import type { SpecNativeRequest, SpecRouteOptions } from './spec/harness.js';
import { commandDelta } from './support/command-delta.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

const NS = 'items';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A promise the test opens; handlers that reach it wait. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let reached = 0;
  const waiters: (() => void)[] = [];
  return {
    get reached() {
      return reached;
    },
    async pass(): Promise<void> {
      reached++;
      for (const waiter of waiters.splice(0)) waiter();
      await opened;
    },
    /** Resolves once `count` handlers reached the gate. */
    until(count: number): Promise<void> {
      return new Promise((resolve) => {
        const check = () => (reached >= count ? resolve() : waiters.push(check));
        check();
      });
    },
    open,
  };
}

const bearer = (request: SpecNativeRequest) =>
  /^Bearer (\w+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
/** Route options that change the lookup: warming them needs `route`. */
const LOCALISED: SpecRouteOptions = { vary: ['accept-language'] };
const PER_USER: SpecRouteOptions = { perUser: bearer };

let prefixes = 0;

for (const harness of warmHarnesses) {
  describe(`HTTP warming: ${harness.name}`, () => {
    interface World {
      app: WarmApp;
      cache: VersionedCache;
      /** Another process's cache on the same Redis and prefix. */
      other: VersionedCache;
      data: { source: string };
      runs: Map<string, number>;
      errors: VersionedCacheError[];
      summaryGate?: ReturnType<typeof gate>;
    }

    async function start(): Promise<World> {
      const prefix = `warm-http-${harness.name}-${++prefixes}`;
      const options = { redis: redis.url, prefix, jitter: 0, timeout: '2s' } as const;
      const cache = createCache(options);
      const other = createCache(options);
      const errors: VersionedCacheError[] = [];
      cache.on('error', (error) => errors.push(error));
      const world = {
        cache,
        other,
        errors,
        data: { source: 'v1' },
        runs: new Map<string, number>(),
      } as World;
      const counted = (path: string, body: (request: SpecNativeRequest) => unknown): WarmRoute['handle'] => {
        return async (request) => {
          world.runs.set(path, (world.runs.get(path) ?? 0) + 1);
          if (path === '/summary') await world.summaryGate?.pass();
          return body(request);
        };
      };
      const routes: WarmRoute[] = [
        { path: '/summary', handle: counted('/summary', () => ({ summary: world.data.source })) },
        { path: '/report', handle: counted('/report', () => ({ report: world.data.source })) },
        {
          path: '/localised',
          options: LOCALISED,
          handle: counted('/localised', (r) => ({
            lang: r.headers['accept-language'],
            v: world.data.source,
          })),
        },
        {
          path: '/me',
          options: PER_USER,
          handle: counted('/me', (r) => ({ user: bearer(r), v: world.data.source })),
        },
        { path: '/other', handle: counted('/other', () => ({ other: world.data.source })) },
      ];
      world.app = await harness.start(cache, NS, routes);
      cleanups.push(async () => {
        await world.app.close();
        await Promise.all([cache.close(), other.close()]);
      });
      return world;
    }

    const total = (w: World) => [...w.runs.values()].reduce((a, b) => a + b, 0);
    const request = (w: World, path: string, headers: Record<string, string> = {}) =>
      get(w.app.base, path, { headers });
    const bodyOf = (reply: HttpReply) => JSON.parse(reply.body.toString()) as Record<string, unknown>;

    it('warmed routes are HITs of the new data on their first request: no handler run by readers', async () => {
      const w = await start();
      const host = w.app.host;
      w.app.warm({ paths: ['/summary', '/report?b=2&a=1'], headers: { host } });
      w.app.warm({ paths: ['/localised'], headers: { host, 'accept-language': 'fr' }, route: LOCALISED });
      w.app.warm({
        paths: ['/me'],
        headers: { host, authorization: 'Bearer alice' },
        route: PER_USER,
        user: 'alice',
      });
      // Every route has a v1 entry in the current version.
      for (const path of ['/summary', '/report?a=1&b=2', '/other'])
        expect((await request(w, path)).headers['x-cache']).toBe('MISS');
      await request(w, '/localised', { 'accept-language': 'fr' });
      await request(w, '/me', { authorization: 'Bearer alice' });
      const before = total(w);

      w.data.source = 'v2';
      const {
        eval: script = 0,
        evalsha = 0,
        ...commands
      } = await commandDelta(redis, () => w.cache.invalidate(NS, { warm: true }));
      // One handler run per warmed route, each in the warm replay.
      expect(total(w) - before).toBe(4);
      // The replays neither looked up nor stored: one version read, the four entries written under the
      // unpublished version, and the compare-and-set script (which reads and writes the version key,
      // and records the previous version beside it).
      expect(script + evalsha).toBe(1);
      expect(commands).toEqual({ mget: 1, set: 6, get: 1 });

      const readers = total(w);
      const summary = await request(w, '/summary');
      const report = await request(w, '/report?a=1&b=2'); // the query in another order: the same entry
      const fr = await request(w, '/localised', { 'accept-language': 'fr' });
      const alice = await request(w, '/me', { authorization: 'Bearer alice' });
      for (const reply of [summary, report, fr, alice]) {
        expect(reply.status).toBe(200);
        expect(reply.headers['x-cache']).toBe('HIT');
        expect(reply.headers.age).toBeDefined();
        expect(reply.headers.etag).toBe(etag(reply.body));
      }
      expect(bodyOf(summary)).toEqual({ summary: 'v2' });
      expect(bodyOf(report)).toEqual({ report: 'v2' });
      expect(bodyOf(fr)).toEqual({ lang: 'fr', v: 'v2' });
      expect(bodyOf(alice)).toEqual({ user: 'alice', v: 'v2' });
      expect(alice.headers['cache-control']).toMatch(/^private/);
      expect(fr.headers.vary).toBe('accept-language');
      const notModified = await request(w, '/summary', { 'if-none-match': summary.headers.etag! });
      expect([notModified.status, notModified.headers['x-cache']]).toEqual([304, 'HIT']);
      expect(total(w)).toBe(readers);

      // Not warmed: the other route, the other language, the other user.
      const other = await request(w, '/other');
      const en = await request(w, '/localised', { 'accept-language': 'en' });
      const bob = await request(w, '/me', { authorization: 'Bearer bob' });
      for (const reply of [other, en, bob]) expect(reply.headers['x-cache']).toBe('MISS');
      expect(bodyOf(other)).toEqual({ other: 'v2' });
      expect(total(w)).toBe(readers + 3);
      expect(w.errors).toEqual([]);

      // The warm entries are what a client's miss stores: same status, headers, ETag and bytes.
      await w.cache.invalidate(NS);
      const cases: [HttpReply, string, Record<string, string>][] = [
        [summary, '/summary', {}],
        [report, '/report?a=1&b=2', {}],
        [fr, '/localised', { 'accept-language': 'fr' }],
        [alice, '/me', { authorization: 'Bearer alice' }],
      ];
      for (const [warmed, path, headers] of cases) {
        const missed = await request(w, path, headers);
        expect(missed.headers['x-cache']).toBe('MISS');
        expect(missed.body.equals(warmed.body)).toBe(true);
        expect(representation(missed.headers)).toEqual(representation(warmed.headers));
      }
    });

    it('a warm invalidation racing a plain one loses neither: nothing computed before either is served', async () => {
      const w = await start();
      w.app.warm({ paths: ['/summary'], headers: { host: w.app.host } });
      await request(w, '/summary');
      await request(w, '/other');

      // The warm replay reads v2 and is held; meanwhile v3 lands and another process invalidates plainly.
      w.summaryGate = gate();
      w.data.source = 'v2';
      let warmReturned = false;
      const warming = w.cache.invalidate(NS, { warm: true }).then(() => {
        warmReturned = true;
      });
      await w.summaryGate.until(1);
      w.data.source = 'v3';
      await w.other.invalidate(NS);
      const during = await request(w, '/other'); // the plain bump is effective at once
      expect([during.headers['x-cache'], bodyOf(during)]).toEqual(['MISS', { other: 'v3' }]);
      expect(warmReturned).toBe(false);
      w.summaryGate.open();
      await warming;

      // The warm's compare-and-set failed once: it replayed again, from v3, and published that.
      expect(w.summaryGate.reached).toBe(2);
      const readers = total(w);
      const summary = await request(w, '/summary');
      expect([summary.headers['x-cache'], bodyOf(summary)]).toEqual(['HIT', { summary: 'v3' }]);
      expect(total(w)).toBe(readers);
      const other = await request(w, '/other');
      expect([other.headers['x-cache'], bodyOf(other)]).toEqual(['MISS', { other: 'v3' }]);
      expect(w.errors).toEqual([]);
    });

    it('a replay answered by a route that looks up differently, or for another user, is reported and not stored', async () => {
      const w = await start();
      const host = w.app.host;
      // Without `route`, the key would be the app's, which no client of /localised ever reads.
      w.app.warm({ paths: ['/localised'], headers: { host, 'accept-language': 'fr' } });
      // Alice's credentials warmed as bob's entry would hand her page to bob.
      w.app.warm({
        paths: ['/me'],
        headers: { host, authorization: 'Bearer alice' },
        route: PER_USER,
        user: 'bob',
      });
      const unregister = w.app.warm({ paths: ['/summary'], headers: { host } });
      unregister();

      await w.cache.invalidate(NS, { warm: true });
      expect(w.runs.get('/summary')).toBeUndefined(); // unregistered: not replayed
      expect(w.errors.map((e) => [e.code, (e.cause as VersionedCacheError).code])).toEqual([
        ['VC_REFRESH_FAILED', 'VC_INVALID_ARGUMENT'],
        ['VC_REFRESH_FAILED', 'VC_INVALID_ARGUMENT'],
      ]);
      const messages = w.errors.map((e) => (e.cause as Error).message).join('\n');
      expect(messages).toContain('pass its cache options as `route`');
      expect(messages).toContain('perUser returned "alice", not the user \'bob\'');
      const runs = total(w);
      for (const [path, headers] of [
        ['/localised', { 'accept-language': 'fr' }],
        ['/me', { authorization: 'Bearer bob' }],
        ['/me', { authorization: 'Bearer alice' }],
        ['/summary', {}],
      ] as const) {
        const reply = await request(w, path, headers);
        expect(reply.headers['x-cache']).toBe('MISS');
      }
      expect(bodyOf(await request(w, '/me', { authorization: 'Bearer bob' }))).toEqual({
        user: 'bob',
        v: 'v1',
      });
      expect(total(w)).toBe(runs + 4);
    });

    it('rejects bad warm options at setup, naming the field, and registers nothing', async () => {
      const w = await start();
      const host = w.app.host;
      const field = (options: Parameters<WarmApp['warm']>[0]) => {
        try {
          w.app.warm(options);
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
          return (error as { field?: string }).field;
        }
        return 'accepted';
      };
      expect(field({ paths: ['/summary'], headers: {} as { host: string } })).toBe('headers.host');
      expect(field({ paths: [], headers: { host } })).toBe('paths');
      expect(field({ paths: ['/summary', 'report'], headers: { host } })).toBe('paths[1]');
      expect(field({ paths: ['/me'], headers: { host, authorization: 'Bearer a' }, route: PER_USER })).toBe(
        'user',
      );
      expect(field({ paths: ['/summary'], headers: { host }, user: 'a' })).toBe('user');
      expect(field({ paths: ['/summary'], headers: { host, cookie: 'sid=1' } })).toBe('headers');
      expect(field({ paths: ['/summary'], headers: { host }, route: { key: () => 'k' } })).toBe('key');
      expect(field({ paths: ['/summary'], headers: { host }, route: { ttl: 'soon' as never } })).toBe('ttl');
      expect(field({ paths: ['/summary'], headers: { host, 'x-bad': 'a\nb' } })).toBe('headers.x-bad');
      if (harness.name === 'fastify') {
        expect(field({ paths: ['/summary'], headers: { host }, cache: () => {} })).toBe(
          'warmRoutes options.cache',
        );
      } else {
        expect(field({ paths: ['/summary'], headers: { host }, cache: () => {} })).toBe('cache');
      }

      await w.cache.invalidate(NS, { warm: true });
      expect(total(w)).toBe(0);
      expect(w.errors).toEqual([]);
    });
  });
}
