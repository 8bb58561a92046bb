import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCache, type VersionedCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandDelta, settle } from './support/command-delta.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

// Invariant 1: invalidating a namespace is one INCR, whatever the number of entries, and no code
// path enumerates or mass-deletes keys.

// One script: read the version, INCRBY a random step, read it back exactly, record the previous one.
const BUMP_COMMANDS = { evalsha: 1, get: 2, incrby: 1, set: 1 };

describe('O(1) invalidation on a real Redis', () => {
  let server: RedisServer;
  let cache: VersionedCache;

  beforeAll(async () => {
    server = await startRedis();
    // Behaviour, not fault bounds: a generous timeout keeps a loaded machine from failing calls open.
    cache = createCache({ redis: server.url, ttl: '10m', timeout: '5s' });
    // ioredis sends a script as EVALSHA and falls back to EVAL once per server on NOSCRIPT: one bump
    // elsewhere loads it, so that the counts below are what every later invalidation costs.
    await cache.invalidate('script-warm-up');
  });

  afterAll(async () => {
    await cache.close();
    await server.stop();
  });

  /** Writes `count` real entries of `ns` under the cache's key schema, in pipelined batches. */
  async function fillNamespace(ns: string, count: number): Promise<void> {
    await cache.getOrSet(ns, 'seed', () => 'stored-value');
    const version = await cache.version(ns);
    const bytes = await server.admin.getBuffer(cache.keys.entryKey([ns], [version], 'seed'));
    expect(bytes).not.toBeNull();
    for (let start = 1; start < count; start += 10_000) {
      const pipeline = server.admin.pipeline();
      for (let i = start; i < Math.min(count, start + 10_000); i++) {
        pipeline.set(cache.keys.entryKey([ns], [version], `entry-${i}`), bytes!, 'PX', 600_000);
      }
      await pipeline.exec();
    }
  }

  for (const count of [10, 100_000]) {
    it(`invalidating a namespace holding ${count} entries runs exactly one INCR and deletes nothing`, async () => {
      const ns = `dataset-${count}`;
      await fillNamespace(ns, count);
      const probe = `entry-${count - 1}`;
      const compute = () => 'recomputed';
      expect(await cache.fetch(ns, probe, compute)).toMatchObject({ status: 'HIT', value: 'stored-value' });
      const versionBefore = await cache.version(ns);
      const keysBefore = await server.admin.dbsize();
      await settle(cache);
      expect(keysBefore).toBeGreaterThanOrEqual(count + 1);

      const startedAt = performance.now();
      const delta = await commandDelta(server, () => cache.invalidate(ns));
      const elapsed = performance.now() - startedAt;

      // Exactly these commands and nothing else: no SCAN, KEYS, DEL or UNLINK at any entry count.
      expect(delta).toEqual(BUMP_COMMANDS);
      // The one key added is the namespace's previous-version record (one per namespace, ever).
      expect(await server.admin.dbsize()).toBe(keysBefore + 1);
      expect(await server.admin.exists(cache.keys.previousKey(ns))).toBe(1);
      const step = BigInt(await cache.version(ns)) - BigInt(versionBefore);
      expect(step >= 1n && step < 2n ** 31n).toBe(true);
      // And every one of those entries is stale at once.
      expect(await cache.fetch(ns, probe, compute)).toMatchObject({ status: 'MISS', value: 'recomputed' });
      expect(await cache.fetch(ns, 'seed', compute)).toMatchObject({ status: 'MISS', value: 'recomputed' });
      expect(await cache.fetch(ns, 'entry-1', compute)).toMatchObject({
        status: 'MISS',
        value: 'recomputed',
      });
      console.info(
        `[measure] invalidate with ${count} entries: ${JSON.stringify(delta)} in ${elapsed.toFixed(1)} ms`,
      );
    });
  }

  it('invalidating several namespaces at once is one INCR per namespace', async () => {
    await cache.getOrSet(['orders', 'users'], 'report', () => 'r1');
    await settle(cache);
    const delta = await commandDelta(server, () => cache.invalidate(['users', 'orders']));
    expect(delta).toEqual({ evalsha: 2, get: 4, incrby: 2, set: 2 });
    expect(await cache.getOrSet(['orders', 'users'], 'report', () => 'r2')).toBe('r2');
  });

  it('invalidating a namespace never seen before creates its version in one script call', async () => {
    await settle(cache);
    const delta = await commandDelta(server, () => cache.invalidate('never-seen'));
    expect(delta).toEqual({ evalsha: 1, get: 1, set: 1 });
  });
});

describe('no key enumeration in any package source', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages');
  // Redis commands that walk or mass-delete the keyspace, however they are spelled in TS or Lua.
  const FORBIDDEN: [string, RegExp][] = [
    ['SCAN-family method', /\.(scan|sscan|hscan|zscan)(Buffer)?(Stream)?\s*\(/i],
    ['KEYS method (Map#keys takes no argument)', /(?<!Object)\.keys\s*\(\s*[^\s)]/],
    ['DEL/UNLINK method', /\.(del|unlink)(Buffer)?\s*\(/i],
    ['SCAN/KEYS/UNLINK/FLUSHDB as a command name', /['"`](scan|keys|unlink|flushdb|flushall)['"`]/i],
    ['sendCommand/call with a raw command', /new\s+Command\s*\(\s*['"`](scan|keys|del|unlink)/i],
  ];

  async function sourceFiles(dir: string): Promise<string[]> {
    const found: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) found.push(...(await sourceFiles(path)));
      else if (/\.(ts|js|mjs|cjs|lua)$/.test(entry.name) && path.includes(`${join('/', 'src')}/`))
        found.push(path);
    }
    return found;
  }

  function violations(text: string): string[] {
    const hits: string[] = [];
    for (const line of text.split('\n')) {
      const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
      for (const [what, pattern] of FORBIDDEN) if (pattern.test(code)) hits.push(`${what}: ${line.trim()}`);
    }
    return hits;
  }

  it('the patterns catch enumeration and leave ordinary code alone', () => {
    for (const bad of [
      "await client.keys('vc:{reports}:*')",
      'const stream = redis.scanStream({ match: pattern })',
      'await this.client.scan(cursor, "MATCH", pattern)',
      'await client.del(...keys)',
      'await cluster.unlink(key)',
      "redis.call('SCAN', cursor, 'MATCH', ARGV[1])",
      'redis.call("KEYS", ARGV[1])',
    ]) {
      expect(violations(bad), bad).not.toEqual([]);
    }
    for (const good of [
      'for (const name of Object.keys(options)) {}',
      'const names = [...this.warmers.keys()];',
      "redis.call('DEL', KEYS[1])",
      '// no SCAN, KEYS or pattern deletes exist here',
    ]) {
      expect(violations(good), good).toEqual([]);
    }
  });

  it('packages/*/src contain no SCAN, KEYS, DEL-by-pattern or UNLINK', async () => {
    const files = await sourceFiles(root);
    expect(files.some((file) => file.endsWith(join('core', 'src', 'cache.ts')))).toBe(true);
    // The ops CLI's `inspect` samples a namespace with a SCAN capped in pages and keys (cli.test.ts
    // proves the cap); it runs from a shell, never on a library path, so only the library is held to this.
    const cliDir = join('core', 'src', 'cli') + '/';
    expect(files.some((file) => file.includes(cliDir))).toBe(true);
    const found: string[] = [];
    for (const file of files.filter((path) => !path.includes(cliDir))) {
      for (const hit of violations(await readFile(file, 'utf8')))
        found.push(`${relative(root, file)}: ${hit}`);
    }
    expect(found).toEqual([]);
  });
});
