#!/usr/bin/env node
// The committed entry point of the `vqvid` command: it exists before the first build, so `npm ci` in a fresh
// clone links it (a bin pointing into dist/ would not be linked), and after `npm run build` it runs dist/bin.js.
try {
  require.resolve('../dist/bin.js');
} catch {
  process.stderr.write('vqvid: the command is not built yet; run `npm run build` in the repository first\n');
  process.exit(1);
}
require('../dist/bin.js');
