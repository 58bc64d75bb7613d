/**
 * Test helpers for the execution records tests: a temp store with one image build version, a recorder over
 * it, and readers of what they stored.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { parseRecord, STAMPED_LOG_HEADER } from '../../logs/step-log-format.js';
import { SecretBox } from '../../store/secret-box.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import { ExecutionRecorder } from './workflow-executions.js';

/** A stored log's lines as `stream:text`, its header checked. */
export function storedLines(stored: string): string[] {
  assert.ok(stored.startsWith(STAMPED_LOG_HEADER), stored.slice(0, 80));
  return stored.slice(STAMPED_LOG_HEADER.length).split('\n').slice(0, -1).map((r) => {
    const line = parseRecord(r);
    return `${line.stream}:${line.text}`;
  });
}

export const ACCOUNT = '111122223333';
export const WF_ARN = 'arn:aws:imagebuilder:local:aws:workflow/build/build-container/1.0.0/1';

export interface Env {
  store: Store;
  logsRoot: string;
  recorder: ExecutionRecorder;
  image: ResourceRecord;
}

/** A temp store (as openStore lays it out) with one image build version record, and a recorder. */
export async function setup(t: TestContext, name = 'app'): Promise<Env> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kiln-exec-rec-'));
  const store = new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const logsRoot = path.join(dir, 'logs');
  const image = await makeImage(store, name);
  return { store, logsRoot, recorder: new ExecutionRecorder(store, logsRoot), image };
}

export async function makeImage(store: Store, name: string): Promise<ResourceRecord> {
  const { record } = await store.createResource({
    accountId: ACCOUNT,
    region: 'local',
    type: 'image',
    name,
    version: '1.2.3',
    arn: `arn:aws:imagebuilder:local:${ACCOUNT}:image/${name}/1.2.3`,
    data: { name, state: { status: 'BUILDING' } },
    build: 'assign',
  });
  return record;
}

export function kind(expected: string, field?: string) {
  return (err: unknown) => {
    assert.ok(isKilnError(err, expected as never), String(err));
    if (field !== undefined) assert.ok(err.issues.some((i) => i.path === field) || err.message.includes(`'${field}'`), err.message);
    return true;
  };
}
