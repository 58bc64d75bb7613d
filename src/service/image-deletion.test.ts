import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FsBlobStore } from '../artifacts/blob-store.js';
import { FsStepLogStore } from '../builder/records/execution-records.js';
import { addImageRecord, tempStore } from '../lifecycle/testing.js';
import { freeImageOutputs, type ImageOutputPort } from './image-deletion.js';

test('freeImageOutputs deletes the image build\'s step logs; a failed deletion is left and logged, and the rest still goes', async (t) => {
  const { store, dir } = tempStore(t);
  const logs = new FsStepLogStore(path.join(dir, 'logs'));
  const image = await addImageRecord(store, { name: 'app', dateCreated: new Date('2026-03-01T00:00:00Z') });
  const other = await addImageRecord(store, { name: 'app', dateCreated: new Date('2026-03-01T00:00:00Z') });
  const step = 'step-00000000-0000-4000-8000-000000000001';
  for (const arn of [image.arn, other.arn]) {
    const log = await logs.create(arn, step);
    log.append('2026-03-01T00:00:00.000Z stdout hello\n');
    await log.close();
  }
  const lines: string[] = [];
  const port: ImageOutputPort = { store, blobs: new FsBlobStore(path.join(dir, 'blobs')), registryHost: () => 'kiln.test:1', log: (text) => lines.push(text), deleteLogs: (arn) => logs.deleteImageLogs(arn) };
  const freed = await freeImageOutputs(port, image);
  assert.deepEqual(freed.left, []);
  assert.equal(existsSync(path.join(dir, 'logs', 'app_1.0.0_1')), false, 'the deleted image\'s log folder is gone');
  assert.equal((await logs.read(other.arn, step, 0)).text, 'hello\n', 'another build\'s logs stay');

  const failing = await freeImageOutputs({ ...port, deleteLogs: () => Promise.reject(new Error('bucket unreachable')) }, other);
  assert.deepEqual(failing.left, [`the step logs of ${other.arn}: bucket unreachable`]);
  assert.match(lines.join(''), /left: the step logs of .*: bucket unreachable/);
});
