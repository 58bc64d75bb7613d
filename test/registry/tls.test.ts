import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FsBlobStore } from '../../src/artifacts/blob-store.js';
import { exportLayout } from '../../src/artifacts/oci/image.js';
import { startServer } from '../../src/app/server-start.js';
import { readCredentials } from '../api/fixture.js';
import { makeTestImage } from '../helpers/registry.js';

function missingTool(): string | undefined {
  for (const tool of ['openssl', 'skopeo']) {
    try {
      execFileSync('bash', ['-c', `type -P ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  return undefined;
}

test('with a certificate in the configuration, the API and the registry speak HTTPS that skopeo verifies', { skip: missingTool() }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = path.join(dir, 'certs');
  execFileSync('mkdir', [certs]);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(certs, 'ca.crt'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const config = path.join(dir, 'kiln.yaml');
  writeFileSync(config, `tls:\n  certificate: ${path.join(certs, 'ca.crt')}\n  key: ${path.join(dir, 'key.pem')}\n`);
  const server = await startServer({ dataDir: path.join(dir, 'data'), listen: '127.0.0.1:0', configPath: config, builds: false });
  t.after(() => server.close());
  assert.match(server.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
  const creds = readCredentials(server.credentialsPath);

  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  const image = await makeTestImage(blobs, { 'hello.txt': 'over tls\n' });
  await exportLayout(blobs, image.manifestDigest, path.join(dir, 'layout'), 'x');
  const run = promisify(execFile);
  const ref = `docker://${server.registryHost}/tls/hello:1`;
  await run('skopeo', ['copy', '--quiet', '--preserve-digests', '--dest-cert-dir', certs, '--dest-creds', `${creds.accessKeyId}:${creds.secretAccessKey}`, `oci:${path.join(dir, 'layout')}:x`, ref]);
  const inspected = JSON.parse((await run('skopeo', ['inspect', '--cert-dir', certs, '--creds', `${creds.accessKeyId}:${creds.secretAccessKey}`, ref])).stdout) as { Digest: string };
  assert.equal(inspected.Digest, image.manifestDigest);
  // Without the certificate, verification fails: it is real TLS, not plain HTTP.
  await assert.rejects(run('skopeo', ['inspect', '--creds', `${creds.accessKeyId}:${creds.secretAccessKey}`, ref]), /certificate|x509/);
});

test('a tls setting that is not a pair of files is refused, naming the field', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'kiln.yaml');
  writeFileSync(config, 'tls:\n  certificate: /nonexistent.pem\n');
  await assert.rejects(startServer({ dataDir: path.join(dir, 'data'), listen: '127.0.0.1:0', configPath: config, builds: false }), /tls: must be \{certificate/);
  writeFileSync(config, 'tls:\n  certificate: /nonexistent.pem\n  key: /nonexistent.key\n');
  await assert.rejects(startServer({ dataDir: path.join(dir, 'data'), listen: '127.0.0.1:0', configPath: config, builds: false }), /tls\.certificate: cannot read \/nonexistent\.pem/);
});
