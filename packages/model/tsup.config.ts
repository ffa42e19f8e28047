import { defineConfig } from 'tsup';

// The library (index, internals) ships as CJS + ESM with types. A training worker thread runs
// dist/train-worker.js, one CJS file (workers.ts finds it beside the module that starts it: __dirname in CJS,
// import.meta.url in ESM; the CJS bundle never reaches the import.meta branch, so esbuild's "import.meta will
// be empty" warning about it is silenced).
const silenceImportMeta = (options: { logOverride?: Record<string, string> }) => {
  options.logOverride = { ...options.logOverride, 'empty-import-meta': 'silent' };
};

export default defineConfig([
  { entry: ['src/index.ts', 'src/internals.ts', 'src/onnx.ts'], format: ['cjs', 'esm'], dts: true, clean: true, sourcemap: true, target: 'node20', esbuildOptions: silenceImportMeta },
  { entry: ['src/train-worker.ts'], format: ['cjs'], sourcemap: true, target: 'node20' },
]);
