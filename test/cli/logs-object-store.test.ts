import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ObjectBucket } from '../../src/artifacts/s3/object-bucket.js';
import { BucketStepLogStore, ExecutionRecorder } from '../../src/builder/records/execution-records.js';
import { createS3Client } from '../../src/toe/actions/s3-config.js';
import { createPendingImage, setImageStatus, startExecutionServer } from '../helpers/execution-server.js';
import { kilnLogs } from '../helpers/kiln-logs.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3rver.js';

const BUILD_WF = 'arn:aws:imagebuilder:local:aws:workflow/build/build-container/1.0.0/1';

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-logs-s3-'));
let s3: LocalS3;
before(async () => {
  s3 = await startLocalS3(dir, ['kiln']);
});
after(async () => {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('kiln logs --follow through an API node that shares only the bucket with the worker writing the log', async (t) => {
  // The API node reads logs through its own client; the "worker" records through another, as on another host.
  const apiClient = await createS3Client(s3.settings);
  const workerClient = await createS3Client(s3.settings);
  t.after(() => {
    apiClient.destroy();
    workerClient.destroy();
  });
  const server = await startExecutionServer(t, { logs: new BucketStepLogStore({ bucket: new ObjectBucket({ client: apiClient, bucket: 'kiln', prefix: 'c/logs/' }) }) });
  const worker = new ExecutionRecorder(server.store, new BucketStepLogStore({ bucket: new ObjectBucket({ client: workerClient, bucket: 'kiln', prefix: 'c/logs/' }), shipEveryMs: 200 }));
  const ib = server.client();
  const image = await createPendingImage(server, ib);
  await setImageStatus(server.store, image.arn, 'BUILDING');
  const build = await worker.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: BUILD_WF, totalStepCount: 1 });
  const apply = await build.startStep({ name: 'ApplyBuildComponents', action: 'ExecuteComponents' });
  apply.log('first line from the worker\n');

  const cli = await kilnLogs(t, [image.arn, '--follow', '--endpoint', server.endpoint, '--data-dir', server.dataDir]);
  await cli.waitFor(/first line from the worker\n/);
  apply.log('second line, while the step runs\n', 'stderr');
  await cli.waitFor(/second line, while the step runs\n/);
  assert.equal(cli.output(), '== BUILD ApplyBuildComponents (RUNNING) ==\nfirst line from the worker\nsecond line, while the step runs\n');
  apply.log('last line\n');
  await apply.finish('COMPLETED');
  await build.finish('COMPLETED');
  await setImageStatus(server.store, image.arn, 'AVAILABLE');
  assert.equal(await cli.exited, 0, cli.errors());
  assert.equal(
    cli.output(),
    '== BUILD ApplyBuildComponents (RUNNING) ==\nfirst line from the worker\nsecond line, while the step runs\nlast line\n== BUILD ApplyBuildComponents (COMPLETED) ==\n',
  );
  assert.ok((await new ObjectBucket({ client: s3.client, bucket: 'kiln', prefix: 'c/' }).list('logs/')).length > 0, 'the log is in the bucket');
  assert.equal(existsSync(server.logsRoot), false, 'and not in a data directory');
});
