// Browser stand-in for `pngjs` (wired by the alias in vite.config.ts). @vqvid/video's png module imports it
// for PNG encoding, which the page never does; the real package would pull Node's stream and zlib modules
// into the bundle and fail as the page loads. Any use fails loudly instead.
export const PNG = new Proxy(
  {},
  {
    get() {
      throw new Error('PNG encoding (pngjs) is not available in the browser demo');
    },
  },
);
