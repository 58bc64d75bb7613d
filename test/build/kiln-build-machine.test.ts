// `kiln build` of an image (machine) recipe with `--output disk:FILE.qcow2`: the disk boots in a plain QEMU
// started here, and the component's change shows on its serial console (getty prints /etc/issue before login).
// The managed machine base's mmdebstrap run is shared with the other machine tests through KILN_BOOTSTRAP_CACHE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OVMF_FIRMWARE } from '../../src/drivers/vm/qemu.js';
import { bashComponent, hostLeftovers, machineSkipReason, run } from './helpers.js';

const KILN = path.resolve('bin/kiln');

test('kiln build --output disk:FILE.qcow2 of an image recipe: a disk that boots with the component applied', { skip: await machineSkipReason(), timeout: 30 * 60_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-build-machine-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  writeFileSync(path.join(dir, 'recipe.yaml'), 'name: local-machine\nparentImage: arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x\nblockDeviceMappings: [{ deviceName: /dev/xvda, ebs: { volumeSize: 3 } }]\n');
  writeFileSync(path.join(dir, 'issue.yaml'), bashComponent({ build: ['echo "kiln-build-disk-ok" >> /etc/issue'] }).replace('name: e2e', 'name: mark-issue'));
  const qcow2 = path.join(dir, 'out.qcow2');
  const built = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(KILN, ['build', '--recipe', path.join(dir, 'recipe.yaml'), '--component', path.join(dir, 'issue.yaml'), '--no-tests', '--data-dir', dataDir, '--output', `disk:${qcow2}`, '--json'], { env: { ...process.env, KILN_DATA_DIR: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(built.code, 0, built.stderr.slice(-4000));
  const result = JSON.parse(built.stdout) as { state: string; amiId: string; output: string };
  assert.equal(result.state, 'AVAILABLE');
  assert.match(result.amiId, /^ami-[0-9a-f]{17}$/);
  assert.equal(result.output, qcow2);
  assert.deepEqual(hostLeftovers(dataDir), []);
  const info = JSON.parse(await run('qemu-img', ['info', '--output=json', qcow2])) as { format: string; 'virtual-size': number };
  assert.deepEqual([info.format, info['virtual-size']], ['qcow2', 3 * 1024 ** 3]);

  const qemu = spawn('qemu-system-x86_64', ['-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-m', '1024', '-smp', '2', '-nographic', '-bios', OVMF_FIRMWARE, '-drive', `file=${qcow2},if=virtio,format=qcow2,snapshot=on`, '-nic', 'none'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let console = '';
  qemu.stdout.on('data', (d: Buffer) => (console = (console + d.toString()).slice(-20_000)));
  const exited = new Promise((resolve) => qemu.once('exit', resolve));
  t.after(async () => {
    try {
      process.kill(-qemu.pid!, 'SIGKILL');
    } catch {
      // gone
    }
    await exited;
  });
  const start = Date.now();
  while (Date.now() - start < 300_000 && !/login:/.test(console)) await sleep(500);
  assert.match(console, /kiln-build-disk-ok/, `the component's /etc/issue line on the console:\n${console.slice(-3000)}`);
  assert.match(console, /login:/);
});
