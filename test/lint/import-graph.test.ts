import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The checkout's root, found upward from this file whether it runs from test/ or dist/. */
function repoRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error('package.json not found');
}

const root = repoRoot();
const { checkImports, cycles, upwardImports } = (await import(
  pathToFileURL(path.join(root, 'scripts/check-imports.mjs')).href
)) as typeof import('../../scripts/check-imports.mjs');

test('no import in src/ or web/src runs up the layers or closes a cycle (scripts/check-imports.mjs)', () => {
  const r = checkImports(root);
  assert.ok(r.files > 100, `only ${r.files} files found: is the root right?`);
  assert.deepEqual(r.upward, [], 'upward imports');
  assert.deepEqual(r.cycles, [], 'import cycles that are not allow-listed');
  assert.deepEqual(r.staleAllowances, [], 'allow-listed cycles that no longer exist');
});

test('the check finds a cycle and an upward import in a made-up graph', () => {
  const p = (...parts: string[]) => path.join(...parts);
  const graph = new Map([
    [p('src', 'domain', 'a.ts'), [p('src', 'service', 'x.ts')]],
    [p('src', 'service', 'x.ts'), [p('src', 'domain', 'a.ts')]],
    [p('src', 'service', 'x.test.ts'), [p('src', 'cli', 'y.ts')]],
    [p('src', 'cli', 'y.ts'), [p('src', 'service', 'x.ts')]],
  ]);
  assert.deepEqual(upwardImports(graph), [`${p('src', 'domain', 'a.ts')} -> ${p('src', 'service', 'x.ts')}`]);
  assert.deepEqual(cycles(graph), [`${p('src', 'domain', 'a.ts')} | ${p('src', 'service', 'x.ts')}`]);
});
