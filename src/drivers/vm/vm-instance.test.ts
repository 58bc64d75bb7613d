// End to end: a Debian disk (mmdebstrap + a GPT disk assembled without mounts) with qemu-guest-agent, booted
// under QEMU and driven only through the agent as the Instance the AWSTOE runner uses; the same disk booted with
// its own bootloader under OVMF and SeaBIOS; then a disk that cannot boot. One disk serves every test: the vm
// driver's test disk (test-disk.ts), whose bootstrap the run's cache shares with that driver's suite.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTool } from '../../artifacts/disk/run-tool.js';
import { isKilnError } from '../../domain/errors.js';
import { actionModules } from '../../toe/actions/registry.js';
import { runDocuments } from '../../toe/runner/run.js';
import { detectAccel } from './accel.js';
import { BIOS_FIRMWARE, bootAndWait, OVMF_FIRMWARE } from './qemu.js';
import { convertDisk } from '../../artifacts/disk/convert.js';
import { launchVm, VmBootFailed } from './vm-launch.js';
import { sharedTestDisk, whyNoTestDisk } from '../testsuite/test-disk.js';

/** A raw disk made earlier the same way (with qemu-guest-agent), to skip the 1-2 min rebuild while iterating. */
const PREBUILT_DISK = process.env.KILN_TEST_VM_DISK;
const ROOT_PART_TYPE = '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709';
const BOOT_TIMEOUT_MS = 300_000;

function missingTool(tools: string[]): string | false {
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  return false;
}

function whyNotQemu(): string | false {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!fs.existsSync(OVMF_FIRMWARE)) return `needs ${OVMF_FIRMWARE} (ovmf)`;
  return missingTool(['qemu-system-x86_64', 'qemu-img']);
}

async function whyNotImage(): Promise<string | false> {
  const base = whyNotQemu();
  if (base) return base;
  // The overlay check reads the converted disk with sfdisk and debugfs.
  return PREBUILT_DISK ? missingTool(['sfdisk', 'debugfs']) : whyNoTestDisk();
}

/** Processes whose command line mentions `needle` (QEMU names its scratch folder in -chardev). */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** Named timings for a test's diagnostics. */
function stopwatch(): { ms: Record<string, number>; timed: <T>(name: string, fn: () => Promise<T>) => Promise<T> } {
  const ms: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const start = Date.now();
    try {
      return await fn();
    } finally {
      ms[name] = Date.now() - start;
    }
  };
  return { ms, timed };
}

const skipImage = await whyNotImage();

