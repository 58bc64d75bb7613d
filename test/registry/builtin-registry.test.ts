/**
 * Kiln's built-in registry against independent clients: skopeo pushes an OCI layout into it and copies it back
 * out, podman pulls from it, and the account rules hold for real tools (401, 403 on pushes, 404 on reads of private repositories, sharing, public reads).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { exportLayout } from '../../src/artifacts/oci/image.js';
import { makeTestImage, startKilnRegistry } from '../helpers/registry.js';
import { hasTool } from '../../src/artifacts/oci/testing.js';

const execFileAsync = promisify(execFile);

const missing = ['skopeo', 'podman', 'runc', 'getfattr'].filter((tool) => !hasTool(tool));
const skip = missing.length > 0 ? `needs ${missing.join(', ')}` : process.getuid?.() !== 0 ? 'needs root (podman storage)' : false;

/** Runs a tool asynchronously (the registry answers from this same process) and returns stdout. */
async function run(file: string, args: string[]): Promise<string> {
  return (await execFileAsync(file, args, { encoding: 'utf8', maxBuffer: 64 << 20 })).stdout;
}

/** Runs a tool that is expected to fail; returns its stderr. */
async function fails(file: string, args: string[]): Promise<string> {
  try {
    await execFileAsync(file, args, { encoding: 'utf8' });
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  assert.fail(`${file} ${args.join(' ')} succeeded`);
}

function temp(t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('skopeo and podman push to and pull from the built-in registry, under its account rules', { skip, timeout: 180_000 }, async (t) => {
  const kiln = await startKilnRegistry(t);
  const image = await makeTestImage(kiln.blobs, { 'etc/hello.txt': 'hello from kiln\n', 'usr/bin/tool': '#!/bin/sh\necho tool\n' });
  const layoutDir = temp(t, 'kiln-layout-');
  await exportLayout(kiln.blobs, image.manifestDigest, layoutDir, 'v1');
  const ref = `docker://${kiln.host}/team/app:v1`;
  const tls = '--dest-tls-verify=false';

  await t.test('skopeo copies an OCI layout in with the admin key, inspects it and copies it back out unchanged', async () => {
    const started = Date.now();
    await run('skopeo', ['copy', '--quiet', '--preserve-digests', tls, '--dest-creds', kiln.admin.creds, `oci:${layoutDir}:v1`, ref]);
    t.diagnostic(`skopeo push: ${Date.now() - started} ms`);
    const inspected = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--creds', kiln.admin.creds, ref])) as { Digest: string; Layers: string[] };
    // On a mismatch, say what the registry holds under the tag, so the difference can be read from the log.
    if (inspected.Digest !== image.manifestDigest) {
      const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', kiln.admin.creds, ref]).catch((err: unknown) => String(err));
      assert.fail(`skopeo inspect gave ${inspected.Digest}, not the pushed ${image.manifestDigest}; the registry has: ${raw}\npushed: ${(await kiln.blobs.get(image.manifestDigest)).toString('utf8')}`);
    }
    assert.deepEqual(inspected.Layers, image.layerDigests);
    const out = temp(t, 'kiln-layout-out-');
    await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', kiln.admin.creds, ref, `oci:${out}:copy`]);
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, image.manifestDigest);
    for (const digest of [image.configDigest, ...image.layerDigests]) {
      assert.deepEqual(readFileSync(path.join(out, 'blobs', 'sha256', digest.slice(7))), await kiln.blobs.get(digest));
    }
    // A second push finds every blob there already.
    await run('skopeo', ['copy', '--quiet', '--preserve-digests', tls, '--dest-creds', kiln.admin.creds, `oci:${layoutDir}:v1`, `docker://${kiln.host}/team/app:v1-again`]);
    const tags = JSON.parse(await run('skopeo', ['list-tags', '--tls-verify=false', '--creds', kiln.admin.creds, `docker://${kiln.host}/team/app`])) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['v1', 'v1-again']);
  });

  await t.test('podman pulls the image with the admin key', async (t) => {
    const root = temp(t, 'kiln-podman-');
    const podman = ['--root', path.join(root, 'storage'), '--runroot', path.join(root, 'run'), '--storage-driver', 'vfs', '--runtime', 'runc'];
    const started = Date.now();
    await run('podman', [...podman, 'pull', '--quiet', '--tls-verify=false', '--creds', kiln.admin.creds, `${kiln.host}/team/app:v1`]);
    t.diagnostic(`podman pull: ${Date.now() - started} ms`);
    const digest = (await run('podman', [...podman, 'image', 'inspect', '--format', '{{.Digest}}', `${kiln.host}/team/app:v1`])).trim();
    assert.equal(digest, image.manifestDigest);
    await run('podman', [...podman, 'rmi', '--all', '--force']);
  });

  await t.test('a wrong secret gets 401', async () => {
    const stderr = await fails('skopeo', ['inspect', '--tls-verify=false', '--creds', `${kiln.admin.accessKeyId}:wrong`, ref]);
    assert.match(stderr, /unauthorized|401/i);
  });

  await t.test('another account may not push to the repository, and reads it only once it is shared', async () => {
    const other = await kiln.addAccount('other');
    const denied = await fails('skopeo', ['copy', '--quiet', '--preserve-digests', tls, '--dest-creds', other.creds, `oci:${layoutDir}:v1`, `docker://${kiln.host}/team/app:hijack`]);
    assert.match(denied, /denied|403/i);
    // A private repository reads as a missing one to other accounts.
    assert.match(await fails('skopeo', ['inspect', '--tls-verify=false', '--creds', other.creds, ref]), /name unknown|does not exist/i);
    await kiln.registry.setAccess({ repository: 'team/app', accounts: [other.accountId] });
    const inspected = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--creds', other.creds, ref])) as { Digest: string };
    assert.equal(inspected.Digest, image.manifestDigest);
    assert.match(await fails('skopeo', ['copy', '--quiet', '--preserve-digests', tls, '--dest-creds', other.creds, `oci:${layoutDir}:v1`, `docker://${kiln.host}/team/app:hijack`]), /denied|403/i);
    // Its own repositories are its own.
    await run('skopeo', ['copy', '--quiet', '--preserve-digests', tls, '--dest-creds', other.creds, `oci:${layoutDir}:v1`, `docker://${kiln.host}/other/app:v1`]);
  });

  await t.test('anonymous callers read a public repository and nothing else', async () => {
    assert.match(await fails('skopeo', ['inspect', '--tls-verify=false', '--no-creds', ref]), /unauthorized|401|authentication required/i);
    await kiln.registry.setAccess({ repository: 'team/app', public: true });
    const inspected = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--no-creds', ref])) as { Digest: string };
    assert.equal(inspected.Digest, image.manifestDigest);
    const out = temp(t, 'kiln-layout-anon-');
    await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-no-creds', ref, `oci:${out}:anon`]);
    assert.match(await fails('skopeo', ['inspect', '--tls-verify=false', '--no-creds', `docker://${kiln.host}/other/app:v1`]), /unauthorized|401|authentication required/i);
  });
});
