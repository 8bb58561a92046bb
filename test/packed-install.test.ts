import { execFile, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './support/redis-server.js';

// What a user gets before and after publication: every package packed with `pnpm pack` (workspace
// ranges replaced by versions), installed from the tarballs into fresh projects by npm and by pnpm
// (strict layout), then loaded through require and import, type-checked with node16 and bundler
// resolution, and asked a real request through each adapter, on ioredis 5 and then ioredis 6.
// The npm project takes the older framework majors (Express 4, Koa 2, Nest 11), the pnpm one the
// current (Nest 12). In each, a Nest application written with decorators is compiled by tsc as a
// user's would be (CommonJS on Nest 11, as `nest new` makes it; ESM on Nest 12, which is ESM only).
// The package's `test` script runs this file on its own, after the others: its installs and
// type-checks keep both cores busy, which files that drive timing should not have to share.

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..');
const fixtures = join(import.meta.dirname, 'fixtures', 'packed-install');
const packageDirs = ['core', 'express', 'koa', 'fastify', 'nestjs', 'metrics'] as const;
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
// Generous: installs fetch from the registry when the local cache lacks a package.
const COMMAND_TIMEOUT_MS = 240_000;

const EXPECTED_EXPORTS = {
  '@versioned-cache/core': ['createCache', 'createHttpCache', 'RedisStore', 'VersionedCacheError'],
  '@versioned-cache/express': ['versionedCache', 'cacheRoute', 'noCache', 'warmRoutes'],
  '@versioned-cache/koa': ['versionedCache', 'cacheRoute', 'noCache', 'warmRoutes'],
  '@versioned-cache/fastify': ['versionedCache', 'warmRoutes'],
  '@versioned-cache/nestjs': [
    'VersionedCacheModule',
    'VersionedCacheInterceptor',
    'CacheRoute',
    'Invalidates',
  ],
  '@versioned-cache/metrics': ['instrumentVersionedCache', 'METRIC_NAMES'],
};

/** The pnpm running this suite when it runs under pnpm; else the one on PATH; else pnpm 10 through npx. */
function pnpmCommand(): [string, string[]] {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) return [process.execPath, [execPath]];
  if (spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).status === 0) return ['pnpm', []];
  return ['npx', ['--yes', 'pnpm@10']];
}

