/**
 * Test support for src/events: a real SqliteStore in a temp directory, and image records shaped as
 * CreateImage stores them. Not used by production code.
 */
import type { TestContext } from 'node:test';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SecretBox } from '../store/secret-box.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { ResourceRecord, Store } from '../store/store.js';

export const ACCOUNT = '111122223333';
export const REGION = 'local';

/** A fresh SqliteStore, closed and deleted after the test. */
export function tempStore(t: TestContext): SqliteStore {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-events-'));
  const store = new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

/** Stores a PENDING container image build version (build number assigned), as CreateImage would. */
export async function createImage(store: Store, options: { name?: string; accountId?: string; snsTopicArn?: string; data?: Record<string, unknown> } = {}): Promise<ResourceRecord> {
  const accountId = options.accountId ?? ACCOUNT;
  const name = options.name ?? 'web';
  const infraArn = `arn:aws:imagebuilder:${REGION}:${accountId}:infrastructure-configuration/build-infra`;
  const { record } = await store.createResource({
    accountId,
    region: REGION,
    type: 'image',
    name,
    version: '1.0.0',
    arn: `arn:aws:imagebuilder:${REGION}:${accountId}:image/${name}/1.0.0`,
    build: 'assign',
    data: {
      name,
      type: 'DOCKER',
      platform: 'Linux',
      osVersion: 'Debian 12',
      state: { status: 'PENDING' },
      containerRecipe: {
        arn: `arn:aws:imagebuilder:${REGION}:${accountId}:container-recipe/${name}/1.0.0`,
        name,
        version: '1.0.0',
        components: [{ componentArn: `arn:aws:imagebuilder:${REGION}:${accountId}:component/hello/1.0.0/1` }],
        parentImage: 'debian:12',
        dateCreated: '2022-07-28T01:13:45.000Z',
        tags: { team: 'web' },
      },
      infrastructureConfiguration: {
        arn: infraArn,
        name: 'Build Infra',
        instanceProfileName: 'kiln',
        instanceTypes: ['ns.small'],
        terminateInstanceOnFailure: true,
        ...(options.snsTopicArn === undefined ? {} : { snsTopicArn: options.snsTopicArn }),
        dateCreated: '2022-07-28T13:05:09.000Z',
        tags: {},
      },
      buildType: 'USER_INITIATED',
      imageSource: 'CUSTOM',
      enhancedImageMetadataEnabled: true,
      tags: { purpose: 'test' },
      dateCreated: '2022-07-28T01:13:45.000Z',
      ...options.data,
    },
  });
  return record;
}

export interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on 127.0.0.1 answering each request with what `answer` says ('hang': never). */
export async function startReceiver(t: TestContext, answer: (n: number) => number | 'hang'): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body });
      const a = answer(received.length);
      if (a !== 'hang') res.writeHead(a).end(a === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks/kiln?token=hidden`, received };
}
