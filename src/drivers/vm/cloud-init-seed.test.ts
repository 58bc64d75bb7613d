import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { AGENT_USER_DATA, agentBootScript, writeNoCloudSeed } from './cloud-init-seed.js';
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
  const parsed = parse(userData) as { bootcmd: string[]; cloud_final_modules: unknown[] };
  assert.deepEqual(parsed.bootcmd, [agentBootScript()], 'the script the tests below run is the one cloud-init runs');
  assert.deepEqual(parsed.cloud_final_modules, []);
});

/**
 * Runs the seed's bootcmd script as the guest would, with fake package and service tools that log their calls,
 * under `root` (the script's /usr paths moved there) and a PATH of only those tools and chmod/rm.
 */
function runBootScript(root: string, tools: Record<string, string>): { status: number | null; calls: string[] } {
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  for (const tool of ['chmod', 'rm']) fs.symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), path.join(bin, tool));
  const log = path.join(root, 'calls');
  fs.writeFileSync(log, '');
  for (const [name, body] of Object.entries(tools)) fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`, { mode: 0o755 });
  const script = agentBootScript().replaceAll('/usr/', `${root}/usr/`);
  const run = spawnSync('/bin/sh', ['-c', script], { env: { PATH: bin }, encoding: 'utf8' });
  return { status: run.status, calls: fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) };
}

test('the seed installs the agent with apt without recommends under a policy-rc.d that defers starts, then starts it without waiting', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-seed-script-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const policy = path.join(root, 'usr/sbin/policy-rc.d');
  // apt-get notes whether starts are deferred while it runs (policy-rc.d answering 101).
  const { status, calls } = runBootScript(root, { 'apt-get': `test -x ${policy} && { ${policy}; echo "policy $?" >> ${path.join(root, 'calls')}; }; exit 0`, systemctl: 'exit 0' });
  assert.equal(status, 0);
  assert.deepEqual(calls, [
    'apt-get update -q -o Acquire::Languages=none',
    'policy 101',
    'apt-get install -y -q --no-install-recommends qemu-guest-agent',
    'policy 101',
    'systemctl enable qemu-guest-agent',
    'systemctl start --no-block qemu-guest-agent',
  ]);
  assert.equal(fs.existsSync(policy), false, 'the policy Kiln made is removed');
});

test('the seed keeps an image\'s own policy-rc.d, fails when apt fails, and installs nothing when the agent is there', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-seed-script-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
  const policy = path.join(root, 'usr/sbin/policy-rc.d');
  fs.writeFileSync(policy, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const failed = runBootScript(root, { 'apt-get': 'exit 100', systemctl: 'exit 0' });
  assert.equal(failed.status, 100);
  assert.deepEqual(failed.calls, ['apt-get update -q -o Acquire::Languages=none']);
  assert.equal(fs.readFileSync(policy, 'utf8'), '#!/bin/sh\nexit 0\n', 'the image\'s own policy-rc.d stays as it was');

  const present = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-seed-script-'));
  t.after(() => fs.rmSync(present, { recursive: true, force: true }));
  fs.mkdirSync(path.join(present, 'usr/sbin'), { recursive: true });
  fs.writeFileSync(path.join(present, 'usr/sbin/qemu-ga'), '', { mode: 0o755 });
  const there = runBootScript(present, { 'apt-get': 'exit 0', systemctl: 'exit 0' });
  assert.equal(there.status, 0);
  assert.deepEqual(there.calls, ['systemctl enable qemu-guest-agent', 'systemctl start --no-block qemu-guest-agent']);
});

test('a seed is attached read-only beside the boot disk; none without one', () => {
  const options = { firmware: 'bios' as const, accel: 'tcg' as const, vcpus: 1, memoryMiB: 512, network: 'nat' as const };
  const withSeed = vmArgs(options, { file: '/d/disk.qcow2', format: 'qcow2', snapshot: false, seed: '/d/cidata.img' }, '/d/qga.sock');
  assert.ok(withSeed.includes('file=/d/cidata.img,if=virtio,format=raw,readonly=on'), withSeed.join(' '));
  assert.ok(withSeed.indexOf('file=/d/disk.qcow2,if=virtio,format=qcow2') < withSeed.indexOf('file=/d/cidata.img,if=virtio,format=raw,readonly=on'), 'the boot disk comes first');
  const without = vmArgs(options, { file: '/d/disk.qcow2', format: 'qcow2', snapshot: false }, '/d/qga.sock');
  assert.equal(without.filter((a) => a.includes('cidata')).length, 0);
});
