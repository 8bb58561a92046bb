import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base';

export default defineConfig({
  ...packageBuild,
  // `cli` is the `versioned-cache` bin (dist/cli.js); only the library entry has type declarations.
  entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  dts: { entry: { index: 'src/index.ts' } },
});