/**
 * The environment of an install in a project of its own: without the npm_* settings that the
 * repository's own pnpm run passes down, which would otherwise apply to it.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
}

async function sh(cwd: string, command: string, args: string[], env = cleanEnv()): Promise<string> {
  try {
    const { stdout } = await run(command, args, {
      cwd,
      env,
      timeout: COMMAND_TIMEOUT_MS,
      maxBuffer: 1 << 24,
    });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: error });
  }
}

interface Layout {
  manager: 'npm' | 'pnpm';
  frameworks: Record<string, string>;
  nest: { major: number; type: 'commonjs' | 'module' };
  install(cwd: string): Promise<unknown>;
}

const [pnpmBin, pnpmPrefix] = pnpmCommand();
const layouts: Layout[] = [
  {
    manager: 'npm',
    frameworks: { express: '^4.21.2', '@types/express': '^4.17.21', koa: '^2.16.1', '@types/koa': '^2.15.0' },
    nest: { major: 11, type: 'commonjs' },
    install: (cwd) => sh(cwd, 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund']),
  },
  {
    manager: 'pnpm',
    frameworks: { express: '^5.1.0', '@types/express': '^5.0.0', koa: '^3.0.0', '@types/koa': '^3.0.0' },
    nest: { major: 12, type: 'module' },
    install: (cwd) =>
      sh(cwd, pnpmBin, [...pnpmPrefix, 'install', '--prefer-offline', '--no-frozen-lockfile']),
  },
];

let redis: RedisServer;
let work: string;
const tarballs: Record<string, string> = {};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vc-packed-'));
  const destination = join(work, 'tarballs');
  for (const dir of packageDirs) {
    await sh(join(repo, 'packages', dir), pnpmBin, [
      ...pnpmPrefix,
      'pack',
      '--pack-destination',
      destination,
    ]);
  }
  for (const file of await readdir(destination)) {
    const match = /^versioned-cache-(core|express|koa|fastify|nestjs|metrics)-\d.*\.tgz$/.exec(file);
    if (match) tarballs[`@versioned-cache/${match[1]}`] = join(destination, file);
  }
  redis = await startRedis();
}, COMMAND_TIMEOUT_MS);

afterAll(async () => {
  try {
    await redis?.stop();
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
});

describe('packed tarballs', () => {
  it('exist for every package and carry LICENSE, README and no workspace range', async () => {
    expect(Object.keys(tarballs).sort()).toEqual(Object.keys(EXPECTED_EXPORTS).sort());
    for (const tarball of Object.values(tarballs)) {
      const listing = (await sh(work, 'tar', ['-tzf', tarball])).split('\n');
      expect(listing).toEqual(
        expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/dist/index.d.cts']),
      );
      const manifest = await sh(work, 'tar', ['-xzOf', tarball, 'package/package.json']);
      expect(manifest).not.toContain('workspace:');
    }
  });
});

describe.each(layouts)('installed by $manager', (layout) => {
  const cwd = () => join(work, layout.manager);

  beforeAll(async () => {
    await mkdir(cwd());
    const file = (name: string) => `file:${tarballs[name]}`;
    const manifest = {
      name: `packed-install-${layout.manager}`,
      private: true,
      type: 'module',
      dependencies: {
        ...Object.fromEntries(Object.keys(EXPECTED_EXPORTS).map((name) => [name, file(name)])),
        ...layout.frameworks,
        ...Object.fromEntries(
          ['common', 'core', 'platform-express', 'platform-fastify'].map((name) => [
            `@nestjs/${name}`,
            `^${layout.nest.major}.0.0`,
          ]),
        ),
        '@opentelemetry/api': '^1.9.0',
        'reflect-metadata': '^0.2.2',
        rxjs: '^7.8.0',
        fastify: '^5.0.0',
        ioredis: '^5.9.2',
        '@types/node': '^20.19.0',
      },
      // Until the core is on the registry, the adapters' dependency on it must come from its tarball.
      pnpm: { overrides: { '@versioned-cache/core': file('@versioned-cache/core') } },
    };
    await writeFile(join(cwd(), 'package.json'), JSON.stringify(manifest, null, 2));
    await cp(fixtures, cwd(), { recursive: true });
    await writeFile(join(cwd(), 'nest-app', 'package.json'), JSON.stringify({ type: layout.nest.type }));
    await layout.install(cwd());
  }, COMMAND_TIMEOUT_MS * 2);

  for (const [major, range] of [
    [5, '^5.9.2'],
    [6, '^6.1.0'],
  ] as const) {
    it(
      `with ioredis ${major}: loads, type-checks and caches through every adapter`,
      async () => {
        // ioredis 6's own declarations import redis-errors, which ships no types: an application that
        // checks its libraries' declarations (skipLibCheck off, as here) installs them.
        if (major !== 5) {
          const path = join(cwd(), 'package.json');
          const manifest = JSON.parse(await readFile(path, 'utf8')) as {
            dependencies: Record<string, string>;
          };
          Object.assign(manifest.dependencies, { ioredis: range, '@types/redis-errors': '^1.2.3' });
          await writeFile(path, JSON.stringify(manifest, null, 2));
          await layout.install(cwd());
        }

        const cjs = JSON.parse(await sh(cwd(), process.execPath, ['load.cjs'])) as Record<string, string[]>;
        const esm = JSON.parse(await sh(cwd(), process.execPath, ['load.mjs'])) as Record<string, string[]>;
        for (const [name, names] of Object.entries(EXPECTED_EXPORTS)) {
          expect(cjs[name]).toEqual(expect.arrayContaining(names));
          expect(esm[name]).toEqual(expect.arrayContaining(names));
        }

        // node16 checks the declarations themselves (.d.ts and .d.cts); bundler, resolution and use.
        await sh(cwd(), process.execPath, [tsc, '-p', 'tsconfig.node16.json']);
        await sh(cwd(), process.execPath, [tsc, '-p', 'tsconfig.bundler.json', '--skipLibCheck']);

        const env = { ...cleanEnv(), REDIS_URL: redis.url };
        const served = JSON.parse(await sh(cwd(), process.execPath, ['serve.mjs'], env)) as {
          ioredis: string;
          adapters: Record<string, { statuses: string[]; runs: number }>;
        };
        expect(served.ioredis.split('.')[0]).toBe(String(major));
        for (const adapter of ['express', 'koa', 'fastify']) {
          expect(served.adapters[adapter]).toEqual({ statuses: ['MISS:1', 'HIT:1', 'MISS:2'], runs: 2 });
        }
      },
      COMMAND_TIMEOUT_MS * 2,
    );
  }

  it(
    `a Nest ${layout.nest.major} app written as a user would (decorators only, tsc with experimentalDecorators and emitDecoratorMetadata) installs the package from its packed tarball and works on both platforms`,
    async () => {
      // The compiler options `nest new` writes, skipLibCheck included: checking every library's
      // declarations, Nest's among them, would triple the compile time of this test.
      await sh(cwd(), process.execPath, [tsc, '-p', join('nest-app', 'tsconfig.json')]);
      const env = { ...cleanEnv(), REDIS_URL: redis.url };
      const served = JSON.parse(
        await sh(cwd(), process.execPath, [join('nest-app', 'dist', 'main.js')], env),
      );
      const expected = { seen: ['MISS:r1:run1', 'HIT:r1:run1', 'POST:201', 'MISS:r2:run2'], runs: 2 };
      expect(served).toEqual({ express: expected, fastify: expected });
      const nest = JSON.parse(
        await readFile(join(cwd(), 'node_modules', '@nestjs', 'core', 'package.json'), 'utf8'),
      );
      expect((nest as { version: string }).version.split('.')[0]).toBe(String(layout.nest.major));
    },
    COMMAND_TIMEOUT_MS,
  );
});
