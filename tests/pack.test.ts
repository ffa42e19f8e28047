/**
 * Packs every published package with `npm pack`, installs the tarballs into a scratch consumer project, and
 * checks that each package loads through both `require` (CJS) and `import` (ESM) with the same exports, and
 * that its type declarations are found. Needs the packages built (`npm test` builds first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const pkgs = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'dist', 'index.js')));

describe('packed tarballs in a consumer project', () => {
  it('load with require and import, with types', () => {
    expect(pkgs).toEqual(expect.arrayContaining(['core', 'patches']));
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-consumer-'));
    const tarballs = pkgs.map((p) => {
      const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: join(root, 'packages', p) });
      return join(dir, out.toString().trim().split('\n').pop()!);
    });
    const deps: Record<string, string> = {};
    pkgs.forEach((p, i) => (deps[`@vqvid/${p}`] = `file:${tarballs[i]}`));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: deps }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir, stdio: 'pipe' });
    const names = pkgs.map((p) => `@vqvid/${p}`);
    writeFileSync(join(dir, 'cjs.cjs'), `const out = {}; for (const n of ${JSON.stringify(names)}) out[n] = Object.keys(require(n)).sort(); console.log(JSON.stringify(out));`);
    writeFileSync(join(dir, 'esm.mjs'), `const out = {}; for (const n of ${JSON.stringify(names)}) out[n] = Object.keys(await import(n)).filter((k) => k !== 'default').sort(); console.log(JSON.stringify(out));`);
    const cjs = JSON.parse(execFileSync('node', ['cjs.cjs'], { cwd: dir }).toString());
    const esm = JSON.parse(execFileSync('node', ['esm.mjs'], { cwd: dir }).toString());
    expect(esm).toEqual(cjs);
    expect(cjs['@vqvid/core']).toEqual(expect.arrayContaining(['Rng', 'VqvidError', 'assertVideo']));
    expect(cjs['@vqvid/patches']).toEqual(expect.arrayContaining(['extractPatches', 'reassemble']));
    for (const n of names) {
      const pj = JSON.parse(readFileSync(join(dir, 'node_modules', n, 'package.json'), 'utf8'));
      expect(existsSync(join(dir, 'node_modules', n, pj.exports['.'].import.types))).toBe(true);
      expect(existsSync(join(dir, 'node_modules', n, pj.exports['.'].require.types))).toBe(true);
    }
  });
});
