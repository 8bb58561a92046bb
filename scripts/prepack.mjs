// Runs as each package's `prepack`, in the package's folder: a tarball must carry the license and a
// build, and a forgotten `pnpm build` would otherwise pack a package with no code in it.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const missing = [manifest.main, manifest.module, manifest.types].filter((file) => !existsSync(file));
if (missing.length > 0) {
  console.error(`${manifest.name}: ${missing.join(', ')} missing; run \`pnpm build\` before packing`);
  process.exit(1);
}
copyFileSync(join(import.meta.dirname, '..', 'LICENSE'), 'LICENSE');
