import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { makeContext, runAction, scratchDir, validateInputs } from '../../../test/helpers/action-context.js';
import { startLocalS3, type LocalS3 } from '../../../test/helpers/s3rver.js';
import { createS3Download, s3Download as envS3Download } from './s3-download.js';
import { ActionFailure } from './types.js';

const BUCKET = 'kiln-downloads';
const OBJECTS: Record<string, string> = {
  'packages/app.tar.gz': 'app archive',
  'scripts/setup.sh': '#!/bin/bash\necho setup\n',
  'scripts/run.sh': '#!/bin/bash\necho run\n',
  'scripts/tests/check.sh': '#!/bin/bash\necho check\n',
  'scripts/tests/': '',
  'scripts-old/legacy.sh': 'old',
  'other/readme.txt': 'not in the prefix',
};

let s3: LocalS3;
let dataDir: string;
let s3Download: ReturnType<typeof createS3Download>;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'kiln-s3rver-'));
  s3 = await startLocalS3(dataDir, [BUCKET]);
  for (const [key, body] of Object.entries(OBJECTS)) {
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  }
  s3Download = createS3Download(() => s3.settings);
});

after(async () => {
  await s3.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('S3Download', () => {
  test('downloads one object to a file', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'app.tgz');
    const result = await runAction(s3Download, [{ source: `s3://${BUCKET}/packages/app.tar.gz`, destination }], makeContext(dir));
    assert.equal(await readFile(destination, 'utf8'), 'app archive');
    assert.deepEqual(result.outputs, {});
  });

  test('a destination ending in / (or an existing folder) keeps the object name', async (t) => {
    const dir = await scratchDir(t);
    await runAction(s3Download, [{ source: `s3://${BUCKET}/scripts/run.sh`, destination: `${dir}/` }], makeContext(dir));
    assert.equal(await readFile(join(dir, 'run.sh'), 'utf8'), OBJECTS['scripts/run.sh']);
    await runAction(s3Download, [{ source: `s3://${BUCKET}/scripts/setup.sh`, destination: dir }], makeContext(dir));
    assert.equal(await readFile(join(dir, 'setup.sh'), 'utf8'), OBJECTS['scripts/setup.sh']);
  });

  test('prefix/* downloads every object below the prefix, keeping sub-folders', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'temp');
    await mkdir(destination);
    await runAction(s3Download, [{ source: `s3://${BUCKET}/scripts/*`, destination }], makeContext(dir));
    assert.deepEqual((await readdir(destination)).sort(), ['run.sh', 'setup.sh', 'tests']);
    assert.deepEqual(await readdir(join(destination, 'tests')), ['check.sh']);
    assert.equal(await readFile(join(destination, 'tests', 'check.sh'), 'utf8'), OBJECTS['scripts/tests/check.sh']);
  });

  test('s3://bucket/* downloads the whole bucket', async (t) => {
    const dir = await scratchDir(t);
    await runAction(s3Download, [{ source: `s3://${BUCKET}/*`, destination: `${dir}/` }], makeContext(dir));
    assert.deepEqual((await readdir(dir)).sort(), ['other', 'packages', 'scripts', 'scripts-old']);
  });

  test('several inputs run in order; expectedBucketOwner is accepted', async (t) => {
    const dir = await scratchDir(t);
    const inputs = [
      { source: `s3://${BUCKET}/scripts/run.sh`, destination: join(dir, 'a.sh'), expectedBucketOwner: 123456789012 },
      { source: `s3://${BUCKET}/other/readme.txt`, destination: join(dir, 'b.txt'), overwrite: true },
    ];
    await runAction(s3Download, inputs, makeContext(dir));
    assert.deepEqual((await readdir(dir)).sort(), ['a.sh', 'b.txt']);
  });

  test('a missing object fails with its URI and leaves no file', async (t) => {
    const dir = await scratchDir(t);
    await assert.rejects(
      runAction(s3Download, [{ source: `s3://${BUCKET}/nope/missing.bin`, destination: join(dir, 'm.bin') }], makeContext(dir)),
      (err: Error) =>
        err instanceof ActionFailure && err.message.includes(`s3://${BUCKET}/nope/missing.bin`) && /NoSuchKey/.test(err.message),
    );
    assert.deepEqual(await readdir(dir), []);
  });

  test('a missing bucket fails with the bucket named', async (t) => {
    const dir = await scratchDir(t);
    await assert.rejects(
      runAction(s3Download, [{ source: 's3://no-such-bucket/x', destination: join(dir, 'x') }], makeContext(dir)),
      (err: Error) => err.message.includes('s3://no-such-bucket/x') && /NoSuchBucket/.test(err.message),
    );
  });

  test('a prefix with no objects fails', async (t) => {
    const dir = await scratchDir(t);
    await assert.rejects(
      runAction(s3Download, [{ source: `s3://${BUCKET}/empty/*`, destination: dir }], makeContext(dir)),
      /no objects match s3:\/\/kiln-downloads\/empty\/\*/,
    );
  });

  test('overwrite false refuses to replace an existing file', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'run.sh');
    await writeFile(destination, 'mine');
    await assert.rejects(
      runAction(s3Download, [{ source: `s3://${BUCKET}/scripts/run.sh`, destination, overwrite: false }], makeContext(dir)),
      (err: Error) => /already exists/.test(err.message) && /overwrite/.test(err.message),
    );
    assert.equal(await readFile(destination, 'utf8'), 'mine');
    await runAction(s3Download, [{ source: `s3://${BUCKET}/scripts/run.sh`, destination }], makeContext(dir));
    assert.equal(await readFile(destination, 'utf8'), OBJECTS['scripts/run.sh']);
  });

  test('folders are not created: a missing destination folder fails, as on AWS', async (t) => {
    const dir = await scratchDir(t);
    await assert.rejects(
      runAction(s3Download, [{ source: `s3://${BUCKET}/scripts/run.sh`, destination: join(dir, 'absent', 'run.sh') }], makeContext(dir)),
      /folder .*absent does not exist/,
    );
    await assert.rejects(
      runAction(s3Download, [{ source: `s3://${BUCKET}/scripts/*`, destination: join(dir, 'absent') }], makeContext(dir)),
      /folder .*absent does not exist/,
    );
  });

  test('the default module reads its endpoint from the environment', () => {
    assert.equal(envS3Download.name, 'S3Download');
    assert.equal(envS3Download.inputShape, 'list');
  });
});

