import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { request } from 'node:http';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac } from 'node:crypto';
import { GetMarketplaceResourceCommand, InvalidRequestException, ListComponentsCommand } from '@aws-sdk/client-imagebuilder';
import { startFixture } from './fixture.js';

class Sha256 {
  private h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : new Uint8Array(secret as ArrayBuffer));
  }
  update(d: Uint8Array) {
    this.h.update(d);
  }
  digest() {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  reset() {}
}

/** Signs and sends a raw request, so tests can forge what the SDK never would. */
async function send(
  endpoint: string,
  creds: { accessKeyId: string; secretAccessKey: string },
  opts: { method: string; path: string; body?: string; region?: string; date?: Date; tamper?: (r: HttpRequest) => void },
): Promise<{ status: number; errorType?: string; body: { __type?: string; message?: string } }> {
  const url = new URL(endpoint);
  const req = new HttpRequest({
    method: opts.method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: opts.path,
    headers: { host: url.host, 'content-type': 'application/json' },
    body: opts.body ?? '',
  });
  const signer = new SignatureV4({ credentials: creds, region: opts.region ?? 'local', service: 'imagebuilder', sha256: Sha256 });
  const signed = (await signer.sign(req, { signingDate: opts.date ?? new Date() })) as HttpRequest;
  opts.tamper?.(signed);
  return new Promise((resolve, reject) => {
    const r = request({ host: url.hostname, port: url.port, method: signed.method, path: signed.path, headers: signed.headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, errorType: res.headers['x-amzn-errortype'] as string | undefined, body: JSON.parse(text || '{}') as { __type?: string } }));
    });
    r.on('error', reject);
    r.end(signed.body as string);
  });
}

test('first start writes the admin credentials file (0600) and they sign requests', async (t) => {
  const f = await startFixture(t);
  assert.equal(statSync(f.server.credentialsPath).mode & 0o777, 0o600);
  assert.match(f.credentials.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
  const out = await f.client().send(new ListComponentsCommand({}));
  assert.deepEqual(out.componentVersionList, []);
  const health = await fetch(`${f.server.endpoint}/healthz`);
  assert.equal(health.status, 200);
});

test('signature failures answer 403 with the AWS error names', async (t) => {
  const f = await startFixture(t);
  const list = { method: 'POST', path: '/ListComponents', body: '{}' };
  const ok = await send(f.server.endpoint, f.credentials, list);
  assert.equal(ok.status, 200);

  const cases: [string, Parameters<typeof send>[2], Parameters<typeof send>[1], string][] = [
    ['wrong secret', list, { ...f.credentials, secretAccessKey: 'wrong' }, 'InvalidSignatureException'],
    ['unknown key', list, { accessKeyId: 'AKIAUNKNOWNUNKNOWN12', secretAccessKey: 'x' }, 'UnrecognizedClientException'],
    ['date 20 minutes old', { ...list, date: new Date(Date.now() - 20 * 60_000) }, f.credentials, 'InvalidSignatureException'],
    ['date 20 minutes ahead', { ...list, date: new Date(Date.now() + 20 * 60_000) }, f.credentials, 'InvalidSignatureException'],
    ['region not configured', { ...list, region: 'us-east-1' }, f.credentials, 'InvalidSignatureException'],
    [
      'body altered after signing',
      { ...list, tamper: (r) => void (r.body = '{"maxResults":5}') },
      f.credentials,
      'InvalidSignatureException',
    ],
    [
      'body altered under an unchanged x-amz-content-sha256',
      { ...list, tamper: (r) => void ((r.headers['x-amz-content-sha256'] = createHash('sha256').update('{}').digest('hex')), (r.body = '{"maxResults":5}')) },
      f.credentials,
      'InvalidSignatureException',
    ],
    ['no Authorization header', { ...list, tamper: (r) => void delete r.headers.authorization }, f.credentials, 'MissingAuthenticationTokenException'],
  ];
  for (const [name, opts, creds, code] of cases) {
    const res = await send(f.server.endpoint, creds, opts);
    assert.equal(res.status, 403, name);
    assert.equal(res.errorType, code, name);
    assert.equal(res.body.__type, code, name);
    assert.ok(res.body.message, name);
  }
});

test('the SDK sees the error names: unknown key, wrong region, not-implemented operation', async (t) => {
  const f = await startFixture(t);
  await assert.rejects(f.client({ accessKeyId: 'AKIAUNKNOWNUNKNOWN12', secretAccessKey: 'x' }).send(new ListComponentsCommand({})), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, 'UnrecognizedClientException');
    assert.equal(e.$metadata?.httpStatusCode, 403);
    return true;
  });
  await assert.rejects(f.client({ region: 'eu-west-1' }).send(new ListComponentsCommand({})), { name: 'InvalidSignatureException' });
  await assert.rejects(
    f.client().send(new GetMarketplaceResourceCommand({ resourceType: 'COMPONENT_DATA', resourceArn: 'arn:aws:imagebuilder:local:aws-marketplace:component/x/1.0.0/1' })),
    (e: Error) => {
      assert.ok(e instanceof InvalidRequestException, e.name);
      assert.match(e.message, /GetMarketplaceResource/);
      return true;
    },
  );
});

test('malformed JSON, wrong types, unknown fields and oversized bodies get AWS-shaped 4xx', async (t) => {
  const f = await startFixture(t);
  const cases: [string, string, string, RegExp, number?][] = [
    ['malformed JSON', '{"name":', 'SerializationException', /not valid JSON/],
    ['not an object', '[1,2]', 'SerializationException', /JSON object/],
    ['wrong type', '{"maxResults":"ten"}', 'InvalidRequestException', /maxResults: expected number/],
    ['wrong nested type', '{"filters":[{"name":"name","values":"x"}]}', 'InvalidRequestException', /filters\[0\]\.values: expected list/],
    ['unknown field', '{"colour":"red"}', 'InvalidRequestException', /colour: unknown field/],
    ['oversized', JSON.stringify({ nextToken: 'x'.repeat(2 * 1024 * 1024) }), 'RequestEntityTooLargeException', /larger than the limit/, 413],
  ];
  for (const [name, body, code, message, status] of cases) {
    const res = await send(f.server.endpoint, f.credentials, { method: 'POST', path: '/ListComponents', body });
    assert.equal(res.status, status ?? 400, name);
    assert.equal(res.errorType, code, name);
    assert.match(res.body.message ?? '', message, name);
  }
  const missing = await send(f.server.endpoint, f.credentials, { method: 'PUT', path: '/CreateComponent', body: '{"name":"abc"}' });
  assert.equal(missing.errorType, 'InvalidRequestException');
  assert.match(missing.body.message ?? '', /semanticVersion: is required/);
  const unknownPath = await send(f.server.endpoint, f.credentials, { method: 'GET', path: '/NoSuchOperation' });
  assert.equal(unknownPath.status, 404);
  assert.equal(unknownPath.errorType, 'UnknownOperationException');
});
