#!/usr/bin/env node
// Proves the docs checks in docs/build.mjs can fail: typedoc with the site's validation settings
// (docs/typedoc.base.json) passes a fully documented fixture package and rejects an undocumented export
// and a broken {@link}; the guide link checker rejects a missing file and a missing anchor.
// Run: node docs/check-selftest.mjs
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, findBrokenLinks, runTypedoc, undocumentedByPackage } from './lib.mjs';

const FIXTURES = join(ROOT, 'docs', 'test-fixture');

function typedocOn(fixture) {
  const out = mkdtempSync(join(tmpdir(), 'vqvid-docs-selftest-'));
  try {
    return runTypedoc(['--options', 'docs/test-fixture/typedoc.json', '--entryPoints', `docs/test-fixture/${fixture}`, '--out', out]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

test('a fully documented package passes', () => {
  const r = typedocOn('documented');
  assert.equal(r.code, 0, r.output);
});

test('an undocumented export fails the build and is named', () => {
  const r = typedocOn('undocumented');
  assert.notEqual(r.code, 0, r.output);
  assert.deepEqual(undocumentedByPackage(r.output), {
    '@vqvid-docs-fixture/undocumented': ['undocumentedSubtract (CallSignature)'],
  });
});

test('a {@link} to a missing name fails the build', () => {
  const r = typedocOn('badlink');
  assert.notEqual(r.code, 0, r.output);
  assert.match(r.output, /Failed to resolve link to "noSuchFunction"/);
});

test('relative links: good ones pass, a missing file and a missing anchor are reported', () => {
  assert.deepEqual(findBrokenLinks([join(FIXTURES, 'links', 'good.md')]), []);
  const broken = findBrokenLinks([join(FIXTURES, 'links', 'broken.md')]);
  assert.deepEqual(
    broken.map((b) => [b.link, b.reason]),
    [
      ['no-such-page.md', 'file does not exist'],
      ['target.md#no-such-section', 'no heading with anchor #no-such-section'],
    ],
  );
});
