import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';

const newest = (dir: string): number =>
  Math.max(...readdirSync(dir).map((name) => statSync(join(dir, name)).mtimeMs));

/**
 * The server test runs the compiled `dist/server.js`, as `pnpm start` does: compile it first when
 * the sources are newer (turbo's `build` has usually done it already).
 */
export async function buildDistIfStale(packageDir: string): Promise<void> {
  const src = join(packageDir, 'src');
  const dist = join(packageDir, 'dist');
  if (existsSync(join(dist, 'server.js')) && newest(dist) >= newest(src)) return;
  const tsc = createRequire(join(packageDir, 'package.json')).resolve('typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: packageDir });
}
