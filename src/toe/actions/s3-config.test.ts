import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkAccountId, describeS3Error, parseS3Uri, s3SettingsFromEnv } from './s3-config.js';

describe('s3SettingsFromEnv', () => {
  test('defaults to AWS S3 in us-east-1 with the SDK credential chain', () => {
    assert.deepEqual(s3SettingsFromEnv({}), { region: 'us-east-1' });
  });

  test('reads the Kiln variables', () => {
    const settings = s3SettingsFromEnv({
      KILN_S3_ENDPOINT: 'http://127.0.0.1:9000',
      KILN_S3_REGION: 'eu-west-1',
      KILN_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'AKID',
      AWS_SECRET_ACCESS_KEY: 'SECRET',
    });
    assert.deepEqual(settings, {
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
      accessKeyId: 'AKID',
      secretAccessKey: 'SECRET',
    });
  });

  test('falls back to the standard AWS variables', () => {
    const settings = s3SettingsFromEnv({
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4568',
      AWS_REGION: 'ap-south-1',
      KILN_S3_FORCE_PATH_STYLE: '0',
      AWS_ACCESS_KEY_ID: 'AKID',
      AWS_SECRET_ACCESS_KEY: 'SECRET',
      AWS_SESSION_TOKEN: 'TOKEN',
    });
    assert.deepEqual(settings, {
      endpoint: 'http://127.0.0.1:4568',
      region: 'ap-south-1',
      forcePathStyle: false,
      accessKeyId: 'AKID',
      secretAccessKey: 'SECRET',
      sessionToken: 'TOKEN',
    });
  });

  test('the Kiln endpoint wins over AWS_ENDPOINT_URL_S3; half a key pair is ignored', () => {
    const settings = s3SettingsFromEnv({
      KILN_S3_ENDPOINT: 'http://127.0.0.1:1',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:2',
      AWS_ACCESS_KEY_ID: 'AKID',
    });
    assert.deepEqual(settings, { endpoint: 'http://127.0.0.1:1', region: 'us-east-1' });
  });
});

describe('S3 helpers', () => {
  test('parseS3Uri', () => {
    assert.deepEqual(parseS3Uri('s3://bucket/a/b.txt'), { bucket: 'bucket', key: 'a/b.txt' });
    assert.deepEqual(parseS3Uri('s3://bucket'), { bucket: 'bucket', key: '' });
    assert.deepEqual(parseS3Uri('S3://bucket/'), { bucket: 'bucket', key: '' });
    assert.equal(parseS3Uri('https://bucket/key'), undefined);
    assert.equal(parseS3Uri('s3:///key'), undefined);
  });

  test('checkAccountId', () => {
    assert.equal(checkAccountId('123456789012'), undefined);
    assert.match(checkAccountId('1234') ?? '', /12-digit/);
  });

  test('describeS3Error keeps the S3 code and the HTTP status', () => {
    const err = Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    assert.equal(describeS3Error(err), 'NoSuchKey: The specified key does not exist. (HTTP 404)');
  });
});
