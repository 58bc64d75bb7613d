/**
 * No host path reaches a tenant: a build failure carrying a real fs error (ENOENT with a path in the data
 * directory) shows no data-directory path in the image's reason, the workflow and step messages or the step
 * log, and internal errors of the API and the registry carry none either.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'node:test';
import {
  CreateComponentCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  GetComponentCommand,
  GetImageCommand,
  GetWorkflowStepExecutionCommand,
  ImagebuilderClient,
  ListComponentsCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
} from '@aws-sdk/client-imagebuilder';
import { buildApi } from '../../src/api/aws/server.js';
import { advance } from '../../src/builder/stages/image-record.js';
import { ExecutionRecorder } from '../../src/builder/records/execution-records.js';
import { openStore } from '../../src/app/server-start.js';
import { runLogs } from '../../src/cli/logs-command.js';
import { KilnError } from '../../src/domain/errors.js';
import { managedWorkflowArn } from '../../src/domain/managed-workflows.js';
import { RegistryError, errorBody } from '../../src/registry/server/errors.js';
import { SAY_HI_DOCUMENT, startFixture } from './fixture.js';

test('a build failing on an fs error shows no data-directory path in the reason, the step messages or the step log', async (t) => {
  const f = await startFixture(t);
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  const ib = f.client();
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT }))).componentBuildVersionArn!;
  const imageRecipeArn = (await ib.send(new CreateImageRecipeCommand({ name: 'web', semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn }] }))).imageRecipeArn!;
  const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'infra', instanceProfileName: 'Profile', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
  const arn = (await ib.send(new CreateImageCommand({ imageRecipeArn, infrastructureConfigurationArn }))).imageBuildVersionArn!;

  // A real fs error on a blob the build needed, as the build engine would meet it.
  const fsError = (await readFile(path.join(f.dataDir, 'blobs', 'sha256', 'f'.repeat(64))).catch((err: unknown) => err)) as Error;
  assert.ok(fsError.message.includes(f.dataDir), 'the raw error names the host path');

  // What the build worker and the step runner record for such a failure.
  const image = (await store.getResource(arn))!;
  const recorder = new ExecutionRecorder(store, path.join(f.dataDir, 'logs'));
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: managedWorkflowArn(image.region, 'container', 'BUILD'), totalStepCount: 1 });
  const step = await wf.startStep({ name: 'Build', action: 'ExecuteComponents' });
  step.log(`unpacking the parent image\nFAILED: ${fsError.message}\n`);
  await step.finish('FAILED', { message: fsError.message });
  await wf.finish('FAILED', fsError.message);
  await advance(store, arn, 'FAILED', { reason: fsError.message });

  const shown: string[] = [];
  const reason = (await ib.send(new GetImageCommand({ imageBuildVersionArn: arn }))).image?.state?.reason ?? '';
  assert.match(reason, /ENOENT: no such file or directory, open '<data-dir>\/blobs\/sha256\/f{64}'/);
  shown.push(reason);
  const executions = (await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
  assert.equal(executions.length, 1);
  shown.push(executions[0]!.message ?? '');
  const steps = (await ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: executions[0]!.workflowExecutionId! }))).steps ?? [];
  for (const s of steps) {
    shown.push(s.message ?? '');
    shown.push((await ib.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: s.stepExecutionId! }))).message ?? '');
  }
  let log = '';
  assert.equal(await runLogs(arn, { endpoint: f.server.endpoint, region: 'local', dataDir: f.dataDir }, (text) => (log += text), () => undefined), 0);
  assert.match(log, /FAILED: ENOENT.*<data-dir>\/blobs/);
  shown.push(log);
  for (const text of shown) {
    assert.ok(text.includes('<data-dir>'), text);
    assert.ok(!text.includes(f.dataDir), `a host path reached the tenant: ${text}`);
  }
});

test('API and registry errors carrying a host path reach the caller without it; unknown errors say nothing', async (t) => {
  const f = await startFixture(t);
  const hostFile = path.join(f.dataDir, 'kiln.db');
  const app = buildApi({
    handlers: {
      ListComponents: () => Promise.reject(new KilnError('Internal', `cannot read '${hostFile}': EACCES`)),
      GetComponent: () => Promise.reject(Object.assign(new Error(`ENOENT: no such file or directory, open '${hostFile}'`), { code: 'ENOENT' })),
    },
    regions: new Set(['local']),
    lookupKey: (id) => Promise.resolve(id === 'AKIDHOSTPATHS' ? { accountId: '123456789012', secretAccessKey: 'secret' } : undefined),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const { port } = app.server.address() as { port: number };
  const ib = new ImagebuilderClient({ endpoint: `http://127.0.0.1:${port}`, region: 'local', credentials: { accessKeyId: 'AKIDHOSTPATHS', secretAccessKey: 'secret' }, maxAttempts: 1 });
  t.after(() => ib.destroy());

  await assert.rejects(ib.send(new ListComponentsCommand({})), (err: Error) => {
    assert.equal(err.name, 'ServiceException');
    assert.equal(err.message, "cannot read '<data-dir>/kiln.db': EACCES");
    return true;
  });
  await assert.rejects(ib.send(new GetComponentCommand({ componentBuildVersionArn: 'arn:aws:imagebuilder:local:123456789012:component/x/1.0.0/1' })), (err: Error) => {
    assert.equal(err.name, 'ServiceException');
    assert.equal(err.message, 'An internal error occurred.');
    return true;
  });

  const body = errorBody(new RegistryError('UNKNOWN', `writing ${path.join(f.dataDir, 'blobs', 'uploads', 'x')} failed`));
  assert.equal(body.errors[0]?.message, 'writing <data-dir>/blobs/uploads/x failed');
});