/** The Debian disk both VM tests boot (cloud kernel, systemd, qemu-guest-agent): test-disk.ts's, or KILN_TEST_VM_DISK. */
async function testDisk(signal: AbortSignal, timed: <T>(name: string, fn: () => Promise<T>) => Promise<T>): Promise<string> {
  if (PREBUILT_DISK) return PREBUILT_DISK;
  const disk = await timed('test disk', () => sharedTestDisk(signal));
  assert.match(disk.kernelVersion, /cloud-amd64/);
  return disk.path;
}
const skipQemu = whyNotQemu();
let scratch = '';
before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-vmi-'));
});
after(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test('a VM driven through qemu-ga: boots under OVMF to a login prompt; exec, files, fs, reboot, the AWSTOE runner, shutdown into an overlay', { skip: skipImage, timeout: 25 * 60_000 }, async (t) => {
  const signal = AbortSignal.timeout(24 * 60_000);
  const { ms, timed } = stopwatch();

  const disk = await testDisk(signal, timed);
  const diskBefore = fs.statSync(disk);

  const accel = detectAccel();
  t.diagnostic(`accel ${accel.accel}: ${accel.reason}`);
  const overlay = path.join(scratch, 'overlay.qcow2');
  const scratchDir = path.join(scratch, 'vm');
  let consoleBytes = 0;
  let consoleTail = '';
  let sawLogin = false;
  const onConsole = (s: string) => {
    consoleBytes += s.length;
    consoleTail = (consoleTail + s).slice(-256);
    sawLogin ||= /login: /.test(consoleTail);
  };
  const vm = await timed('boot', () =>
    launchVm({
      name: 'test', disk, diskFormat: 'raw', overlay, firmware: 'uefi', accel: accel.accel, vcpus: 2, memoryMiB: 1024,
      network: 'none', scratchDir, bootTimeoutMs: BOOT_TIMEOUT_MS, signal, onConsole,
    }),
  );
  try {
    assert.equal(vm.id, 'vm:test');
    assert.equal(vm.canReboot, true);
    assert.ok(consoleBytes > 0 && fs.statSync(path.join(scratchDir, 'serial.log')).size > 0, 'the console is captured');
    assert.match(vm.serialTail(), /\S/);

    // exec: exit codes, env, cwd, both streams, output callbacks.
    const ok = await timed('exec-roundtrip', () => vm.exec(['true']));
    assert.equal(ok.exitCode, 0);
    let live = '';
    const r = await vm.exec(['sh', '-c', 'echo "$FOO:$PWD:$(id -u)"; echo oops >&2; exit 7'], { env: { FOO: 'bar baz' }, cwd: '/var/tmp', onStdout: (c) => (live += c.toString()) });
    assert.deepEqual([r.exitCode, r.signal, r.stdout, r.stderr, r.timedOut, r.aborted], [7, null, 'bar baz:/var/tmp:0\n', 'oops\n', false, false]);
    assert.equal(live, r.stdout);
    assert.match((await vm.exec(['sh', '-c', 'echo $PATH'])).stdout, /\/usr\/bin/);
    const missing = await vm.exec(['no-such-command']);
    assert.equal(missing.exitCode, null);
    assert.match(missing.spawnError ?? '', /no-such-command/);
    assert.notEqual((await vm.exec(['true'], { cwd: '/no/such/dir' })).exitCode, 0);

    // A timeout kills the whole process group, background children included.
    const started = Date.now();
    const slow = await vm.exec(['sh', '-c', 'sleep 600 & echo $! > /run/bg.pid; sleep 600'], { timeoutMs: 2000 });
    assert.ok(Date.now() - started < 20_000, `the timeout ended the exec (${Date.now() - started} ms)`);
    assert.deepEqual([slow.timedOut, slow.aborted, slow.exitCode, slow.signal], [true, false, null, 'SIGKILL']);
    const bg = (await vm.getFile('/run/bg.pid')).toString().trim();
    assert.equal((await vm.exec(['test', '-e', `/proc/${bg}`])).exitCode, 1, 'the background sleep is gone');
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1000);
    const cut = await vm.exec(['sleep', '600'], { signal: ac.signal });
    assert.deepEqual([cut.aborted, cut.timedOut, cut.signal], [true, false, 'SIGKILL']);

    // putFile/getFile: 3 MB of binary data both ways, checked by the guest's own sha256sum.
    const data = randomBytes(3 * 1024 * 1024 + 123);
    await timed('putFile-3MB', () => vm.putFile('/root/blob.bin', data, 0o640));
    const sum = (await vm.exec(['sha256sum', '/root/blob.bin'])).stdout.split(' ')[0];
    assert.equal(sum, createHash('sha256').update(data).digest('hex'));
    const back = await timed('getFile-3MB', () => vm.getFile('/root/blob.bin'));
    assert.ok(back.equals(data), 'the file round-trips byte for byte');
    assert.equal((await vm.fs.stat('/root/blob.bin'))?.mode, 0o640);
    await rejectsWithCode(vm.getFile('/root/nope'), 'ENOENT');
    await rejectsWithCode(vm.putFile('/no/such/dir/f', 'x'), 'ENOENT');

    // InstanceFs, with node:fs-like errors.
    const f = vm.fs;
    await f.mkdir('/srv/k/a/b', { recursive: true, mode: 0o750 });
    assert.deepEqual(await f.stat('/srv/k/a/b'), { type: 'directory', size: (await f.stat('/srv/k/a/b'))!.size, mode: 0o750, uid: 0, gid: 0 });
    await rejectsWithCode(f.mkdir('/srv/k/a'), 'EEXIST');
    await rejectsWithCode(f.mkdir('/srv/none/x'), 'ENOENT');
    await f.writeFile('/srv/k/a/file.txt', 'hello\n', { mode: 0o600 });
    await f.appendFile('/srv/k/a/file.txt', 'world\n');
    assert.equal((await f.readFile('/srv/k/a/file.txt')).toString(), 'hello\nworld\n');
    assert.deepEqual(await f.lstat('/srv/k/a/file.txt'), { type: 'file', size: 12, mode: 0o600, uid: 0, gid: 0 });
    assert.equal(await f.lstat('/srv/k/missing'), null);
    assert.equal(await f.stat('/srv/k/a/file.txt/x'), null);
    await f.symlink('a/file.txt', '/srv/k/link');
    assert.equal((await f.lstat('/srv/k/link'))?.type, 'symlink');
    assert.equal((await f.stat('/srv/k/link'))?.type, 'file');
    assert.equal(await f.realpath('/srv/k/link'), '/srv/k/a/file.txt');
    await rejectsWithCode(f.realpath('/srv/k/missing'), 'ENOENT');
    await rejectsWithCode(f.symlink('x', '/srv/k/link'), 'EEXIST');
    await f.writeFile('/srv/k/name with space\nand newline', '');
    assert.deepEqual((await f.readdir('/srv/k')).sort(), ['a', 'link', 'name with space\nand newline']);
    await rejectsWithCode(f.readdir('/srv/k/a/file.txt'), 'ENOTDIR');
    await rejectsWithCode(f.readdir('/srv/k/missing'), 'ENOENT');
    await f.copy('/srv/k', '/srv/k2');
    assert.equal((await f.lstat('/srv/k2/link'))?.type, 'symlink', 'copy keeps symlinks');
    assert.equal((await f.stat('/srv/k2/a/file.txt'))?.mode, 0o600, 'copy keeps modes');
    await rejectsWithCode(f.copy('/srv/k/a/file.txt', '/srv/k2/link', { overwrite: false }), 'EEXIST');
    await f.rename('/srv/k2', '/srv/k3');
    assert.equal(await f.lstat('/srv/k2'), null);
    await rejectsWithCode(f.rename('/srv/k2', '/srv/k4'), 'ENOENT');
    await f.chmod('/srv/k3/a/file.txt', 0o4755);
    assert.equal((await f.stat('/srv/k3/a/file.txt'))?.mode, 0o4755);
    await rejectsWithCode(f.rm('/srv/k3'), 'EISDIR');
    await rejectsWithCode(f.rm('/srv/k3/missing'), 'ENOENT');
    await f.rm('/srv/k3/missing', { force: true });
    await f.rm('/srv/k3', { recursive: true });
    assert.equal(await f.lstat('/srv/k3'), null);

    // getty's prompt on the serial console: the disk's own loader (systemd-boot) and kernel reached multi-user
    // under OVMF. This boot stands for OVMF's in the bootloader test below, which boots SeaBIOS.
    const loginBy = Date.now() + BOOT_TIMEOUT_MS;
    while (!sawLogin && Date.now() < loginBy) await sleep(250, undefined, { signal });
    assert.ok(sawLogin, `a login prompt on the console; console tail:\n${vm.serialTail()}`);

    // reboot(): the agent answers again from a new boot.
    const uptime = async () => Number((await vm.getFile('/proc/uptime')).toString().split(' ')[0]);
    const bootId = async () => (await vm.getFile('/proc/sys/kernel/random/boot_id')).toString().trim();
    const [up1, id1] = [await uptime(), await bootId()];
    await timed('reboot', () => vm.reboot(signal));
    const [up2, id2] = [await uptime(), await bootId()];
    assert.notEqual(id2, id1);
    assert.ok(up2 < up1 || up2 < (ms.reboot ?? 0) / 1000, `uptime reset (${up1} s → ${up2} s)`);
    assert.equal(vm.running, true);

    // The AWSTOE runner on the VM.
    const logs = path.join(scratch, 'toe');
    fs.mkdirSync(logs);
    let output = '';
    const doc = `schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Hello
        action: ExecuteBash
        inputs:
          commands: ["echo hello from $(uname -r)", "echo built > /root/built.txt"]
      - name: Folder
        action: CreateFolder
        inputs:
          - path: /opt/kiln-made
  - name: validate
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands: ["test -d /opt/kiln-made && cat /root/built.txt"]
`;
    const run = await timed('toe-run', () =>
      runDocuments({
        documents: [{ path: path.join(logs, 'doc.yaml'), text: doc, parameters: {} }],
        logDirectory: logs, workingDirectory: '/root', instance: vm, modules: actionModules(), signal, onOutput: (s) => (output += s),
      }),
    );
    assert.equal(run.summary.status, 'Success', output);
    assert.match(output, /hello from \S*cloud-amd64/);
    assert.match(output, /^built$/m);

    // shutdown(): a clean powerdown, so the overlay holds what the guest wrote.
    const marker = `kiln-${randomBytes(6).toString('hex')}`;
    await vm.putFile('/root/overlay-marker', marker);
    const pid = vm.pid;
    const down = await timed('shutdown', () => vm.shutdown(signal));
    assert.equal(down.clean, true, `clean powerdown; console:\n${vm.serialTail()}`);
    assert.ok(gone(pid), 'QEMU is gone');
    await vm.dispose();
    assert.equal(fs.existsSync(scratchDir), false, 'dispose removed the scratch folder');
    assert.ok(fs.existsSync(overlay), 'the overlay stays');
    const diskAfter = fs.statSync(disk);
    assert.deepEqual([diskAfter.size, diskAfter.mtimeMs], [diskBefore.size, diskBefore.mtimeMs], 'the base disk is never written');

    const flat = path.join(scratch, 'flat.raw');
    await runTool('qemu-img', ['convert', '-O', 'raw', overlay, flat], { signal });
    const table = JSON.parse(execFileSync('sfdisk', ['-J', flat], { encoding: 'utf8' })) as { partitiontable: { sectorsize?: number; partitions: { start: number; type: string }[] } };
    const root = table.partitiontable.partitions.find((p) => p.type.toUpperCase() === ROOT_PART_TYPE);
    assert.ok(root, 'the disk has a Linux root partition');
    const offset = root.start * (table.partitiontable.sectorsize ?? 512);
    const seen = execFileSync('debugfs', ['-R', 'cat /root/overlay-marker', `${flat}?offset=${offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(seen, marker);
    fs.rmSync(flat);
  } finally {
    await vm.dispose();
  }
  t.diagnostic(`timings ms: ${JSON.stringify(ms)}`);
});

test('the disk boots with its own bootloader under SeaBIOS (GRUB), unchanged, and converts to qcow2 (OVMF: the qemu-ga test)', { skip: skipImage, timeout: 25 * 60_000 }, async (t) => {
  const signal = AbortSignal.timeout(24 * 60_000);
  const { ms, timed } = stopwatch();
  const disk = await testDisk(signal, timed);
  const before = fs.statSync(disk);
  const accel = detectAccel();
  // getty's prompt on the serial console: the boot reached multi-user with the disk's own loader and kernel.
  const boot = await timed('boot bios', () => bootAndWait({ disk, memoryMiB: 1024, vcpus: 2, accel: accel.accel, firmware: BIOS_FIRMWARE, until: /login: /, timeoutMs: BOOT_TIMEOUT_MS, signal }));
  assert.equal(boot.matched, true, `no login prompt (${boot.ended} after ${boot.ms} ms); console tail:\n${boot.serialTail}`);
  assert.throws(() => process.kill(boot.pid!, 0), /ESRCH/);
  const after = fs.statSync(disk);
  assert.deepEqual([after.size, after.mtimeMs], [before.size, before.mtimeMs], 'snapshot=on leaves the disk unchanged');
  const qcow2 = path.join(scratch, 'disk.qcow2');
  await timed('qcow2', () => convertDisk(disk, qcow2, 'qcow2', signal));
  execFileSync('qemu-img', ['check', '-q', qcow2]);
  execFileSync('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'qcow2', disk, qcow2]);
  fs.rmSync(qcow2);
  t.diagnostic(`accel ${accel.accel}; timings ms: ${JSON.stringify(ms)}`);
});

test('a disk that cannot boot fails with VmBootFailed and the console tail; abort cancels; nothing is left', { skip: skipQemu, timeout: 5 * 60_000 }, async (t) => {
  const zeros = path.join(scratch, 'zeros.raw');
  fs.writeFileSync(zeros, Buffer.alloc(0));
  fs.truncateSync(zeros, 64 * 1024 * 1024);
  const accel = detectAccel().accel;
  const base = { disk: zeros, diskFormat: 'raw' as const, firmware: 'uefi' as const, accel, vcpus: 1, memoryMiB: 256, network: 'none' as const };

  const scratchDir = path.join(scratch, 'dead');
  const overlay = path.join(scratch, 'dead.qcow2');
  // Long enough for OVMF to write to the console under TCG; every second of it is waited out.
  const timeoutMs = 10_000;
  const started = Date.now();
  let err: unknown;
  try {
    await launchVm({ ...base, overlay, scratchDir, bootTimeoutMs: timeoutMs });
  } catch (e) {
    err = e;
  }
  const took = Date.now() - started;
  assert.ok(err instanceof VmBootFailed, `VmBootFailed, got ${String(err)}`);
  assert.ok(isKilnError(err, 'Internal'));
  assert.match(err.message, /did not boot/);
  assert.match(err.message, new RegExp(`did not answer within ${timeoutMs} ms`));
  assert.match(err.serialTail, /\S/, 'the firmware wrote to the console');
  assert.ok(err.message.includes(err.serialTail));
  assert.ok(took < timeoutMs + 10_000, `failed within the timeout (${took} ms)`);
  assert.deepEqual(processesMentioning(scratchDir), [], 'no QEMU left');
  assert.equal(fs.existsSync(scratchDir), false, 'no scratch folder left');
  assert.equal(fs.existsSync(overlay), false, 'the overlay it made is removed');

  const abortDir = path.join(scratch, 'aborted');
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 2000);
  await assert.rejects(launchVm({ ...base, scratchDir: abortDir, bootTimeoutMs: 60_000, signal: ac.signal }), (e: unknown) => isKilnError(e, 'Cancelled'));
  assert.deepEqual(processesMentioning(abortDir), [], 'no QEMU left after abort');
  assert.equal(fs.existsSync(abortDir), false);
  t.diagnostic(`boot failure reported after ${took} ms`);
});
