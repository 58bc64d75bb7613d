import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parse } from 'yaml';
import { validateInputs } from '../../../test/helpers/action-context.js';
import { copyFile } from './copy-file.js';
import { createFile } from './create-file.js';
import { deleteFile } from './delete-file.js';
import { fileModules } from './file-modules.js';
import { setFileOwner } from './set-file-owner.js';
import { setFolderPermissions } from './set-folder-permissions.js';

const CORPUS = '/work/shared/conformance/components';
const EXAMPLES = [
  'append-file',
  'copy-file',
  'copy-folder',
  'create-file',
  'create-symlink',
  'file-and-folder-permissions',
  'list-files',
  'move-file',
  'move-folder',
  'read-file',
  'set-file-owner',
  'set-folder-owner',
];

interface Step {
  name: string;
  action: string;
  inputs: unknown;
}

async function steps(file: string): Promise<Step[]> {
  const doc = parse(await readFile(`${CORPUS}/toadslop__${file}.yaml`, 'utf8')) as { phases: { steps: Step[] }[] };
  return doc.phases.flatMap((p) => p.steps);
}

const byName = new Map(fileModules.map((m) => [m.name, m]));

void test('fileModules lists the 17 file-system modules once each, all taking a list of input maps', () => {
  assert.equal(fileModules.length, 17);
  assert.equal(byName.size, 17);
  for (const m of fileModules) assert.equal(m.inputShape, 'list', m.name);
  for (const name of ['CreateSymlink', 'SetFileOwner', 'SetFolderOwner', 'SetFilePermissions', 'SetFolderPermissions']) {
    assert.deepEqual(byName.get(name)?.platforms, ['linux', 'macos'], name);
  }
});

for (const file of EXAMPLES) {
  void test(`toadslop ${file}.yaml: every step's inputs validate`, async () => {
    const all = await steps(file);
    assert.ok(all.length > 0);
    for (const step of all) {
      const module = byName.get(step.action);
      assert.ok(module, `${step.name}: ${step.action} is a file module`);
      assert.deepEqual(validateInputs(module, step.inputs), [], step.name);
    }
  });
}

void test('toadslop set-file-encoding.yaml: the step with an encoding validates', async () => {
  const [withEncoding] = await steps('set-file-encoding');
  assert.ok(withEncoding);
  assert.deepEqual(validateInputs(byName.get('SetFileEncoding')!, withEncoding.inputs), []);
});

void test('validation names unknown keys and missing required fields with their paths', () => {
  const issues = validateInputs(copyFile, [{ source: '/a' }, { source: '/b', destination: '/c', overwirte: false }]);
  assert.deepEqual(
    issues.map((i) => i.path),
    ['inputs[0].destination', 'inputs[1].overwirte'],
  );
  assert.match(issues[0]!.message, /required/);
  assert.match(issues[1]!.message, /unknown input "overwirte"/);
  assert.deepEqual(
    validateInputs(setFileOwner, [{ path: '/x' }]).map((i) => i.path),
    ['inputs[0].owner'],
  );
});

void test('validation refuses a single map, bad types, modes, encodings and owners', () => {
  assert.equal(validateInputs(createFile, { path: '/x' }).length, 1);
  const issues = validateInputs(createFile, [
    { path: '/x', overwrite: 'maybe', permissions: '0999', encoding: 'latin1', owner: 'root:root' },
  ]);
  assert.deepEqual(issues.map((i) => i.path).sort(), [
    'inputs[0].encoding',
    'inputs[0].overwrite',
    'inputs[0].owner',
    'inputs[0].permissions',
  ]);
  assert.deepEqual(validateInputs(setFolderPermissions, [{ path: '/d', permissions: 755, recursive: 'FALSE' }]), []);
  assert.deepEqual(validateInputs(createFile, [{ path: '/x', owner: '--reference=/etc' }]).map((i) => i.path), [
    'inputs[0].owner',
  ]);
});

void test('validation accepts templates before substitution', () => {
  assert.deepEqual(validateInputs(createFile, [{ path: '{{ build.S.outputs.stdout }}', overwrite: '{{ x }}' }]), []);
});

void test('a wildcard is allowed only in the file name, for either separator', () => {
  assert.deepEqual(validateInputs(deleteFile, [{ path: '/var/log/*.log' }, { path: 'C:\\Logs\\*log' }]), []);
  const issues = validateInputs(deleteFile, [{ path: '/var/*/x.log' }, { path: 'C:\\Lo*\\x' }]);
  assert.deepEqual(
    issues.map((i) => i.path),
    ['inputs[0].path', 'inputs[1].path'],
  );
  assert.match(issues[0]!.message, /wildcard/);
  assert.equal(validateInputs(copyFile, [{ source: '/a*/b', destination: '/c/' }]).length, 1);
});
