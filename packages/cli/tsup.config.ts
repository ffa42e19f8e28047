import { defineConfig } from 'tsup';

// The library (index) ships as CJS + ESM with types; the binary is one CJS file with a shebang.
export default defineConfig([
  { entry: ['src/index.ts'], format: ['cjs', 'esm'], dts: true, clean: true, sourcemap: true, target: 'node20' },
  { entry: ['src/bin.ts'], format: ['cjs'], sourcemap: true, target: 'node20', banner: { js: '#!/usr/bin/env node' } },
]);