describe('S3Download input validation', () => {
  const paths = (inputs: unknown) => validateInputs(s3Download, inputs).map((i) => i.path);

  test('accepts documented forms, templates and placeholders', () => {
    assert.deepEqual(paths([{ source: 's3://mybucket/path/to/package.zip', destination: 'C:\\myfolder\\package.zip', expectedBucketOwner: 123456789022, overwrite: false }]), []);
    assert.deepEqual(paths([{ source: 's3://mybucket/path/to/*', destination: 'C:\\myfolder\\' }]), []);
    assert.deepEqual(paths([{ source: "s3://{{ S3BucketName }}/scripts/*", destination: '/temp' }]), []);
    assert.deepEqual(paths([{ source: 's3://<replaceable>mybucket</replaceable>/<replaceable>app</replaceable>', destination: '/tmp/x' }]), []);
  });

  test('reports bad fields by path', () => {
    assert.deepEqual(paths([{ source: 'https://example/x', destination: '/tmp/x' }]), ['inputs[0].source']);
    assert.deepEqual(paths([{ source: 's3://bucket', destination: '/tmp/x' }]), ['inputs[0].source']);
    assert.deepEqual(paths([{ source: 's3://bucket/folder/', destination: '/tmp/x' }]), ['inputs[0].source']);
    assert.deepEqual(paths([{ source: 's3://bucket/a*/b', destination: '/tmp/x' }]), ['inputs[0].source']);
    assert.deepEqual(paths([{ source: 's3://b/k' }]), ['inputs[0].destination']);
    assert.deepEqual(paths([{ source: 's3://b/k', destination: '/x', expectedBucketOwner: 'me' }]), ['inputs[0].expectedBucketOwner']);
    assert.deepEqual(paths([{ source: 's3://b/k', destination: '/x', overwrite: 'sometimes' }]), ['inputs[0].overwrite']);
  });

  test('no inputs, an empty list or a single map are refused', () => {
    assert.deepEqual(paths(undefined), ['inputs']);
    assert.deepEqual(paths([]), ['inputs']);
    assert.deepEqual(paths({ source: 's3://b/k', destination: '/x' }), ['inputs']);
  });
});
