import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateComponentCommand, CreateContainerRecipeCommand, CreateImageCommand, CreateInfrastructureConfigurationCommand, DeleteImageCommand } from '@aws-sdk/client-imagebuilder';
import { ObjectBucket } from '../../src/artifacts/s3/object-bucket.js';
import { imageLogFolder } from '../../src/builder/records/execution-records.js';
import { startFixture } from '../api/fixture.js';
import { kilnLogs } from '../helpers/kiln-logs.js';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../helpers/postgres.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3rver.js';
import { bashComponent, buildSkipReason, pushHostBase, startBuildServer, waitForImage } from './helpers.js';

// A worker node (builds on) and an API node (builds off) on their own data directories, sharing one PostgreSQL
// store and one bucket: the build's step logs are followed through the API node while the worker writes them.
const skip = buildSkipReason() ?? postgresUnavailable();
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-objstore-build-'));
let s3: LocalS3 | undefined;
let pg: LocalPostgres | undefined;
before(async () => {
  if (skip) return;
  s3 = await startLocalS3(path.join(dir, 's3'), ['kiln']);
  pg = await startPostgres();
});
after(async () => {
  await s3?.stop();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a container build on a worker node: kiln logs --follow through another API node shows its steps live; DeleteImage there deletes them from the bucket', { skip, timeout: 600_000 }, async (t) => {
  const { endpoint, region, accessKeyId, secretAccessKey } = s3!.settings;
  const config = {
    store: await pg!.createDatabase(),
    secretKeyFile: path.join(dir, 'secret.key'),
    objectStore: { bucket: 'kiln', prefix: 'cluster/', endpoint: endpoint!, region: region!, forcePathStyle: true, accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! },
  };
  const worker = await startBuildServer(t, config);
  const api = await startFixture(t, { config });
  const base = await pushHostBase(t, worker, 'bases/cluster');
  const component = await worker.client.send(
    new CreateComponentCommand({ name: 'chatty', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['for i in 1 2 3; do echo "worker line $i"; sleep 3; done'] }) }),
  );
  const recipe = await worker.client.send(
    new CreateContainerRecipeCommand({
      containerType: 'DOCKER',
      name: 'cluster',
      semanticVersion: '1.0.0',
      parentImage: base,
      targetRepository: { service: 'ECR', repositoryName: 'e2e/cluster' },
      components: [{ componentArn: component.componentBuildVersionArn! }],
      dockerfileTemplateData: ['FROM {{{ imagebuilder:parentImage }}}', '{{{ imagebuilder:components }}}'].join('\n'),
    }),
  );
  const infra = await worker.client.send(new CreateInfrastructureConfigurationCommand({ name: 'cluster', instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }));
  // Created through the API node: the worker leases it from the shared store.
  const created = await api.client().send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn!, infrastructureConfigurationArn: infra.infrastructureConfigurationArn! }));
  const arn = created.imageBuildVersionArn!;

  const cli = await kilnLogs(t, [arn, '--follow', '--endpoint', api.server.endpoint, '--data-dir', api.dataDir]);
  await cli.waitFor(/worker line 1\n/, 300_000);
  assert.doesNotMatch(cli.output(), /worker line 3/, 'the first line arrives before the component is done');
  const code = await cli.exited;
  const image = await waitForImage(worker.client, arn);
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  assert.equal(code, 0, cli.errors());
  assert.match(cli.output(), /worker line 1\n(.*\n)*worker line 2\n(.*\n)*worker line 3\n/);
  assert.match(cli.output(), /== BUILD LaunchBuildInstance \(COMPLETED\) ==/);

  const folder = imageLogFolder(arn);
  const workerLogs = path.join(worker.dataDir, 'logs', folder);
  const localStepLogs = existsSync(workerLogs) ? readdirSync(workerLogs).filter((n) => n.endsWith('.log')) : [];
  assert.deepEqual(localStepLogs, [], 'the worker keeps no step log in its data directory');
  const logs = new ObjectBucket({ client: s3!.client, bucket: 'kiln', prefix: 'cluster/logs/' });
  assert.ok((await logs.list(`${folder}/`)).length > 0);

  await api.client().send(new DeleteImageCommand({ imageBuildVersionArn: arn }));
  assert.deepEqual(await logs.list(`${folder}/`), [], 'DeleteImage on the API node deleted the logs from the bucket');
});
