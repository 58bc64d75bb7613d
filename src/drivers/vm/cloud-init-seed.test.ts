import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { AGENT_USER_DATA, writeNoCloudSeed } from './cloud-init-seed.js';
import { vmArgs } from './vm-launch.js';

function missing(): string | false {
  for (const tool of ['mkfs.fat', 'mcopy', 'mtype', 'fatlabel']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  return false;
}

test('the NoCloud seed: a FAT volume labelled CIDATA holding meta-data (instance id, hostname) and the agent user-data', { skip: missing() }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-seed-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const image = await writeNoCloudSeed(dir, { id: 'kiln-abc-1', hostname: 'build-1' });
  assert.equal(image, path.join(dir, 'cidata.img'));
  assert.deepEqual(fs.readdirSync(dir), ['cidata.img'], 'the staged files are gone');
  assert.equal(execFileSync('fatlabel', [image], { encoding: 'utf8' }).trim(), 'CIDATA');
  assert.equal(execFileSync('mtype', ['-i', image, '::/meta-data'], { encoding: 'utf8' }), 'instance-id: kiln-abc-1\nlocal-hostname: build-1\n');
  const userData = execFileSync('mtype', ['-i', image, '::/user-data'], { encoding: 'utf8' });
  assert.equal(userData, AGENT_USER_DATA);
  assert.match(userData, /^#cloud-config\n/);
  assert.match(userData, /apt-get install -y -q qemu-guest-agent/);
  assert.match(userData, /systemctl enable --now qemu-guest-agent/);
});

test('a seed is attached read-only beside the boot disk; none without one', () => {
  const options = { firmware: 'bios' as const, accel: 'tcg' as const, vcpus: 1, memoryMiB: 512, network: 'nat' as const };
  const withSeed = vmArgs(options, { file: '/d/disk.qcow2', format: 'qcow2', snapshot: false, seed: '/d/cidata.img' }, '/d/qga.sock');
  assert.ok(withSeed.includes('file=/d/cidata.img,if=virtio,format=raw,readonly=on'), withSeed.join(' '));
  assert.ok(withSeed.indexOf('file=/d/disk.qcow2,if=virtio,format=qcow2') < withSeed.indexOf('file=/d/cidata.img,if=virtio,format=raw,readonly=on'), 'the boot disk comes first');
  const without = vmArgs(options, { file: '/d/disk.qcow2', format: 'qcow2', snapshot: false }, '/d/qga.sock');
  assert.equal(without.filter((a) => a.includes('cidata')).length, 0);
});
