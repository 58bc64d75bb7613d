import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../app/server-start.js';
import type { ResourceRecord } from '../../store/store.js';
import { advance, ImageStateChanged } from './image-record.js';
import { dateVersion } from '../bases/managed-bases.js';
import { snapshotHistory } from './parent-image.js';
import { distributionTargets, externalRegistryOf } from './registry-glue.js';

function image(data: Record<string, unknown>): ResourceRecord {
  return { arn: 'arn:aws:imagebuilder:local:111122223333:image/web/1.2.3/4', accountId: '111122223333', region: 'local', type: 'image', name: 'web', version: '1.2.3', build: 4, data, createdAt: '' };
}

test('distribution targets: the recipe repository with the version tag, and each region with its containerTags', () => {
  const targets = distributionTargets(
    image({
      containerRecipe: { targetRepository: { service: 'ECR', repositoryName: 'team/web' } },
      distributionConfiguration: {
        distributions: [
          { region: 'local', containerDistributionConfiguration: { targetRepository: { service: 'ECR', repositoryName: 'team/web' }, containerTags: ['latest', 'stable'] } },
          { region: 'other', containerDistributionConfiguration: { targetRepository: { service: 'ECR', repositoryName: 'reg.example:5000/web' } } },
          { region: 'third', amiDistributionConfiguration: {} },
        ],
      },
    }),
  );
  assert.deepEqual(targets, [
    { region: 'local', repositoryName: 'team/web', tags: ['1.2.3-4', 'latest', 'stable'] },
    { region: 'other', repositoryName: 'reg.example:5000/web', tags: ['1.2.3-4'] },
  ]);
});

test('a repository name is external only when it starts with a configured host, a port or localhost', () => {
  assert.deepEqual(externalRegistryOf('127.0.0.1:5000/a/b', []), { registry: '127.0.0.1:5000', repository: 'a/b' });
  assert.deepEqual(externalRegistryOf('registry.example/a', ['registry.example']), { registry: 'registry.example', repository: 'a' });
  assert.deepEqual(externalRegistryOf('localhost/a', []), { registry: 'localhost', repository: 'a' });
  assert.equal(externalRegistryOf('team.app/web', []), undefined, 'ECR names may have dots');
  assert.equal(externalRegistryOf('web', ['web']), undefined);
});

test('snapshot history keeps one filesystem entry for the one snapshot layer', () => {
  const created = '2026-01-01T00:00:00.000Z';
  const h = snapshotHistory(
    [
      { created_by: 'RUN a', comment: 'buildkit.dockerfile.v0' },
      { created_by: 'ENV X=1', comment: 'buildkit.dockerfile.v0', empty_layer: true },
      { created_by: 'RUN b', comment: 'buildkit.dockerfile.v0' },
    ],
    created,
  );
  assert.deepEqual(h.map((e) => Boolean(e.empty_layer)), [true, true, false]);
  assert.ok(h.every((e) => e.created === created));
  const none = snapshotHistory([{ created_by: 'ENV X=1', comment: 'c', empty_layer: true }], created);
  assert.equal(none.filter((e) => !e.empty_layer).length, 1, 'a snapshot layer always has its history entry');
});

test('managed base versions are dates', () => {
  assert.equal(dateVersion(new Date('2026-11-27T10:00:00Z')), '2026.11.27');
});

test('advance refuses to overwrite a cancel and keeps data changes atomic', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-engine-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(dir);
  t.after(() => store.close());
  const { record } = await store.createResource({ accountId: '111122223333', region: 'local', type: 'image', name: 'web', version: '1.0.0', arn: 'arn:aws:imagebuilder:local:111122223333:image/web/1.0.0', build: 'assign', data: { state: { status: 'PENDING' } } });
  const creating = await advance(store, record.arn, 'CREATING', { patch: { buildPlan: { x: 1 } } });
  assert.deepEqual(creating.data.state, { status: 'CREATING' });
  assert.deepEqual(creating.data.buildPlan, { x: 1 });
  await store.updateResource(record.arn, (c) => ({ ...c.data, state: { status: 'CANCELLED', reason: 'by test' } }));
  await assert.rejects(advance(store, record.arn, 'BUILDING'), (err: unknown) => err instanceof ImageStateChanged && err.current.status === 'CANCELLED');
  assert.deepEqual((await store.getResource(record.arn))!.data.state, { status: 'CANCELLED', reason: 'by test' });
});

test('a timed-out signal is a failure, any other abort a cancel', async () => {
  const { abortKind } = await import('./step-runner.js');
  assert.equal(abortKind(new AbortController().signal), undefined);
  const c = new AbortController();
  c.abort(new Error('cancelled'));
  assert.equal(abortKind(c.signal), 'cancelled');
  const t = AbortSignal.timeout(1);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(abortKind(t), 'timeout');
  assert.equal(abortKind(AbortSignal.any([new AbortController().signal, t])), 'timeout', 'combined signals keep the reason');
});
