/**
 * Packs every published package once with `npm pack`, lints each tarball as `publint --strict` and `attw --pack`
 * do, and installs the tarballs, without resolution flags, into a scratch consumer app that is on tfjs 4.21 (older
 * than the monorepo's 4.22). Checks that npm accepts the peer ranges, that the app ends up with exactly one
 * tfjs-core (the one vqvid's backends register into), and that each package loads through both `require`
 * (CJS) and `import` (ESM) with the same exports and with its type declarations. Needs the packages built
 * (`npm test` builds first). Installs come from the npm cache when it holds everything (`--offline`), so the
 * test needs no network once the cache is warm; everything it writes lives in one temp folder removed after.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const pkgs = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'dist', 'index.js')));
const names = pkgs.map((p) => `@vqvid/${p}`);
/** The tfjs an app on the previous minor has: tfjs's own packages pin each other, so it keeps them together. */
const APP_TFJS = ['tfjs-core', 'tfjs-layers', 'tfjs-backend-cpu', 'tfjs-backend-wasm'];
const APP_TFJS_RANGE = '~4.21.0';

let tmp = '';
let tarballs: Record<string, string> = {};

/** Runs a command, returning its exit status and all its output (so a failure shows why). */
function run(cmd: string, args: string[], cwd: string): { status: number; output: string } {
  try {
    const out = execFileSync(cmd, args, { cwd, stdio: 'pipe', encoding: 'utf8' });
    return { status: 0, output: out };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string; message: string };
    return { status: err.status ?? 1, output: `${err.stdout ?? ''}${err.stderr ?? ''}` || err.message };
  }
}

/** `npm install` from the cache alone when it has everything; only what is missing comes from the registry. */
function npmInstall(cwd: string): void {
  const common = ['install', '--no-audit', '--no-fund', '--ignore-scripts'];
  if (run('npm', [...common, '--offline'], cwd).status === 0) return;
  // Without network a miss should fail in seconds, not after npm's default retries (minutes).
  const online = run('npm', [...common, '--prefer-offline', '--fetch-retries=1', '--fetch-retry-maxtimeout=10000', '--fetch-timeout=60000'], cwd);
  if (online.status !== 0) throw new Error(`npm install failed in the consumer project:\n${online.output}`);
}

/** Every `node_modules/**\/<scope>/<name>/package.json` under `dir`, nested copies included. */
function findInstalled(dir: string, scope: string, name: string): string[] {
  const found: string[] = [];
  const walk = (nm: string) => {
    if (!existsSync(nm)) return;
    const pj = join(nm, scope, name, 'package.json');
    if (existsSync(pj)) found.push(pj);
    for (const entry of readdirSync(nm)) {
      const dirs = entry.startsWith('@') ? readdirSync(join(nm, entry)).map((d) => join(nm, entry, d)) : [join(nm, entry)];
      for (const d of dirs) walk(join(d, 'node_modules'));
    }
  };
  walk(join(dir, 'node_modules'));
  return found;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'vqvid-pack-'));
  const dest = join(tmp, 'tarballs');
  mkdirSync(dest);
  const ws = pkgs.flatMap((p) => ['--workspace', `packages/${p}`]);
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dest, ...ws], { cwd: root, encoding: 'utf8', stdio: 'pipe' })) as { name: string; filename: string }[];
  tarballs = Object.fromEntries(packed.map((t) => [t.name, join(dest, t.filename)]));
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('packed tarballs', () => {
  it('pack every built package, each with LICENSE and README', () => {
    expect(pkgs).toEqual(expect.arrayContaining(['core', 'patches']));
    expect(Object.keys(tarballs).sort()).toEqual([...names].sort());
    for (const n of names) {
      const files = execFileSync('tar', ['tzf', tarballs[n]], { encoding: 'utf8' }).split('\n');
      expect({ n, license: files.includes('package/LICENSE'), readme: files.includes('package/README.md') }).toEqual({ n, license: true, readme: true });
    }
  });

  it('pass publint --strict and attw --pack (node10, node16 CJS/ESM, bundler)', () => {
    // One process lints every tarball with publint's and attw's own libraries (see lint-packages.mjs).
    const lint = run('node', [join(__dirname, 'lint-packages.mjs'), ...names.map((n) => tarballs[n])], root);
    expect(lint.status).toBe(0);
    expect(JSON.parse(lint.output)).toEqual(Object.fromEntries(names.map((n) => [n, []])));
  }, 120_000);

  it(`install into an app on tfjs ${APP_TFJS_RANGE} without flags, with one tfjs-core, and load with require and import, with types`, () => {
    const dir = join(tmp, 'consumer');
    mkdirSync(dir);
    const deps: Record<string, string> = {};
    for (const t of APP_TFJS) deps[`@tensorflow/${t}`] = APP_TFJS_RANGE;
    for (const n of names) deps[n] = `file:${tarballs[n]}`;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: deps }));
    npmInstall(dir);

    const cores = findInstalled(dir, '@tensorflow', 'tfjs-core');
    expect(cores.map((f) => f.slice(dir.length + 1))).toEqual([join('node_modules', '@tensorflow', 'tfjs-core', 'package.json')]);
    expect(JSON.parse(readFileSync(cores[0], 'utf8')).version).toMatch(/^4\.21\./);

    // Loading @vqvid/model registers its backends; they must land in the app's tfjs engine.
    writeFileSync(join(dir, 'engine.cjs'), `require('@vqvid/model'); const tf = require('@tensorflow/tfjs-core'); console.log(JSON.stringify(Object.keys(tf.engine().registryFactory).sort()));`);
    expect(JSON.parse(execFileSync('node', ['engine.cjs'], { cwd: dir, encoding: 'utf8' }))).toEqual(expect.arrayContaining(['cpu', 'wasm']));

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
  }, 300_000);
});
