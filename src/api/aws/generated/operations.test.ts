import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ERRORS, OPERATIONS, STRUCTURES } from './operations.js';

/** The checkout's root, found upward from this file whether it runs from src/ or dist/. */
function repoRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error('package.json not found');
}

const root = repoRoot();
const { generateOperationsSource, OUTPUT_PATH } = (await import(
  pathToFileURL(path.join(root, 'scripts/generate-operations.mjs')).href
)) as typeof import('../../../../scripts/generate-operations.mjs');

test('the committed operation table matches the installed SDK (run scripts/generate-operations.mjs)', () => {
  const committed = readFileSync(path.join(root, OUTPUT_PATH), 'utf8');
  assert.equal(committed, generateOperationsSource());
});

test('the table holds all 77 Image Builder operations with their input and output structures', () => {
  assert.equal(OPERATIONS.length, 77);
  assert.equal(new Set(OPERATIONS.map((o) => o.name)).size, 77);
  for (const op of OPERATIONS) {
    assert.ok(STRUCTURES[op.input], `${op.name} input ${op.input}`);
    assert.ok(STRUCTURES[op.output], `${op.name} output ${op.output}`);
    assert.equal(op.status, 200);
  }
});

test('known operations carry the SDK http bindings', () => {
  const byName = new Map(OPERATIONS.map((o) => [o.name, o]));
  assert.deepEqual(
    { method: byName.get('CreateComponent')?.method, path: byName.get('CreateComponent')?.path },
    { method: 'PUT', path: '/CreateComponent' },
  );
  const get = byName.get('GetComponent');
  assert.equal(get?.method, 'GET');
  assert.equal(get?.path, '/GetComponent');
  assert.deepEqual(STRUCTURES.GetComponentRequest?.members, [
    { name: 'componentBuildVersionArn', type: 'string', location: 'query', locationName: 'componentBuildVersionArn' },
  ]);
  assert.equal(byName.get('DeleteComponent')?.method, 'DELETE');
  assert.equal(byName.get('TagResource')?.path, '/tags/{resourceArn}');
  const untag = STRUCTURES.UntagResourceRequest?.members;
  assert.deepEqual(untag?.map((m) => [m.name, m.location]), [['resourceArn', 'label'], ['tagKeys', 'query']]);
  const create = STRUCTURES.CreateComponentRequest;
  assert.deepEqual(create?.required, ['name', 'semanticVersion', 'platform']);
  assert.equal(create?.members.find((m) => m.name === 'clientToken')?.idempotencyToken, true);
});

test('modeled errors carry their HTTP status and fault', () => {
  const byName = new Map(ERRORS.map((e) => [e.name, e]));
  assert.deepEqual(byName.get('ResourceNotFoundException'), { name: 'ResourceNotFoundException', status: 404, fault: 'client' });
  assert.equal(byName.get('DryRunOperationException')?.status, 412);
  assert.equal(byName.get('ServiceQuotaExceededException')?.status, 402);
  assert.deepEqual(byName.get('ServiceUnavailableException'), { name: 'ServiceUnavailableException', status: 503, fault: 'server' });
});
