// Shared by docs/build.mjs and docs/check-selftest.mjs, so the self-test exercises the very code the
// build runs rather than a copy of it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (docs/ sits one level below it). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const typedocBin = join(dirname(createRequire(import.meta.url).resolve('typedoc/package.json')), 'bin', 'typedoc');

/**
 * Runs the typedoc CLI from the repository root with `args`; returns its exit code and combined output
 * (colour codes stripped so callers can search it).
 */
export function runTypedoc(args) {
  const r = spawnSync(process.execPath, [typedocBin, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '');
  return { code: r.status ?? 1, output };
}

/**
 * Turns typedoc's "X (Kind), defined in pkg/src/file.ts, does not have any documentation" warnings into
 * `{ pkg: ['X (Kind)', ...] }` so a failing build says which exports of which package lack docs.
 */
export function undocumentedByPackage(output) {
  const byPkg = {};
  const re = /^\[warning\] (.+?), defined in (.+?), does not have any documentation/gm;
  for (const m of output.matchAll(re)) {
    const pkg = m[2].match(/^(@[^/]+\/[^/]+|[^/]+)/)[1];
    (byPkg[pkg] ??= []).push(m[1]);
  }
  return byPkg;
}

// Inline links `[text](target)` and `<img src="target">`; reference-style links are not used in the guide.
const LINK_RE = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|<img[^>]+src="([^"]+)"/g;

/** GitHub-style heading anchor: lower case, punctuation dropped, spaces to dashes. */
export function slugify(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file) {
  const text = stripCode(readFileSync(file, 'utf8'));
  return new Set([...text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => slugify(m[1])));
}

// Code blocks and spans may legitimately contain `[x](y)`-looking text that is not a link.
function stripCode(text) {
  return text.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').replace(/`[^`\n]*`/g, '');
}

/**
 * Checks every relative link (and `#anchor`) in the given markdown files: the target file must exist and,
 * for markdown targets, the anchor must match a heading. Returns `[{ file, link, reason }]`, empty when all
 * resolve. External links (scheme:) are not fetched.
 */
export function findBrokenLinks(files) {
  const broken = [];
  for (const file of files) {
    const text = stripCode(readFileSync(file, 'utf8'));
    for (const m of text.matchAll(LINK_RE)) {
      const link = m[1] ?? m[2];
      const reason = checkLink(file, link);
      if (reason) broken.push({ file, link, reason });
    }
  }
  return broken;
}

function checkLink(file, link) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link)) return null;
  const [path, anchor] = link.split('#');
  const target = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
  if (!existsSync(target)) return 'file does not exist';
  if (anchor && statSync(target).isFile() && target.endsWith('.md') && !anchorsOf(target).has(anchor)) {
    return `no heading with anchor #${anchor}`;
  }
  return null;
}
