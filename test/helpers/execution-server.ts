import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import {
  CreateComponentCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { registerLogRoutes } from '../../src/api/kiln/logs-route.js';
import { buildApi } from '../../src/api/aws/server.js';
import { ExecutionRecorder, FsStepLogStore, type StepLogStore } from '../../src/builder/records/execution-records.js';
import { createAccount, ensureAdmin } from '../../src/service/accounts.js';
import { buildHandlers } from '../../src/service/handlers.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ResourceRecord, Store } from '../../src/store/store.js';

/**
 * A real API server without a build engine (images stay PENDING until a test moves them), with the step-log
 * route, over a temp data directory laid out as `kiln serve` lays it out (kiln.db, credentials, logs/).
 */
export interface ExecutionServer {
  endpoint: string;
  dataDir: string;
  logsRoot: string;
  store: Store;
  recorder: ExecutionRecorder;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A stock SDK client, for the admin account unless other keys are given. */
  client(keys?: { accessKeyId: string; secretAccessKey: string }): ImagebuilderClient;
  /** A second account with its keys. */
  newAccount(name: string): Promise<{ accountId: string; keys: { accessKeyId: string; secretAccessKey: string } }>;
}

/** `logs`: where step logs are kept (default: the data directory's logs/). */
export async function startExecutionServer(t: TestContext, options: { logs?: StepLogStore } = {}): Promise<ExecutionServer> {
  // Released in reverse order of acquisition: clients, server, store, then the folder.
  const cleanups: (() => unknown)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kiln-exec-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  // The store as openStore (app/server-start.ts) lays it out, without loading the build engine's modules.
  const store = new SqliteStore({ path: path.join(dataDir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dataDir, 'secret.key')) });
  cleanups.push(() => store.close());
  const { account } = await ensureAdmin(store);
  const [key] = await store.listAccessKeys(account.accountId);
  const secret = await store.getAccessKeySecret(key!.accessKeyId);
  const credentials = { accessKeyId: key!.accessKeyId, secretAccessKey: secret!.secretAccessKey };
  await writeFile(path.join(dataDir, 'credentials'), `[default]\naws_access_key_id = ${credentials.accessKeyId}\naws_secret_access_key = ${credentials.secretAccessKey}\n`, { mode: 0o600 });
  const regions = new Set(['local']);
  const lookupKey = (id: string) => store.getAccessKeySecret(id);
  const logsRoot = path.join(dataDir, 'logs');
  const app = buildApi({ handlers: buildHandlers(store, { regions: [...regions] }), regions, lookupKey });
  const logs = options.logs ?? new FsStepLogStore(logsRoot);
  registerLogRoutes(app, { store, logs, lookupKey, regions });
  cleanups.push(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const clients: ImagebuilderClient[] = [];
  cleanups.push(() => clients.forEach((c) => c.destroy()));
  return {
    endpoint,
    dataDir,
    logsRoot,
    store,
    recorder: new ExecutionRecorder(store, logs),
    credentials,
    client: (keys = credentials) => {
      const c = new ImagebuilderClient({ endpoint, region: 'local', credentials: keys, maxAttempts: 1 });
      clients.push(c);
      return c;
    },
    newAccount: async (name) => {
      const created = await createAccount(store, name);
      return { accountId: created.account.accountId, keys: { accessKeyId: created.key.accessKeyId, secretAccessKey: created.key.secretAccessKey } };
    },
  };
}

const DOC = `schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ['echo hi']
`;

/** Creates a PENDING image through the SDK (component, image recipe, infrastructure configuration, CreateImage) and returns its record. */
export async function createPendingImage(server: ExecutionServer, ib: ImagebuilderClient, name = 'web'): Promise<ResourceRecord> {
  const componentArn = (await ib.send(new CreateComponentCommand({ name: `${name}-component`, semanticVersion: '1.0.0', platform: 'Linux', data: DOC }))).componentBuildVersionArn!;
  const imageRecipeArn = (await ib.send(new CreateImageRecipeCommand({ name, semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn }] }))).imageRecipeArn!;
  const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: `${name}-infra`, instanceProfileName: 'Profile', instanceTypes: ['ns.small'] })))
    .infrastructureConfigurationArn!;
  const arn = (await ib.send(new CreateImageCommand({ imageRecipeArn, infrastructureConfigurationArn }))).imageBuildVersionArn!;
  return (await server.store.getResource(arn))!;
}

/** Sets an image's state straight in the store, as the build engine does. */
export async function setImageStatus(store: Store, arn: string, status: string, reason?: string): Promise<void> {
  await store.updateResource(arn, (current) => ({ ...current.data, state: reason === undefined ? { status } : { status, reason } }));
}
