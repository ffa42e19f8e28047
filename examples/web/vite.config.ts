import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Cross-origin isolation (COOP/COEP) lets the page use SharedArrayBuffer (threaded wasm); the end-to-end
// test's server sends the same headers.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const shim = (name: string) => fileURLToPath(new URL(`./src/shims/${name}.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // See src/shims/: @vqvid/video's entry pulls in Node-only modules.
    alias: [
      { find: /^@vqvid\/video$/, replacement: shim('video') },
      { find: /^pngjs$/, replacement: shim('pngjs') },
    ],
  },
  server: { headers: isolation },
  preview: { headers: isolation },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
