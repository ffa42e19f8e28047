import { defineConfig } from 'vite';

// Cross-origin isolation (COOP/COEP) lets the page use SharedArrayBuffer (threaded wasm); the end-to-end
// test's server sends the same headers.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  // @vqvid/video resolves to its portable entry through the `browser` export condition (no ffmpeg, no pngjs).
  server: { headers: isolation },
  preview: { headers: isolation },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      // tfjs's modules are imported both statically (the backends) and dynamically (quantize's optional
      // tfjs-wasm backend): Rollup keeps them in the main chunk and says so in one warning listing every tfjs
      // file (a 35 KB line). That placement is what we want, so that one warning is dropped.
      onwarn(warning, warn) {
        if (/is dynamically imported by .* but also statically imported by/.test(warning.message)) return;
        warn(warning);
      },
    },
  },
});
