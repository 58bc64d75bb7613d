import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { makeContext, runAction, scratchDir, validateInputs } from '../../../test/helpers/action-context.js';
import { startLocalS3, type LocalS3 } from '../../../test/helpers/s3rver.js';
import { createS3Upload } from './s3-upload.js';
import { ActionFailure } from './types.js';

let s3: LocalS3;
let dataDir: string;
let s3Upload: ReturnType<typeof createS3Upload>;
let bucketCount = 0;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'kiln-s3rver-'));
  s3 = await startLocalS3(dataDir, []);
  s3Upload = createS3Upload(() => s3.settings);
});

after(async () => {
  await s3.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A fresh bucket per test, so each test sees only its own uploads. */
async function freshBucket(): Promise<string> {
  const bucket = `kiln-upload-${++bucketCount}`;
  await s3.client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

async function keys(bucket: string): Promise<string[]> {
  const page = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function body(bucket: string, key: string): Promise<string> {
  const object = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString()) ?? '';
}

/** reports/{a.json, b.json, notes.txt, nested/{c.json, deeper/d.json}} */
async function reportTree(dir: string): Promise<string> {
  const root = join(dir, 'reports');
  await mkdir(join(root, 'nested', 'deeper'), { recursive: true });
  await writeFile(join(root, 'a.json'), '{"a":1}');
  await writeFile(join(root, 'b.json'), '{"b":2}');
  await writeFile(join(root, 'notes.txt'), 'notes');
  await writeFile(join(root, 'nested', 'c.json'), '{"c":3}');
  await writeFile(join(root, 'nested', 'deeper', 'd.json'), '{"d":4}');
  return root;
}

describe('S3Upload', () => {
  test('uploads one file to an object key', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    await writeFile(join(dir, 'package.zip'), 'zip bytes');
    const result = await runAction(s3Upload, [{ source: join(dir, 'package.zip'), destination: `s3://${bucket}/path/to/pkg.zip` }], makeContext(dir));
    assert.deepEqual(await keys(bucket), ['path/to/pkg.zip']);
    assert.equal(await body(bucket, 'path/to/pkg.zip'), 'zip bytes');
    assert.deepEqual(result.outputs, {});
  });

  test('a destination ending in / (or the bucket root) keeps the file name', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    await writeFile(join(dir, 'log.txt'), 'log');
    await runAction(
      s3Upload,
      [
        { source: join(dir, 'log.txt'), destination: `s3://${bucket}/logs/` },
        { source: join(dir, 'log.txt'), destination: `s3://${bucket}` },
      ],
      makeContext(dir),
    );
    assert.deepEqual(await keys(bucket), ['log.txt', 'logs/log.txt']);
  });

  test('a wildcard uploads the matching files but not sub-folders', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    const root = await reportTree(dir);
    await runAction(s3Upload, [{ source: `${root}/*`, destination: `s3://${bucket}/path/to/` }], makeContext(dir));
    assert.deepEqual(await keys(bucket), ['path/to/a.json', 'path/to/b.json', 'path/to/notes.txt']);
  });

  test('a wildcard with recurse also uploads sub-folders, keeping their structure', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    const root = await reportTree(dir);
    await runAction(s3Upload, [{ source: `${root}/*`, destination: `s3://${bucket}/path/to`, recurse: true }], makeContext(dir));
    assert.deepEqual(await keys(bucket), [
      'path/to/a.json',
      'path/to/b.json',
      'path/to/nested/c.json',
      'path/to/nested/deeper/d.json',
      'path/to/notes.txt',
    ]);
    assert.equal(await body(bucket, 'path/to/nested/deeper/d.json'), '{"d":4}');
  });

  test('a partial wildcard matches file names', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    const root = await reportTree(dir);
    await runAction(s3Upload, [{ source: `${root}/*.json`, destination: `s3://${bucket}/json/` }], makeContext(dir));
    assert.deepEqual(await keys(bucket), ['json/a.json', 'json/b.json']);
  });

  test('a folder with recurse uploads its contents below the prefix', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    const root = await reportTree(dir);
    await symlink(join(root, 'nested'), join(root, 'loop'));
    await runAction(s3Upload, [{ source: root, destination: `s3://${bucket}/backup/`, recurse: 'true' }], makeContext(dir));
    // The symlink to a folder is skipped: following it could loop.
    assert.deepEqual(await keys(bucket), [
      'backup/a.json',
      'backup/b.json',
      'backup/nested/c.json',
      'backup/nested/deeper/d.json',
      'backup/notes.txt',
    ]);
  });

  test('a source named explicitly is followed even through a symlink', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    const root = await reportTree(dir);
    await symlink(join(root, 'nested'), join(dir, 'link'));
    await runAction(s3Upload, [{ source: join(dir, 'link'), destination: `s3://${bucket}/n`, recurse: true }], makeContext(dir));
    assert.deepEqual(await keys(bucket), ['n/c.json', 'n/deeper/d.json']);
  });

  test('a folder without recurse is refused', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    const root = await reportTree(dir);
    await assert.rejects(
      runAction(s3Upload, [{ source: root, destination: `s3://${bucket}/x/` }], makeContext(dir)),
      (err: Error) => err instanceof ActionFailure && /is a folder; set recurse: true/.test(err.message),
    );
    assert.deepEqual(await keys(bucket), []);
  });

  test('a missing source, or a wildcard matching nothing, fails', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    await assert.rejects(
      runAction(s3Upload, [{ source: join(dir, 'absent.txt'), destination: `s3://${bucket}/x` }], makeContext(dir)),
      /absent\.txt does not exist/,
    );
    await assert.rejects(
      runAction(s3Upload, [{ source: join(dir, '*.nothing'), destination: `s3://${bucket}/x/` }], makeContext(dir)),
      /no files match/,
    );
    await assert.rejects(
      runAction(s3Upload, [{ source: join(dir, 'absent', '*'), destination: `s3://${bucket}/x/` }], makeContext(dir)),
      /does not exist/,
    );
  });

  test('a missing bucket fails with the target named', async (t) => {
    const dir = await scratchDir(t);
    await writeFile(join(dir, 'f.txt'), 'f');
    await assert.rejects(
      runAction(s3Upload, [{ source: join(dir, 'f.txt'), destination: 's3://no-such-bucket/f.txt' }], makeContext(dir)),
      (err: Error) => err.message.includes('s3://no-such-bucket/f.txt') && /NoSuchBucket/.test(err.message),
    );
  });

  test('a relative source is resolved against the working directory', async (t) => {
    const dir = await scratchDir(t);
    const bucket = await freshBucket();
    await writeFile(join(dir, 'rel.txt'), 'relative');
    await runAction(s3Upload, [{ source: 'rel.txt', destination: `s3://${bucket}/r/`, expectedBucketOwner: '123456789012' }], makeContext(dir));
    assert.equal(await body(bucket, 'r/rel.txt'), 'relative');
  });
});

