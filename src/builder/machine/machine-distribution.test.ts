import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { startLocalS3 } from '../../../test/helpers/s3rver.js';
import { DEFAULT_CONFIG } from '../../app/server-config.js';
import { openExportUploads } from '../../app/shared-objects.js';
import { LocalDiskStore } from '../../artifacts/disk/disk-store.js';
import { addImageRecord, REGION, tempStore } from '../../lifecycle/testing.js';
import { distributeMachineRegion } from './machine-distribution.js';

const exportTo = (s3Bucket: string) => ({ region: REGION, index: 0, distribution: { region: REGION, s3ExportConfiguration: { roleName: 'kiln', diskImageFormat: 'RAW', s3Bucket, s3Prefix: 'team/' } } });

test('s3ExportConfiguration: a bucket that is not an exportBuckets directory is uploaded to the objectStore server; the scratch copy goes', async (t) => {
  const { store, dir } = tempStore(t);
  const s3 = await startLocalS3(path.join(dir, 's3'), ['exports']);
  t.after(() => s3.stop());
  const { endpoint, region, accessKeyId, secretAccessKey } = s3.settings;
  const exportUpload = openExportUploads({ ...DEFAULT_CONFIG, objectStore: { bucket: 'kiln', endpoint: endpoint!, region: region!, forcePathStyle: true, accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! } })!;
  const disks = new LocalDiskStore(path.join(dir, 'disks'));
  const raw = path.join(dir, 'built.raw');
  await writeFile(raw, Buffer.alloc(256 * 1024, 'exported disk '));
  const content = await readFile(raw);
  const stored = await disks.adopt(raw);
  const disk = { ...stored, format: 'raw' as const, rootPartUuid: '00000000-0000-0000-0000-000000000000', kernelVersion: '6.1.0' };
  const image = await addImageRecord(store, { name: 'web', type: 'AMI', dateCreated: new Date('2026-12-06T10:00:00Z') });
  const workRoot = path.join(dir, 'work');
  mkdirSync(workRoot);
  const deps = { store, disks, exportBuckets: {}, exportUpload, workRoot, regions: [REGION] };

  const out = await distributeMachineRegion(deps, image, { disk }, exportTo('exports'), () => undefined, new AbortController().signal);
  const ami = out.amis[0]!.image!;
  assert.deepEqual(out.exports, [{ region: REGION, format: 'RAW', bucket: 'exports', key: `team/${ami}.raw`, path: `s3://exports/team/${ami}.raw` }]);
  const object = await s3.client.send(new GetObjectCommand({ Bucket: 'exports', Key: `team/${ami}.raw` }));
  assert.deepEqual(Buffer.from(await object.Body!.transformToByteArray()), content);
  assert.deepEqual(readdirSync(workRoot), [], 'the converted file was removed after the upload');

  await assert.rejects(
    distributeMachineRegion({ ...deps, exportUpload: undefined }, image, { disk }, exportTo('elsewhere'), () => undefined, new AbortController().signal),
    /distributions\[0\]\.s3ExportConfiguration\.s3Bucket: no bucket "elsewhere" in Kiln's configuration \(exportBuckets\), and no objectStore to export to/,
  );
  await assert.rejects(
    distributeMachineRegion(deps, image, { disk }, exportTo('missing-bucket'), () => undefined, new AbortController().signal),
    (err: Error) => /s3ExportConfiguration: exporting to s3:\/\/missing-bucket\/team\/ami-[0-9a-f]+\.raw failed/.test(err.message) && !err.message.includes(dir),
  );
  assert.deepEqual(readdirSync(workRoot), [], 'and after a failed one');
});
