import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

/** The checkout's root, found upward from this file whether it runs from test/ or dist/. */
function repoRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error('package.json not found');
}

const root = repoRoot();
// The layer rule needs no type information; without the project service a lint takes milliseconds, not seconds.
const eslint = new ESLint({
  cwd: root,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } }, rules: { '@typescript-eslint/no-floating-promises': 'off' } },
});

async function layerErrors(filePath: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: path.join(root, filePath) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('eslint refuses an import from domain/ up into service/', async () => {
  const errors = await layerErrors('src/domain/layer-fixture.ts', "import { x } from '../service/x.js';\nexport const y = x;\n");
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? '', /domain\/ may import only itself/);
});

test('eslint refuses a sideways import between peers and a type-only upward import', async () => {
  assert.equal((await layerErrors('src/pipelines/layer-fixture.ts', "import { x } from '../lifecycle/x.js';\nexport const y = x;\n")).length, 1);
  assert.equal((await layerErrors('src/builder/stages/layer-fixture.ts', "import type { X } from '../../service/types.js';\nexport type Y = X;\n")).length, 1);
});

test('eslint lets a layer import downward, and lets tests import anything', async () => {
  assert.deepEqual(await layerErrors('src/service/layer-fixture.ts', "import { x } from '../pipelines/x.js';\nexport const y = x;\n"), []);
  assert.deepEqual(await layerErrors('src/domain/layer-fixture.test.ts', "import { x } from '../cli/x.js';\nexport const y = x;\n"), []);
});
