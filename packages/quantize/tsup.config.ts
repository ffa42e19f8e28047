import { defineConfig } from 'tsup';

// CJS + ESM + types for the main entry and the ./testing fixtures. tfjs-wasm.ts resolves module paths with
// require.resolve in CommonJS and import.meta.resolve in ESM (see resolveModule); the CJS bundle never reaches
// the import.meta branch, so esbuild's "import.meta will be empty" warning about it is silenced here.
export default defineConfig({
  entry: ['src/index.ts', 'src/testing.ts'],
  format: ['cjs', 'esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  esbuildOptions(options) {
    options.logOverride = { ...options.logOverride, 'empty-import-meta': 'silent' };
  },
});
