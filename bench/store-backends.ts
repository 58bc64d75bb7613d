/**
 * The Store's backends under the API: signed GetComponent and ListComponents throughput of one Kiln server on
 * its embedded SQLite store (the baseline) and one on PostgreSQL 15 (a throwaway cluster on loopback, started
 * here as the tests do: needs root and Debian's postgresql-15), 16 concurrent stock SDK clients each. Runs
 * alternate between the two (ROUNDS, default 3) on this noisy machine; the median of each is reported with
 * the ratio PostgreSQL / SQLite. REQUESTS per run (default 3000).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateComponentCommand, GetComponentCommand, ImagebuilderClient, ListComponentsCommand } from '@aws-sdk/client-imagebuilder';
import { drive, keepAliveClient, median } from './drive.js';
import { startServer, type RunningServer } from '../src/app/server-start.js';
import { postgresUnavailable, startPostgres } from '../test/helpers/postgres.js';
import { readCredentials } from '../test/api/fixture.js';

const CLIENTS = 16;
const REQUESTS = Number(process.env.REQUESTS ?? 3000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DOCUMENT = 'schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: S\n        action: ExecuteBash\n        inputs:\n          commands: [echo hi]\n';


interface Target {
  name: string;
  server: RunningServer;
  clients: ImagebuilderClient[];
  arn: string;
}

async function target(name: string, dataDir: string, store: string | undefined): Promise<Target> {
  const server = await startServer({ dataDir, listen: '127.0.0.1:0', builds: false, ...(store ? { config: { store } } : {}) });
  const credentials = readCredentials(server.credentialsPath);
  const make = () => keepAliveClient(server.endpoint, credentials);
  const setup = make();
  const arn = (await setup.send(new CreateComponentCommand({ name: 'bench', semanticVersion: '1.0.0', platform: 'Linux', data: DOCUMENT }))).componentBuildVersionArn!;
  for (let i = 0; i < 20; i++) await setup.send(new CreateComponentCommand({ name: `bench-${i}`, semanticVersion: '1.0.0', platform: 'Linux', data: DOCUMENT }));
  setup.destroy();
  return { name, server, clients: Array.from({ length: CLIENTS }, make), arn };
}

const skip = postgresUnavailable();
if (skip) {
  console.log(`store-backends: skipped, ${skip}`);
  process.exit(0);
}
const pgServer = await startPostgres();
const dirs = [await mkdtemp(join(tmpdir(), 'kiln-bench-sqlite-')), await mkdtemp(join(tmpdir(), 'kiln-bench-pg-'))];
const targets: Target[] = [];
try {
  targets.push(await target('sqlite', dirs[0]!, undefined));
  targets.push(await target('postgres', dirs[1]!, await pgServer.createDatabase()));
  const operations: [string, (t: Target) => (c: ImagebuilderClient) => Promise<unknown>][] = [
    ['GetComponent', (t) => (c) => c.send(new GetComponentCommand({ componentBuildVersionArn: t.arn }))],
    ['ListComponents', () => (c) => c.send(new ListComponentsCommand({ maxResults: 25 }))],
  ];
  for (const t of targets) await drive(t.clients, REQUESTS, operations[0]![1](t)); // warm-up: JIT, connections, pool
  console.log(`${CLIENTS} concurrent signed SDK clients, ${REQUESTS} requests per run, median of ${ROUNDS} alternating runs`);
  for (const [name, op] of operations) {
    const results: Record<string, number[]> = { sqlite: [], postgres: [] };
    for (let round = 0; round < ROUNDS; round++) for (const t of round % 2 ? [...targets].reverse() : targets) results[t.name]!.push((await drive(t.clients, REQUESTS, op(t))).rps);
    const sqlite = median(results.sqlite!);
    const postgres = median(results.postgres!);
    console.log(`${name.padEnd(15)} sqlite ${sqlite.toFixed(0).padStart(5)} req/s | postgres ${postgres.toFixed(0).padStart(5)} req/s | postgres/sqlite ${(postgres / sqlite).toFixed(2)}`);
  }
} finally {
  for (const t of targets) {
    t.clients.forEach((c) => c.destroy());
    await t.server.close();
  }
  await pgServer.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
