#!/usr/bin/env node
// Builds the API docs site (docs/site/) from the TSDoc of every packages/*/src/index.ts plus the guide,
// and fails (exit 1) on an undocumented export, a broken {@link} or a broken relative link in the guide.
// Needs the packages built first (their .d.ts resolve cross-package types): `npm run docs` does both.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, findBrokenLinks, runTypedoc, undocumentedByPackage } from './lib.mjs';

const GUIDE_FILES = [
  join(ROOT, 'docs', 'README.md'),
  ...readdirSync(join(ROOT, 'docs', 'guide'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', 'guide', f)),
  join(ROOT, 'examples', 'web', 'README.md'),
];
const JSON_OUT = join(ROOT, 'docs', 'site', 'api.json');

function checkLinks() {
  const broken = findBrokenLinks(GUIDE_FILES);
  for (const b of broken) console.error(`broken link in ${b.file.slice(ROOT.length + 1)}: ${b.link} (${b.reason})`);
  return broken.length === 0;
}

function buildSite() {
  const t0 = Date.now();
  const { code, output } = runTypedoc(['--options', 'docs/typedoc.json', '--json', JSON_OUT]);
  process.stdout.write(output);
  const missing = undocumentedByPackage(output);
  for (const [pkg, names] of Object.entries(missing)) {
    console.error(`\n${pkg}: ${names.length} export(s) lack a doc comment:\n  ${names.join('\n  ')}`);
  }
  console.log(`typedoc finished in ${((Date.now() - t0) / 1000).toFixed(1)} s with exit code ${code}`);
  return code === 0;
}

// The house style asks for an @example on every exported function and class; typedoc cannot require a
// specific tag, so list the ones without (a note, not a failure: some exports are plain data types).
function reportMissingExamples() {
  const project = JSON.parse(readFileSync(JSON_OUT, 'utf8'));
  const hasExample = (c) => c?.blockTags?.some((t) => t.tag === '@example');
  const lacking = [];
  const visit = (r, pkg) => {
    const isModule = r.kind === 2;
    for (const child of r.children ?? []) {
      if (child.kind === 2) visit(child, child.name);
      else if (isModule && (child.kind === 64 || child.kind === 128)) {
        const ok = hasExample(child.comment) || (child.signatures ?? []).some((s) => hasExample(s.comment));
        if (!ok) lacking.push(`${pkg}.${child.name}`);
      }
    }
  };
  visit({ kind: 2, children: project.children ?? [project] }, project.name);
  if (lacking.length) console.log(`note: functions/classes without an @example: ${lacking.join(', ')}`);
}

const linksOk = checkLinks();
const siteOk = buildSite();
if (siteOk) reportMissingExamples();
if (!linksOk || !siteOk) {
  console.error('docs build FAILED');
  process.exit(1);
}
console.log('docs built at docs/site/index.html');
