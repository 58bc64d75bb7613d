import type { TestContext } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ImagebuilderClient } from '@aws-sdk/client-imagebuilder';
import { startServer, type RunningServer, type ServeOptions } from '../../src/app/server-start.js';

export interface Fixture {
  server: RunningServer;
  dataDir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A stock SDK client for the admin account, or for other keys / region. */
  client(options?: { accessKeyId?: string; secretAccessKey?: string; region?: string }): ImagebuilderClient;
}

/** Reads the `[default]` profile of an AWS credentials file. */
export function readCredentials(file: string): { accessKeyId: string; secretAccessKey: string } {
  const text = readFileSync(file, 'utf8');
  const get = (key: string) => new RegExp(`^${key}\\s*=\\s*(\\S+)`, 'm').exec(text)?.[1] ?? '';
  return { accessKeyId: get('aws_access_key_id'), secretAccessKey: get('aws_secret_access_key') };
}

/**
 * Starts a real Kiln server on 127.0.0.1, port 0, without builds, with a temp data dir (or `dataDir`, to restart
 * on one); both go away after the test.
 */
export async function startFixture(t: TestContext, options: Pick<ServeOptions, 'clock' | 'scheduler' | 'config' | 'roles' | 'heartbeatMs'> & { dataDir?: string } = {}): Promise<Fixture> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'kiln-api-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const { dataDir: _given, ...serve } = options;
  const server = await startServer({ dataDir, listen: '127.0.0.1:0', builds: false, ...serve });
  t.after(() => server.close());
  const credentials = readCredentials(server.credentialsPath);
  const clients: ImagebuilderClient[] = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  return {
    server,
    dataDir,
    credentials,
    client: (options = {}) => {
      const c = new ImagebuilderClient({
        endpoint: server.endpoint,
        region: options.region ?? 'local',
        credentials: { accessKeyId: options.accessKeyId ?? credentials.accessKeyId, secretAccessKey: options.secretAccessKey ?? credentials.secretAccessKey },
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
  };
}

/** A one-step component document (`echo hi` in the build phase), for tests that need any valid component. */
export const SAY_HI_DOCUMENT = `schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ['echo hi']
`;
