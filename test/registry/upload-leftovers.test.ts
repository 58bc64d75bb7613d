/**
 * What a crashed Kiln leaves of registry uploads is removed when the next one starts: upload session files
 * (chunked pushes) and blob temp files (monolithic pushes), which may hold parts of private images.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { startServer } from '../../src/app/server-start.js';
import { readCredentials } from '../api/fixture.js';

test('partial uploads left by a killed server are removed at start; uploads work afterwards', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-leftovers-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const uploads = path.join(dataDir, 'blobs', 'uploads');
  const sha = path.join(dataDir, 'blobs', 'sha256');
  mkdirSync(uploads, { recursive: true });
  mkdirSync(sha, { recursive: true });
  // Written just now, as a crash a moment ago would leave them.
  writeFileSync(path.join(uploads, '0b6f3c3e-9d1c-4f7e-a3a4-5a0a3c1d2e4f'), 'half of a private layer');
  writeFileSync(path.join(sha, '.tmp-0123456789abcdef'), 'half of a monolithic push');

  const server = await startServer({ dataDir, listen: '127.0.0.1:0', builds: false });
  t.after(() => server.close());
  assert.deepEqual(readdirSync(uploads), [], 'session files go before the registry serves');
  // Blob temp files go in the background (listing blobs/sha256 may take a while).
  for (let i = 0; i < 50 && existsSync(path.join(sha, '.tmp-0123456789abcdef')); i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(readdirSync(sha), []);

  const { accessKeyId, secretAccessKey } = readCredentials(server.credentialsPath);
  const started = await fetch(`${server.endpoint}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${accessKeyId}:${secretAccessKey}`).toString('base64')}` } });
  assert.equal(started.status, 202);
  assert.equal(readdirSync(uploads).length, 1, 'a new session has its file');
});
