import { defineConfig } from 'tsup';

export default defineConfig({
  // `cli` is the `versioned-cache` bin (dist/cli.js); only the library entry has type declarations.
  entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
