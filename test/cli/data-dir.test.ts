/**
 * The data directory is private to Kiln's user: a new one is created 0700 with 0600 files (kiln.db and its
 * -wal/-shm included), an older one left world-readable is fixed at start, and another local user reads
 * neither the database nor a blob.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type TestContext } from 'node:test';
import { digestOf } from '../../src/artifacts/blob-store.js';
import { startServer, type RunningServer } from '../../src/app/server-start.js';
import { readCredentials } from '../api/fixture.js';

const mode = (file: string) => statSync(file).mode & 0o777;

/** A world-traversable parent, so only the data directory's own modes keep other users out. */
function openParent(t: TestContext): string {
  const parent = mkdtempSync(path.join(tmpdir(), 'kiln-datadir-'));
  chmodSync(parent, 0o755);
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  return parent;
}

async function serve(t: TestContext, dataDir: string): Promise<RunningServer> {
  const server = await startServer({ dataDir, listen: '127.0.0.1:0', builds: false });
  t.after(() => server.close());
  return server;
}

/** Pushes a blob through the built-in registry as the admin; returns its file. */
async function pushBlob(server: RunningServer, dataDir: string): Promise<string> {
  const { accessKeyId, secretAccessKey } = readCredentials(server.credentialsPath);
  const data = Buffer.from('private layer bytes');
  const digest = digestOf(data);
  const res = await fetch(`${server.endpoint}/v2/team/private/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: data,
    headers: { authorization: `Basic ${Buffer.from(`${accessKeyId}:${secretAccessKey}`).toString('base64')}` },
  });
  assert.equal(res.status, 201);
  return path.join(dataDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

function readsAsNobody(file: string): boolean {
  return spawnSync('runuser', ['-u', 'nobody', '--', 'cat', file], { stdio: 'ignore' }).status === 0;
}

const asRoot = process.getuid?.() === 0 && spawnSync('runuser', ['--version'], { stdio: 'ignore' }).status === 0;

test('a new data directory is 0700 with 0600 files, the database\'s -wal and -shm included', async (t) => {
  const dataDir = path.join(openParent(t), 'data');
  const server = await serve(t, dataDir);
  const blob = await pushBlob(server, dataDir);
  assert.equal(mode(dataDir), 0o700);
  for (const name of readdirSync(dataDir)) {
    const file = path.join(dataDir, name);
    assert.equal(mode(file), statSync(file).isDirectory() ? 0o700 : 0o600, name);
  }
  for (const name of ['kiln.db', 'kiln.db-wal', 'kiln.db-shm']) assert.equal(mode(path.join(dataDir, name)), 0o600, name);
  assert.equal(mode(blob), 0o600);
});

test('a data directory left open by an older Kiln is fixed at start; another user reads neither the database nor a blob', { skip: asRoot ? false : 'needs root and runuser' }, async (t) => {
  const parent = openParent(t);
  const dataDir = path.join(parent, 'data');
  const first = await serve(t, dataDir);
  const blob = await pushBlob(first, dataDir);
  await first.close();
  // What an older Kiln left: everything readable by every local user.
  chmodSync(dataDir, 0o755);
  for (const name of ['kiln.db', 'kiln.db-wal', 'kiln.db-shm']) {
    try {
      chmodSync(path.join(dataDir, name), 0o644);
    } catch {
      // -wal and -shm are gone after a clean close.
    }
  }
  chmodSync(path.join(dataDir, 'blobs'), 0o755);
  chmodSync(path.join(dataDir, 'blobs', 'sha256'), 0o755);
  chmodSync(blob, 0o644);
  // Not Kiln's: left as it is.
  writeFileSync(path.join(dataDir, 'notes.txt'), 'operator notes', { mode: 0o644 });
  chmodSync(path.join(dataDir, 'notes.txt'), 0o644);
  const control = path.join(parent, 'control');
  writeFileSync(control, 'x', { mode: 0o644 });
  assert.ok(readsAsNobody(control), 'nobody reads a world-readable file (the test itself works)');
  assert.ok(readsAsNobody(path.join(dataDir, 'kiln.db')), 'the old layout is readable by others');

  await serve(t, dataDir);
  assert.equal(mode(dataDir), 0o700);
  assert.equal(mode(path.join(dataDir, 'kiln.db')), 0o600);
  assert.equal(mode(path.join(dataDir, 'blobs')), 0o700);
  assert.equal(mode(path.join(dataDir, 'notes.txt')), 0o644, 'files that are not Kiln\'s keep their mode');
  assert.equal(readsAsNobody(path.join(dataDir, 'kiln.db')), false);
  assert.equal(readsAsNobody(path.join(dataDir, 'kiln.db-wal')), false);
  assert.equal(readsAsNobody(blob), false);
});
