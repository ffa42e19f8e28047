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
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