describe('S3Upload input validation', () => {
  const paths = (inputs: unknown) => validateInputs(s3Upload, inputs).map((i) => i.path);

  test('accepts documented forms and templates', () => {
    assert.deepEqual(paths([{ source: 'C:\\myfolder\\package.zip', destination: 's3://mybucket/path/to/package.zip', expectedBucketOwner: 123456789022 }]), []);
    assert.deepEqual(paths([{ source: 'C:\\myfolder\\*', destination: 's3://mybucket/path/to/', recurse: true }]), []);
    assert.deepEqual(paths([{ source: '/tmp/inspec_test/reports/*', destination: "s3://<S3_PATH_TO_INSPEC_REPORT_LOCATION>'" }]), []);
    assert.deepEqual(paths([{ source: '{{ build.Out.outputs.stdout }}', destination: 's3://{{ Bucket }}/x/' }]), []);
  });

  test('reports bad fields by path', () => {
    assert.deepEqual(paths([{ source: '/tmp/a', destination: '/tmp/b' }]), ['inputs[0].destination']);
    assert.deepEqual(paths([{ source: '/tmp/a', destination: 's3://b/*' }]), ['inputs[0].destination']);
    assert.deepEqual(paths([{ source: '/tmp/*/a', destination: 's3://b/' }]), ['inputs[0].source']);
    assert.deepEqual(paths([{ destination: 's3://b/' }]), ['inputs[0].source']);
    assert.deepEqual(paths([{ source: '/a', destination: 's3://b/', recurse: 'maybe' }]), ['inputs[0].recurse']);
    assert.deepEqual(paths([{ source: '/a', destination: 's3://b/', expectedBucketOwner: '12' }]), ['inputs[0].expectedBucketOwner']);
    assert.deepEqual(paths({ source: '/a', destination: 's3://b/' }), ['inputs']);
  });
});
