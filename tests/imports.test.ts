/**
 * The shape of the house, checked: data flows one way (core ← video ← patches ← quantize ← model; metrics and
 * baselines read core, video and patches; the CLI reads anything), no package has an import cycle inside it, and
 * each built index.d.ts holds the public API only (nothing @internal, no plumbing that has its own subpath).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';

const root = resolve(__dirname, '..');
const packagesDir = join(root, 'packages');

/** Packages each package may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  core: [],
  video: ['core'],
  patches: ['core', 'video'],
  quantize: ['core', 'video', 'patches'],
  model: ['core', 'video', 'patches', 'quantize'],
  metrics: ['core', 'video', 'patches'],
  baselines: ['core', 'video', 'patches'],
  // models reach the coder through core's SteppableModel: it never imports model or baselines
  compress: ['core'],
  cli: ['core', 'video', 'patches', 'quantize', 'model', 'metrics', 'baselines', 'compress'],
};

/** Plumbing that lives behind a subpath (./internals, ./testing), never in a package's main entry. */
const NOT_PUBLIC = ['im2colConv', 'registerWasmKernels', 'createOutputLayer', 'assignClasses', 'partsOf', 'clusteredProblem', 'ModelParts'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'fixtures') out.push(...sourceFiles(p));
    } else if (/\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) && name !== 'test-helpers.ts') out.push(p);
  }
  return out;
}

/** Every module specifier a file imports or re-exports (static, type-only and dynamic). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)) {
    found.push(m[1] ?? m[2] ?? m[3]);
  }
  return found;
}

function resolveRelative(from: string, spec: string): string | null {
  const base = resolve(dirname(from), spec);
  for (const candidate of [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return null;
}

const packages = readdirSync(packagesDir).filter((p) => existsSync(join(packagesDir, p, 'src')));

test('the package list is the one the rules know', () => {
  expect(packages.sort()).toEqual(Object.keys(ALLOWED).sort());
});

describe.each(packages)('@vqvid/%s', (pkg) => {
  const files = sourceFiles(join(packagesDir, pkg, 'src'));

  it('imports only packages to its left', () => {
    const bad: string[] = [];
    for (const f of files) {
      for (const spec of specifiers(f)) {
        const m = /^@vqvid\/([a-z-]+)/.exec(spec);
        if (m && m[1] !== pkg && !ALLOWED[pkg].includes(m[1])) bad.push(`${f.slice(root.length + 1)} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('has no import cycle among its modules', () => {
    const graph = new Map<string, string[]>();
    for (const f of files) {
      graph.set(f, specifiers(f).filter((s) => s.startsWith('.')).map((s) => resolveRelative(f, s)).filter((x): x is string => x !== null));
    }
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((x) => x.slice(root.length + 1)).join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const g of graph.get(f) ?? []) visit(g, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('its built index.d.ts holds only the public API', () => {
    const dts = join(packagesDir, pkg, 'dist', 'index.d.ts');
    expect(existsSync(dts)).toBe(true); // npm test builds before jest runs
    const text = readFileSync(dts, 'utf8');
    expect(text).not.toContain('@internal');
    const leaked = NOT_PUBLIC.filter((name) => new RegExp(`\\b(function|class|const|interface|type)\\s+${name}\\b|\\b${name}\\s*(,|\\})`).test(text));
    expect(leaked).toEqual([]);
  });
});
