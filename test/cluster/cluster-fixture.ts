/**
 * A Kiln cluster on this machine, every node its own process as on separate hosts: PostgreSQL 15 (a throwaway
 * cluster) for state, s3rver for bytes, `kiln serve --roles …` API nodes and `kiln worker`s, each with its own
 * data directory. The cluster test and bench/cluster-builds.ts share it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImagebuilderClient } from '@aws-sdk/client-imagebuilder';
import { kilnRequest } from '../../src/cli/kiln-client.js';
import { readCredentials } from '../api/fixture.js';
import { startPostgres, type LocalPostgres } from '../helpers/postgres.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3rver.js';

const KILN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/kiln');

/** One node: a `kiln serve` or `kiln worker` process. */
export interface ClusterNode {
  name: string;
  child: ChildProcess;
  dataDir: string;
  /** Base URL it listens at (the public API for an API node, the internal listener for a worker). */
  endpoint: string;
  /** What the process wrote on stderr so far (its log). */
  log(): string;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a power cut would, and wait for the exit. */
  kill(): Promise<void>;
}

/** A worker as `GET /kiln/workers` answers it. */
export interface WorkerView {
  id: string;
  host: string;
  roles: string[];
  state: 'active' | 'lost';
  lastSeen: string;
  runningImages: string[];
}

export interface Cluster {
  root: string;
  configFile: string;
  postgres: LocalPostgres;
  s3: LocalS3;
  api: ClusterNode[];
  workers: ClusterNode[];
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** An Image Builder client on API node `i` (default the first). */
  client(i?: number): ImagebuilderClient;
  /** The workers as API node `i` lists them. */
  listWorkers(i?: number): Promise<WorkerView[]>;
  /** Every node started so far, stopped or not, in start order. */
  nodes(): ClusterNode[];
  /** Starts a node with the cluster's configuration: `serve --roles …` or `worker`. */
  startNode(name: string, args: string[], dataDir?: string): Promise<ClusterNode>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Role lists of the API nodes (default one `api,scheduler`). */
  apiRoles?: string[];
  workers?: number;
  /** Settings added to the shared configuration file. */
  config?: Record<string, unknown>;
}

async function waitForOutput(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpExecArray> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms: ${out}`)), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${out}`));
    });
  });
}

/** Starts PostgreSQL, the S3 server and the nodes; `stop()` ends them all and deletes every directory. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const root = mkdtempSync(path.join(tmpdir(), 'kiln-cluster-'));
  const postgres = await startPostgres();
  const s3 = await startLocalS3(path.join(root, 's3'), ['kiln']);
  const nodes: ClusterNode[] = [];
  const configFile = path.join(root, 'kiln.json');
  const { endpoint, region, accessKeyId, secretAccessKey } = s3.settings;
  writeFileSync(
    configFile,
    JSON.stringify({
      store: await postgres.createDatabase(),
      objectStore: { bucket: 'kiln', prefix: 'cluster/', endpoint, region, forcePathStyle: true, accessKeyId, secretAccessKey },
      secretKeyFile: path.join(root, 'secret.key'),
      buildConcurrency: 1,
      buildLeaseSeconds: 6,
      ...options.config,
    }),
  );
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    await s3.stop();
    await postgres.stop();
    rmSync(root, { recursive: true, force: true });
  };

  // Image URIs name the first API node's registry, whichever node built the image.
  let registryHost = '';
  const startNode = async (name: string, args: string[], dataDir = path.join(root, name)): Promise<ClusterNode> => {
    mkdirSync(dataDir, { recursive: true });
    if (args[0] === 'worker' && registryHost) args = [...args, '--registry-host', registryHost];
    // No prefetching: a node bootstraps a managed base only when a build needs it (from the test run's
    // bootstrap cache, KILN_BOOTSTRAP_CACHE, when npm test set one).
    const child = spawn(KILN, [...args, '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KILN_PREFETCH_BASES: '0' } });
    let log = '';
    child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const end = async (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    };
    const m = await waitForOutput(child, /(?:API at |Listener: +)(https?:\/\/\S+)/, `node ${name}`);
    const node: ClusterNode = { name, child, dataDir, endpoint: m[1]!, log: () => log, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
    nodes.push(node);
    return node;
  };

  try {
    const api: ClusterNode[] = [];
    for (const [i, roles] of (options.apiRoles ?? ['api,scheduler']).entries()) api.push(await startNode(`api${i + 1}`, ['serve', '--roles', roles]));
    registryHost = new URL(api[0]!.endpoint).host;
    const workers = await Promise.all(Array.from({ length: options.workers ?? 2 }, (_, i) => startNode(`worker${i + 1}`, ['worker'])));
    const credentials = readCredentials(path.join(api[0]!.dataDir, 'credentials'));
    const clients: ImagebuilderClient[] = [];
    return {
      root,
      configFile,
      postgres,
      s3,
      api,
      workers,
      credentials,
      client: (i = 0) => {
        const client = new ImagebuilderClient({ endpoint: api[i]!.endpoint, region: 'local', credentials, maxAttempts: 1 });
        clients.push(client);
        return client;
      },
      listWorkers: async (i = 0) => {
        const { status, body } = await kilnRequest({ endpoint: api[i]!.endpoint, region: 'local', credentials: { ...credentials, source: 'the cluster test' } }, { method: 'GET', path: '/kiln/workers' });
        if (status !== 200) throw new Error(`GET /kiln/workers answered ${status}: ${JSON.stringify(body)}`);
        return body.workers as WorkerView[];
      },
      nodes: () => [...nodes],
      startNode,
      stop: async () => {
        for (const c of clients) c.destroy();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
