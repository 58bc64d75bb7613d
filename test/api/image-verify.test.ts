// Machine-image signatures without a boot (issue 18): an imported disk's image is signed like a built one;
// `kiln images verify` says what it verified, by ARN and by machine image id, fails with another account's key
// given as --key, and fails once the stored disk no longer has the signed digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, openSync, closeSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetImageCommand, ImportVmImageCommand } from '@aws-sdk/client-imagebuilder';
import { ROOT_TYPE } from '../../src/artifacts/disk/assemble.js';
import { hasTool } from '../../src/artifacts/oci/testing.js';
import { KILN, kilnAs } from '../helpers/kiln-cli.js';
import { startFixture } from './fixture.js';

test('kiln images verify checks a machine image signature against the account key and the stored disk', { skip: hasTool('qemu-img') && hasTool('sfdisk') ? false : 'needs qemu-img and sfdisk' }, async (t) => {
  const f = await startFixture(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-verify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (args: string[]) => kilnAs(f.server.endpoint, f.credentials, args);

  const raw = path.join(dir, 'disk.raw');
  writeFileSync(raw, '');
  truncateSync(raw, 64 * 1024 * 1024);
  execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', raw], { input: `label: gpt\nstart=2048, type=${ROOT_TYPE}\n` });
  const imported = await cli(['images', 'import', raw, '--format', 'raw']);
  assert.equal(imported.code, 0, imported.stderr);
  const made = await f.client().send(new ImportVmImageCommand({ name: 'signed-disk', semanticVersion: '1.0.0', platform: 'Linux', vmImportTaskId: imported.stdout.trim() }));
  const arn = made.imageArn!;
  const ami = (await f.client().send(new GetImageCommand({ imageBuildVersionArn: arn }))).image?.outputResources?.amis?.[0]?.image;
  assert.ok(ami);

  for (const ref of [arn, ami]) {
    const ok = await cli(['images', 'verify', ref]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`^${arn.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: verified: disk (sha256:[0-9a-f]{64}) is stored unchanged and signed by account \\d{12}'s key \\(SHA256:[0-9a-f]{16}…\\)\\n$`));
  }

  // With a key kept apart: the account's own verifies, another account's does not.
  const own = await cli(['accounts', 'signing-key', arn.split(':')[4]!]);
  writeFileSync(path.join(dir, 'own.pem'), own.stdout);
  assert.equal((await cli(['images', 'verify', arn, '--key', path.join(dir, 'own.pem')])).code, 0);
  const other = JSON.parse(execFileSync(KILN, ['accounts', 'create', 'other', '--json', '--data-dir', f.dataDir], { encoding: 'utf8' })) as { accountId: string };
  writeFileSync(path.join(dir, 'other.pem'), (await cli(['accounts', 'signing-key', other.accountId])).stdout);
  const wrongKey = await cli(['images', 'verify', arn, '--key', path.join(dir, 'other.pem')]);
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /NOT verified: the signature does not verify with the key of account \d{12}/);

  // The stored disk changed behind Kiln's back: the signature no longer covers it.
  const digest = /disk (sha256:[0-9a-f]{64})/.exec((await cli(['images', 'verify', arn])).stdout)![1]!;
  const stored = path.join(f.dataDir, 'disks', 'sha256', `${digest.slice('sha256:'.length)}.raw`);
  chmodSync(stored, 0o644);
  const fd = openSync(stored, 'r+');
  writeSync(fd, 'tampered', 40 * 1024 * 1024);
  closeSync(fd);
  const changed = await cli(['images', 'verify', arn]);
  assert.equal(changed.code, 1);
  assert.match(changed.stderr, new RegExp(`NOT verified: the stored disk is sha256:[0-9a-f]{64} now; the signature is over ${digest}`));
});
