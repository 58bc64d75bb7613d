import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PutImagePolicyCommand } from '@aws-sdk/client-imagebuilder';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { createPendingImage, startExecutionServer, type ExecutionServer } from '../../../test/helpers/execution-server.js';
import { STAMPED_LOG_HEADER } from '../../logs/step-log-format.js';
import { LOGS_PATH } from './logs-route.js';
import { NodeSha256 as Sha256 } from '../aws/node-sha256.js';


interface Answer {
  status: number;
  errorType: string | null;
  body: { text?: string; lines?: { time?: string; stream: string; text: string }[]; nextOffset?: number; stepStatus?: string; __type?: string; message?: string };
}

/** GET /kiln/logs signed as the SDK would sign an Image Builder request (unsigned with keys === null). */
async function getLog(server: ExecutionServer, query: Record<string, string>, keys: { accessKeyId: string; secretAccessKey: string } | null = server.credentials, service = 'imagebuilder'): Promise<Answer> {
  const url = new URL(LOGS_PATH, server.endpoint);
  url.search = new URLSearchParams(query).toString();
  let headers: Record<string, string> = {};
  if (keys) {
    const signer = new SignatureV4({ credentials: keys, region: 'local', service, sha256: Sha256 });
    const signed = await signer.sign(new HttpRequest({ method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: LOGS_PATH, query, headers: { host: url.host } }));
    headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host'));
  }
  const response = await fetch(url, { headers });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), body: (await response.json()) as Answer['body'] };
}

test('GET /kiln/logs: signed reads from an offset, the step status, and AWS-shaped errors naming the field', async (t) => {
  const server = await startExecutionServer(t);
  const ib = server.client();
  const image = await createPendingImage(server, ib);
  const wf = await server.recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: 'arn:aws:imagebuilder:local:aws:workflow/build/build-image/1.0.0/1', totalStepCount: 1 });
  const step = await wf.startStep({ name: 'ApplyBuildComponents', action: 'ExecuteComponents' });
  const q = { imageBuildVersionArn: image.arn, stepExecutionId: step.stepExecutionId };

  const start = Buffer.byteLength(STAMPED_LOG_HEADER);
  assert.deepEqual((await getLog(server, q)).body, { text: '', lines: [], nextOffset: start, stepStatus: 'RUNNING' });
  step.log('line 1\n', 'stdout');
  step.log('ünïcode', 'stdout');
  step.log('oops\n', 'stderr');
  step.log(' 2\n', 'stdout');
  await step.finish('COMPLETED');
  const all = await getLog(server, { ...q, offset: '0' });
  assert.equal(all.status, 200);
  assert.equal(all.body.text, 'line 1\noops\nünïcode 2\n', 'whole lines, merged in the order they were completed');
  assert.deepEqual(all.body.lines?.map((l) => [l.stream, l.text]), [['stdout', 'line 1'], ['stderr', 'oops'], ['stdout', 'ünïcode 2']]);
  assert.ok(all.body.lines?.every((l) => /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(l.time ?? '')));
  const end = all.body.nextOffset!;
  assert.deepEqual((await getLog(server, { ...q, offset: String(end) })).body, { text: '', lines: [], nextOffset: end, stepStatus: 'COMPLETED' });
  // A small window still gives one whole line; the next read starts at the following one.
  const first = await getLog(server, { ...q, offset: '0', maxBytes: '2' });
  assert.equal(first.body.text, 'line 1\n');
  assert.equal((await getLog(server, { ...q, offset: String(first.body.nextOffset), maxBytes: '2' })).body.text, 'oops\n');

  const errors: [Record<string, string>, number, string, string][] = [
    [{ ...q, offset: String(end + 1) }, 400, 'InvalidParameterValueException', 'offset'],
    [{ ...q, offset: '-1' }, 400, 'InvalidParameterValueException', 'offset'],
    [{ ...q, offset: 'ten' }, 400, 'InvalidParameterValueException', 'offset'],
    [{ imageBuildVersionArn: image.arn }, 400, 'InvalidParameterValueException', 'stepExecutionId'],
    [{ stepExecutionId: step.stepExecutionId }, 400, 'InvalidParameterValueException', 'imageBuildVersionArn'],
    [{ ...q, stepExecutionId: '../../../etc/passwd' }, 400, 'InvalidParameterValueException', 'stepExecutionId'],
    [{ ...q, imageBuildVersionArn: image.arn.replace(/\/1$/, '') }, 400, 'InvalidParameterValueException', 'imageBuildVersionArn'],
    [{ ...q, imageBuildVersionArn: image.arn.replace(/\/1$/, '/2') }, 404, 'ResourceNotFoundException', image.arn.replace(/\/1$/, '/2')],
    [{ ...q, stepExecutionId: 'step-0b9d3a4e-1111-2222-3333-444455556666' }, 404, 'ResourceNotFoundException', 'step-0b9d3a4e-1111-2222-3333-444455556666'],
  ];
  for (const [query, status, type, mention] of errors) {
    const answer = await getLog(server, query);
    assert.equal(answer.status, status, JSON.stringify({ query, answer }));
    assert.equal(answer.errorType, type);
    assert.equal(answer.body.__type, type);
    assert.ok(answer.body.message?.includes(mention), `${answer.body.message} should mention ${mention}`);
  }

  // A step of another image is not a step of this one, even for its owner.
  const second = await createPendingImage(server, ib, 'second');
  const wf2 = await server.recorder.startWorkflow({ image: second, type: 'BUILD', workflowBuildVersionArn: 'arn:aws:imagebuilder:local:aws:workflow/build/build-image/1.0.0/1', totalStepCount: 1 });
  const foreign = await wf2.startStep({ name: 'LaunchBuildInstance', action: 'LaunchInstance' });
  const mixed = await getLog(server, { imageBuildVersionArn: image.arn, stepExecutionId: foreign.stepExecutionId });
  assert.equal(mixed.status, 404);
  assert.match(mixed.body.message ?? '', /not a step of the image/);
  await foreign.finish('COMPLETED');

  // Authentication as the API does it.
  const unsigned = await getLog(server, q, null);
  assert.equal(unsigned.status, 403);
  assert.equal(unsigned.errorType, 'MissingAuthenticationTokenException');
  const wrongSecret = await getLog(server, q, { accessKeyId: server.credentials.accessKeyId, secretAccessKey: 'x'.repeat(40) });
  assert.equal(wrongSecret.errorType, 'InvalidSignatureException');
  const wrongService = await getLog(server, q, server.credentials, 's3');
  assert.equal(wrongService.errorType, 'InvalidSignatureException');

  // Another account reads only what is shared with it.
  const other = await server.newAccount('other');
  const hidden = await getLog(server, q, other.keys);
  assert.equal(hidden.status, 404);
  assert.equal(hidden.errorType, 'ResourceNotFoundException');
  assert.ok(hidden.body.message?.includes(image.arn));
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: other.accountId }, Action: ['imagebuilder:GetImage', 'imagebuilder:ListImages'] }] });
  await ib.send(new PutImagePolicyCommand({ imageArn: image.arn, policy }));
  assert.equal((await getLog(server, q, other.keys)).body.text, 'line 1\noops\nünïcode 2\n');
});
