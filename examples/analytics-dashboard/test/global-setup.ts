import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_DIR } from './helpers.js';

function newest(dir: string): number {
  let latest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    latest = Math.max(latest, stat.isDirectory() ? newest(path) : stat.mtimeMs);
  }
  return latest;
}

/**
 * Some tests run the compiled server and worker as child processes, as `pnpm start` does: compile
 * them first when the sources are newer than dist (turbo's `build` has usually done it already).
 */
export default async function setup(): Promise<void> {
  const src = join(PACKAGE_DIR, 'src');
  const dist = join(PACKAGE_DIR, 'dist');
  if (existsSync(join(dist, 'server.js')) && newest(dist) >= newest(src)) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: PACKAGE_DIR });
}
