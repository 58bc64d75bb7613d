import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateImagePipelineCommand, CreateInfrastructureConfigurationCommand, CreateComponentCommand, CreateImageRecipeCommand, StartImagePipelineExecutionCommand } from '@aws-sdk/client-imagebuilder';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { BUILD_PLAN_PATH } from '../../src/api/kiln/console-build-plan-route.js';
import { NodeSha256 } from '../../src/api/aws/node-sha256.js';
import { TOE_VALIDATE_PATH } from '../../src/api/kiln/toe-validate-route.js';
import { openStore } from '../../src/app/server-start.js';
import { createAccount } from '../../src/service/accounts.js';
import { actionModules } from '../../src/toe/actions/registry.js';
import { validateDocumentText } from '../../src/toe/document/validate.js';
import { startFixture, type Fixture } from './fixture.js';

type Keys = { accessKeyId: string; secretAccessKey: string };
interface Answer {
  status: number;
  errorType: string | null;
  body: Record<string, unknown>;
}

/** A request to a Kiln route signed as the console signs it (unsigned with keys === null). */
async function call(f: Fixture, request: { method: 'GET' | 'POST'; path: string; query?: Record<string, string>; body?: string }, keys: Keys | null = f.credentials): Promise<Answer> {
  const url = new URL(request.path, f.server.endpoint);
  url.search = new URLSearchParams(request.query ?? {}).toString();
  const base: Record<string, string> = request.body === undefined ? {} : { 'content-type': 'application/json' };
  let headers = base;
  if (keys) {
    const signer = new SignatureV4({ credentials: keys, region: 'local', service: 'imagebuilder', sha256: NodeSha256 });
    const signed = await signer.sign(
      new HttpRequest({ method: request.method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: request.path, query: request.query ?? {}, headers: { host: url.host, ...base }, ...(request.body === undefined ? {} : { body: request.body }) }),
    );
    headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host'));
  }
  const response = await fetch(url, { method: request.method, headers, ...(request.body === undefined ? {} : { body: request.body }) });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), body: (await response.json()) as Record<string, unknown> };
}

const validate = (f: Fixture, data: unknown, keys?: Keys | null) => call(f, { method: 'POST', path: TOE_VALIDATE_PATH, body: JSON.stringify({ data }) }, keys);

const GOOD = `name: hello
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ['echo hi']
`;

test('POST /kiln/toe/validate: the problems `kiln toe validate` finds, with their paths; AWS-shaped refusals', async (t) => {
  const f = await startFixture(t);
  assert.deepEqual((await validate(f, GOOD)).body, { valid: true, issues: [] });

  const bad = GOOD.replace('ExecuteBash', 'ExecuteNothing').replace("commands: ['echo hi']", "commands: ['echo {{ nope }}']");
  const answer = await validate(f, bad);
  assert.equal(answer.status, 200);
  assert.equal(answer.body.valid, false);
  const issues = answer.body.issues as { path: string; message: string }[];
  assert.ok(issues.some((i) => i.path === 'phases[0].steps[0].action' && /unknown action module "ExecuteNothing"/.test(i.message)), JSON.stringify(issues));
  // Exactly the validator's output, as the CLI prints it.
  const expected = validateDocumentText(bad, actionModules()).issues.map((i) => ({ path: i.path || '(document)', message: i.message }));
  assert.deepEqual(issues, expected);

  const syntax = await validate(f, 'phases: [\n');
  assert.equal(syntax.body.valid, false);
  assert.ok((syntax.body.issues as unknown[]).length > 0);
  assert.deepEqual((await validate(f, '- just\n- a list\n')).body.issues, [{ path: '(document)', message: 'a component document must be a YAML or JSON map' }]);

  const missing = await validate(f, 42);
  assert.equal(missing.status, 400);
  assert.equal(missing.errorType, 'InvalidParameterValueException');
  assert.match(String(missing.body.message), /'data'/);
  const notJson = await call(f, { method: 'POST', path: TOE_VALIDATE_PATH, body: '{nope' });
  assert.equal(notJson.status, 400);
  assert.equal(notJson.errorType, 'InvalidRequestException');

  const unsigned = await validate(f, GOOD, null);
  assert.equal(unsigned.status, 403);
  assert.equal(unsigned.errorType, 'MissingAuthenticationTokenException');
  const wrong = await validate(f, GOOD, { accessKeyId: f.credentials.accessKeyId, secretAccessKey: 'x'.repeat(40) });
  assert.equal(wrong.errorType, 'InvalidSignatureException');
});

test('GET /kiln/images/build-plan: the recorded plan of an image the caller may GetImage, null before the build resolves it', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: GOOD }))).componentBuildVersionArn!;
  const imageRecipeArn = (await ib.send(new CreateImageRecipeCommand({ name: 'web', semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn }] }))).imageRecipeArn!;
  const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'infra', instanceProfileName: 'P', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
  const imagePipelineArn = (await ib.send(new CreateImagePipelineCommand({ name: 'web', imageRecipeArn, infrastructureConfigurationArn }))).imagePipelineArn!;
  const arn = (await ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn }))).imageBuildVersionArn!;
  const get = (query: Record<string, string>, keys?: Keys | null) => call(f, { method: 'GET', path: BUILD_PLAN_PATH, query }, keys);

  assert.deepEqual((await get({ imageBuildVersionArn: arn })).body, { imageBuildVersionArn: arn, buildPlan: null });

  const plan = {
    parent: { requested: 'ami-0123456789abcdef0', resolved: 'ami-0123456789abcdef0', manifestDigest: 'sha256:abc', source: 'registry' },
    components: [{ requested: componentArn, arn: componentArn, type: 'BUILD', sha256: 'def', parameters: {} }],
  };
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  await store.updateResource(arn, (current) => ({ ...current.data, buildPlan: plan }));
  assert.deepEqual((await get({ imageBuildVersionArn: arn })).body, { imageBuildVersionArn: arn, buildPlan: plan });

  const malformed = await get({ imageBuildVersionArn: arn.replace(/\/1$/, '') });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.errorType, 'InvalidParameterValueException');
  assert.match(String(malformed.body.message), /imageBuildVersionArn/);
  const absent = await get({});
  assert.equal(absent.errorType, 'InvalidParameterValueException');
  const unknown = await get({ imageBuildVersionArn: arn.replace(/\/1$/, '/2') });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.errorType, 'ResourceNotFoundException');

  const { key } = await createAccount(store, 'other');
  const other = await get({ imageBuildVersionArn: arn }, { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  assert.equal(other.status, 404, 'another account does not see the image');
  assert.equal((await get({ imageBuildVersionArn: arn }, null)).errorType, 'MissingAuthenticationTokenException');
});
