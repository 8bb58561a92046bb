import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// What a user gets from npm: each package's exports map resolves, for import and for require, to a
// build that loads in plain Node (no bundler, no TypeScript) and ships its type declarations.

const run = promisify(execFile);
const packages = {
  '@versioned-cache/core': ['createCache', 'createHttpCache', 'VersionedCacheError'],
  '@versioned-cache/express': ['versionedCache', 'cacheRoute', 'noCache'],
  '@versioned-cache/koa': ['versionedCache', 'cacheRoute', 'noCache'],
  '@versioned-cache/fastify': ['versionedCache'],
  '@versioned-cache/metrics': ['instrumentVersionedCache', 'METRIC_NAMES'],
  '@versioned-cache/nestjs': [
    'VersionedCacheModule',
    'VersionedCacheInterceptor',
    'CacheRoute',
    'Invalidates',
  ],
} as const;

async function exportsOf(name: string, kind: 'import' | 'require'): Promise<string[]> {
  const script =
    kind === 'import'
      ? `import(${JSON.stringify(name)}).then((m) => console.log(JSON.stringify(Object.keys(m))))`
      : `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(name)}))))`;
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: import.meta.dirname });
  return JSON.parse(stdout) as string[];
}

describe.each(Object.entries(packages))('%s as published', (name, expected) => {
  it('loads as ESM and as CommonJS with the same exports', async () => {
    const esm = await exportsOf(name, 'import');
    const cjs = await exportsOf(name, 'require');
    for (const exported of expected) {
      expect(esm).toContain(exported);
      expect(cjs).toContain(exported);
    }
  });

  it('declares types for both module systems through its exports map', () => {
    const require = createRequire(import.meta.url);
    const manifestPath = require.resolve(`${name}/package.json`);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      exports: Record<string, { import: { types: string }; require: { types: string } }>;
    };
    const root = manifest.exports['.']!;
    for (const types of [root.import.types, root.require.types]) {
      expect(existsSync(join(dirname(manifestPath), types))).toBe(true);
    }
  });
});
