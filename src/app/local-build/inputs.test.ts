import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyParameters, BuildInputError, nameFromFile, parseParameters, readComponentFiles, readRecipeFile, recipeKind } from './inputs.js';
import { isLoopbackHost, parseOutputSpec } from './build-output.js';
import { localBuildDataDir } from './local-engine.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-inputs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The error's message, which must not name the temp directory the files are in. */
function failure(fn: () => unknown, dir: string): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BuildInputError, `a BuildInputError, got ${String(err)}`);
    assert.ok(!err.message.includes(dir), `no host path in: ${err.message}`);
    return err.message;
  }
  assert.fail('no error');
}

test('the recipe file: its kind from its members, name and version defaulted, problems named by field and never by host path', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'my recipe.yaml');
  writeFileSync(file, 'parentImage: arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x\n');
  const machine = readRecipeFile(file);
  assert.equal(machine.kind, 'image');
  assert.equal(machine.request.name, 'my-recipe');
  assert.equal(machine.request.semanticVersion, '1.0.0');
  assert.deepEqual(machine.request.components, []);
  writeFileSync(file, JSON.stringify({ name: 'web', semanticVersion: '2.0.0', parentImage: 'x', containerType: 'DOCKER', components: [] }));
  assert.equal(readRecipeFile(file).kind, 'container');
  assert.equal(recipeKind({ targetRepository: {} }), 'container');

  assert.match(failure(() => readRecipeFile(path.join(dir, 'absent.yaml')), dir), /^--recipe: cannot read absent\.yaml \(no such file\)$/);
  writeFileSync(file, 'name: [unclosed\n');
  assert.match(failure(() => readRecipeFile(file), dir), /^--recipe my recipe\.yaml: not valid YAML or JSON: .*line 2/);
  writeFileSync(file, 'name: a\nname: b\n');
  assert.match(failure(() => readRecipeFile(file), dir), /not valid YAML or JSON/);
  writeFileSync(file, '- a list\n');
  assert.match(failure(() => readRecipeFile(file), dir), /^recipe: must be a mapping/);
  writeFileSync(file, 'parentImage: x\ncomponents:\n  - componentArn: arn:a\n  - parameters: []\n');
  assert.equal(failure(() => readRecipeFile(file), dir), 'recipe.components[1].componentArn: required (a component ARN)');
  writeFileSync(file, 'name: ok-name\n');
  assert.match(failure(() => readRecipeFile(file), dir), /^recipe\.parentImage: required/);
});

test('component files: the document name, else the file name; unreadable or malformed ones named by option and position', (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'a.yaml'), 'name: install-jq\nschemaVersion: 1.0\nphases: []\n');
  writeFileSync(path.join(dir, 'b c.yml'), 'schemaVersion: 1.0\nphases: []\n');
  const files = readComponentFiles([path.join(dir, 'a.yaml'), path.join(dir, 'b c.yml')]);
  assert.deepEqual(files.map((f) => [f.name, f.label]), [['install-jq', '--component #1 (a.yaml)'], ['b-c', '--component #2 (b c.yml)']]);
  assert.equal(nameFromFile('/x/y.json'), 'y--');
  writeFileSync(path.join(dir, 'bad.yaml'), 'phases: [\n');
  assert.match(failure(() => readComponentFiles([path.join(dir, 'a.yaml'), path.join(dir, 'bad.yaml')]), dir), /^--component #2 \(bad\.yaml\): not valid YAML or JSON/);
  assert.match(failure(() => readComponentFiles([path.join(dir, 'gone.yaml')]), dir), /^--component #1 \(gone\.yaml\): cannot read gone\.yaml \(no such file\)$/);
});

test('--parameters: NAME=VALUE pairs set on every component declaring the name; an undeclared name is an error naming it', () => {
  const parameters = parseParameters('greeting=hello world,url=http://x/?a=b');
  assert.deepEqual([...parameters], [['greeting', 'hello world'], ['url', 'http://x/?a=b']]);
  assert.equal(parseParameters(undefined).size, 0);
  assert.throws(() => parseParameters('novalue'), /--parameters: 'novalue' is not NAME=VALUE/);
  assert.throws(() => parseParameters('a=1,a=2'), /a is given twice/);
  const components = [{ componentArn: 'c1', parameters: [{ name: 'greeting', value: ['old'] }, { name: 'other', value: ['kept'] }] }, { componentArn: 'c2' }, { componentArn: 'c3' }];
  const out = applyParameters(components, [['greeting', 'other'], ['url'], ['greeting']], parameters);
  assert.deepEqual(out, [
    { componentArn: 'c1', parameters: [{ name: 'other', value: ['kept'] }, { name: 'greeting', value: ['hello world'] }] },
    { componentArn: 'c2', parameters: [{ name: 'url', value: ['http://x/?a=b'] }] },
    { componentArn: 'c3', parameters: [{ name: 'greeting', value: ['hello world'] }] },
  ]);
  assert.throws(() => applyParameters(components, [['greeting'], [], []], new Map([['nope', '1']])), /--parameters: no component of the recipe declares the parameter nope/);
});

test('--output targets by recipe kind', () => {
  assert.deepEqual(parseOutputSpec('oci:/tmp/out', 'container'), { kind: 'oci', dir: '/tmp/out', tag: 'latest' });
  assert.deepEqual(parseOutputSpec('oci:/tmp/out:v1', 'container'), { kind: 'oci', dir: '/tmp/out', tag: 'v1' });
  assert.deepEqual(parseOutputSpec('docker-archive:/tmp/a.tar:web:1', 'container'), { kind: 'docker-archive', file: '/tmp/a.tar', reference: 'web:1' });
  assert.deepEqual(parseOutputSpec('localhost:5000/team/web:1', 'container'), { kind: 'registry', reference: 'localhost:5000/team/web:1', host: 'localhost:5000' });
  assert.deepEqual(parseOutputSpec('docker://registry.example/web:1', 'container'), { kind: 'registry', reference: 'registry.example/web:1', host: 'registry.example' });
  assert.deepEqual(parseOutputSpec('disk:/tmp/m.qcow2', 'image'), { kind: 'disk', file: '/tmp/m.qcow2', format: 'qcow2' });
  assert.throws(() => parseOutputSpec('disk:/tmp/m.qcow2', 'container'), /--output: disk: is an output of image \(machine\) recipes/);
  assert.throws(() => parseOutputSpec('oci:/tmp/out', 'image'), /--output: oci is an output of container recipes/);
  assert.throws(() => parseOutputSpec('disk:/tmp/m.img', 'image'), /must end in \.qcow2/);
  assert.throws(() => parseOutputSpec('web:1', 'container'), /neither oci:DIR/);
  assert.throws(() => parseOutputSpec('localhost:5000/web', 'container'), /neither oci:DIR/);
  assert.ok(isLoopbackHost('127.0.0.1:5000') && isLoopbackHost('localhost') && isLoopbackHost('[::1]:5000'));
  assert.ok(!isLoopbackHost('registry.example:5000'));
});

test('the data directory of kiln build: the flag, $KILN_DATA_DIR, else the user cache directory', () => {
  assert.equal(localBuildDataDir('/d'), '/d');
  assert.equal(localBuildDataDir(undefined, { KILN_DATA_DIR: '/k', HOME: '/h' }), '/k');
  assert.equal(localBuildDataDir(undefined, { HOME: '/h' }), '/h/.cache/kiln');
  assert.equal(localBuildDataDir(undefined, { HOME: '/h', XDG_CACHE_HOME: '/c' }), '/c/kiln');
});
