import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createCache } from '@versioned-cache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type RedisServer, startRedis } from './support/redis-server.js';

// The `versioned-cache` bin as an operator runs it: the built dist/cli.js in its own process,
// against a private redis-server.

const CLI = join(
  dirname(createRequire(import.meta.url).resolve('@versioned-cache/core/package.json')),
  'dist/cli.js',
);

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr, ms: performance.now() - started });
      },
    );
  });
}

/**
 * A process using the library, as an application server would: it reads on command from stdin.
 * Behaviour, not fault bounds: a generous timeout keeps a loaded machine from failing calls open.
 */
function libraryProcess(url: string): {
  child: ChildProcessWithoutNullStreams;
  ask: (line: string) => Promise<string>;
} {
  const script = `
    import { createCache } from '@versioned-cache/core';
    import { createInterface } from 'node:readline';
    const cache = createCache({ redis: ${JSON.stringify(url)}, timeout: '5s' });
    let computed = 0;
    for await (const line of createInterface({ input: process.stdin })) {
      if (line === 'close') { await cache.close(); process.exit(0); }
      const result = await cache.fetch(line, 'summary', async () => ({ computed: ++computed }));
      console.log(JSON.stringify({ status: result.status, value: result.value, version: await cache.version(line) }));
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: import.meta.dirname });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    child,
    async ask(line) {
      child.stdin.write(`${line}\n`);
      const next = await lines.next();
      if (next.done) throw new Error('library process ended');
      return next.value;
    },
  };
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('versioned-cache CLI', () => {
  it('prints versions, null for a namespace that has none, without creating it', async () => {
    const cache = createCache({ redis: redis.url, timeout: '5s' });
    try {
      const version = await cache.version('orders');
      const text = await cli(['--redis', redis.url, 'versions', 'orders', 'never-used']);
      expect([text.code, text.stderr]).toEqual([0, '']);
      expect(text.stdout).toMatch(new RegExp(`^orders\\t${version}\\nnever-used\\t\\(none`));
      const json = await cli(['--json', 'versions', 'orders', 'never-used'], { REDIS_URL: redis.url });
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual({
        prefix: 'vc',
        versions: [
          { namespace: 'orders', version },
          { namespace: 'never-used', version: null },
        ],
      });
      expect(await redis.admin.exists('vc:{never-used}:version')).toBe(0);
    } finally {
      await cache.close();
    }
  });

  it('invalidates with the library bump, and another process sees the new version', async () => {
    const app = libraryProcess(redis.url);
    try {
      const first = JSON.parse(await app.ask('analytics'));
      expect(JSON.parse(await app.ask('analytics'))).toMatchObject({ status: 'HIT', value: { computed: 1 } });
      const before = await redis.commandStats();
      const result = await cli(['--redis', redis.url, '--json', 'invalidate', 'analytics']);
      const after = await redis.commandStats();
      expect([result.code, result.stderr]).toEqual([0, '']);
      const [bump] = JSON.parse(result.stdout).invalidated;
      expect(bump.before).toBe(first.version);
      // Versions move forward by a random step, so a rolled-back key never re-issues one.
      expect(BigInt(bump.after)).toBeGreaterThan(BigInt(first.version));
      // One bump as the library does it, and no key walk: nothing scanned, listed or deleted.
      const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
      expect(delta('incrby')).toBe(1);
      expect(['scan', 'keys', 'del', 'unlink'].map(delta)).toEqual([0, 0, 0, 0]);
      // The application process was not told anything: it reads the new version from Redis.
      const seen = JSON.parse(await app.ask('analytics'));
      expect(seen).toEqual({ status: 'MISS', value: { computed: 2 }, version: bump.after });
      const text = await cli(['--redis', redis.url, 'invalidate', 'analytics']);
      expect(text.stdout).toMatch(new RegExp(`^analytics\t${bump.after} -> (\\d+)\n$`));
      expect(BigInt(/-> (\d+)/.exec(text.stdout)![1]!)).toBeGreaterThan(BigInt(bump.after));
      app.ask('close').catch(() => {});
      await once(app.child, 'exit');
    } finally {
      app.child.kill();
    }
  });

  it('inspects a namespace of 10,000 entries with a bounded sample, within 1 s', async () => {
    const cache = createCache({ redis: redis.url, timeout: '5s' });
    try {
      const version = await cache.version('big');
      const pipeline = redis.admin.pipeline();
      for (let i = 0; i < 10_000; i++) {
        pipeline.set(cache.keys.entryKey(['big'], [version], `entry-${i}`), 'x'.repeat(100), 'PX', 600_000);
      }
      // An older generation and another namespace: never part of the sample.
      for (let i = 0; i < 100; i++) {
        pipeline.set(cache.keys.entryKey(['big'], ['1234'], `old-${i}`), 'old', 'PX', 600_000);
        pipeline.set(cache.keys.entryKey(['other'], ['5678'], `other-${i}`), 'other', 'PX', 600_000);
      }
      await pipeline.exec();
      const before = await redis.commandStats();
      const result = await cli(['--redis', redis.url, '--json', '--sample', '5', 'inspect', 'big']);
      const after = await redis.commandStats();
      expect([result.code, result.stderr]).toEqual([0, '']);
      const report = JSON.parse(result.stdout);
      // Generous bounds: the sample needs one SCAN page. The whole child process also pays Node's
      // start-up, which a loaded 2-core machine can stretch, so it gets more headroom.
      expect(report.elapsedMs).toBeLessThan(1000);
      expect(result.ms).toBeLessThan(15_000);
      expect(report).toMatchObject({ namespace: 'big', version, sample: { isSample: true, limit: 5 } });
      expect(report.sample.keys).toHaveLength(5);
      for (const key of report.sample.keys) {
        expect(key.key.startsWith(`vc:{big}:${version}:entry-`)).toBe(true);
        expect(key).toMatchObject({ bytes: 100, lease: false });
        expect(key.ttlMs).toBeGreaterThan(0);
        expect(key.ttlMs).toBeLessThanOrEqual(600_000);
      }
      const scans = (after.get('scan') ?? 0) - (before.get('scan') ?? 0);
      expect(scans).toBe(report.sample.scan.iterations);
      expect(scans).toBeLessThanOrEqual(report.sample.scan.maxIterations);
      expect((after.get('keys') ?? 0) - (before.get('keys') ?? 0)).toBe(0);

      const text = await cli(['--redis', redis.url, 'inspect', 'big']);
      expect(text.stdout).toContain('a sample, not a count');
      expect(
        text.stdout.split('\n').filter((line) => line.includes(`vc:{big}:${version}:entry-`)),
      ).toHaveLength(10);
    } finally {
      await cache.close();
    }
  });

  it('samples only the current version: none after an invalidation, none without a version', async () => {
    const cache = createCache({ redis: redis.url, timeout: '5s' });
    try {
      for (let i = 0; i < 50; i++) await cache.getOrSet('moved', `entry-${i}`, async () => i);
      const old = await cache.version('moved');
      await cache.invalidate('moved');
      const moved = JSON.parse((await cli(['--redis', redis.url, '--json', 'inspect', 'moved'])).stdout);
      expect(moved.version).not.toBe(old);
      expect(moved.sample).toMatchObject({ keys: [], scan: { exhausted: true } });
      expect(await redis.admin.exists(cache.keys.entryKey(['moved'], [old], 'entry-0'))).toBe(1);
    } finally {
      await cache.close();
    }
    const result = await cli(['--redis', redis.url, '--json', 'inspect', 'empty']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ version: null, sample: { keys: [] } });
  });

  // Eleven Node start-ups in a row: seconds each on a loaded machine.
  it('exits 2 on bad usage, naming the problem', { timeout: 120_000 }, async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [[], { REDIS_URL: redis.url }, /a command is required/],
      [['flush', 'a'], { REDIS_URL: redis.url }, /unknown command 'flush'/],
      [['versions'], { REDIS_URL: redis.url }, /at least one namespace/],
      [['inspect', 'a', 'b'], { REDIS_URL: redis.url }, /one namespace/],
      [['versions', 'a'], {}, /--redis/],
      [['--redis', 'localhost:6379', 'versions', 'a'], {}, /redis:\/\//],
      [['--bogus', 'versions', 'a'], { REDIS_URL: redis.url }, /bogus/],
      [['versions', 'a{b}'], { REDIS_URL: redis.url }, /braces/],
      [['--prefix', 'has space', 'versions', 'a'], { REDIS_URL: redis.url }, /prefix/],
      [['--sample', '0', 'inspect', 'a'], { REDIS_URL: redis.url }, /--sample/],
    ];
    for (const [args, env, message] of cases) {
      const result = await cli(args, env);
      expect([args, result.code], result.stderr).toEqual([args, 2]);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    }
    const help = await cli(['--help']);
    expect([help.code, help.stdout]).toEqual([
      0,
      expect.stringContaining('Exit codes: 0 ok, 1 Redis error, 2 usage error'),
    ]);
  });

  it('exits 1 when Redis cannot be reached', async () => {
    const port = await freePort();
    for (const command of ['versions', 'invalidate', 'inspect']) {
      const result = await cli(['--redis', `redis://127.0.0.1:${port}`, command, 'a']);
      expect([command, result.code]).toEqual([command, 1]);
      expect(result.stderr).toMatch(/Redis error/);
    }
  });
});
