// Nest 12 for the shared HTTP spec. Nest's packages resolve one another as peers, by name, so a
// second major cannot sit next to Nest 11 under aliases in one package: it lives in this package
// of its own. `@versioned-cache/nestjs` imports `@nestjs/*` by name too; its build is loaded from a
// byte-for-byte copy placed here, where those names resolve to Nest 12, as in a Nest 12 application.
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const built = join(import.meta.dirname, '..', '..', 'packages', 'nestjs', 'dist', 'index.js');

export async function loadNest12() {
  const dir = join(import.meta.dirname, '.tmp', 'nestjs');
  mkdirSync(dir, { recursive: true });
  // Copied under a name of its own, then renamed: another process loading it never sees half a file.
  const staging = join(dir, `index.${process.pid}.js`);
  copyFileSync(built, staging);
  renameSync(staging, join(dir, 'index.js'));
  const [common, core, platformExpress, platformFastify, nestjs] = await Promise.all([
    import('@nestjs/common'),
    import('@nestjs/core'),
    import('@nestjs/platform-express'),
    import('@nestjs/platform-fastify'),
    import(pathToFileURL(join(dir, 'index.js')).href),
  ]);
  const version = createRequire(import.meta.url)('@nestjs/core/package.json').version;
  return { version, common, core, platformExpress, platformFastify, nestjs };
}
