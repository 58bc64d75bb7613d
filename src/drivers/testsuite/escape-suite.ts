import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statfsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { DriverInstance, LaunchSpec } from '../driver.js';
import type { DriverSuiteOptions } from './driver-suite.js';
import { hostMountsUnder } from './driver-suite.js';

const sh = (script: string) => ['bash', '-c', script];

/** init_module and ptrace system call numbers, for perl's syscall() inside the instance. */
const SYSCALL_NUMBERS: Readonly<Record<string, { initModule: number; ptrace: number }>> = { x64: { initModule: 175, ptrace: 101 }, arm64: { initModule: 105, ptrace: 117 } };

function hostText(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Loop devices attached on the host: an instance's volume must be detached once it is disposed. */
function loopDevices(): string[] {
  return readdirSync('/sys/block').filter((d) => {
    try {
      return d.startsWith('loop') && readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').trim() !== '';
    } catch {
      return false;
    }
  });
}

function freeBytes(path: string): number {
  const st = statfsSync(path);
  return st.bavail * st.bsize;
}

/**
 * The escape suite: what a component written by a stranger tries against the host, run inside real instances
 * of a driver. Every driver that runs components on this host's kernel registers it beside its conformance
 * suite. Each case also checks that the host is as it was, and every instance is disposed and checked for
 * leftovers (the driver's own `leftovers`, host mounts, loop devices).
 */
export function driverEscapeSuite(options: DriverSuiteOptions): void {
  const skip = options.skip?.() ?? false;
  void describe(`InstanceDriver escape suite: ${options.name}`, { skip }, () => {
    let teardown: (() => Promise<void> | void) | undefined;
    let inst: DriverInstance;
    let server: Server;
    let atStart = { loops: [] as string[], mounts: [] as string[] };
    let port = 0;
    const launched: DriverInstance[] = [];
    const launch = async (change: (spec: LaunchSpec) => LaunchSpec = (s) => s) => {
      const i = await options.driver.launch(change(options.spec()));
      launched.push(i);
      return i;
    };
    /** The host's loop devices and mounts, to compare with once an instance is disposed. */
    const hostState = () => ({ loops: loopDevices(), mounts: hostMountsUnder('/') });
    /** Disposes an instance and checks that it left nothing on the host (`before`: as its launch found it). */
    const disposeClean = async (i: DriverInstance, before: ReturnType<typeof hostState>) => {
      await i.dispose();
      assert.deepEqual(options.leftovers?.(i) ?? [], [], 'nothing of the instance is left');
      const now = hostState();
      assert.deepEqual(now.mounts.filter((m) => !before.mounts.includes(m)), [], 'no mount is left');
      assert.deepEqual(now.loops.filter((d) => !before.loops.includes(d)), [], 'no loop device is left');
    };

    before(async () => {
      teardown = await options.setup?.();
      server = createServer((s) => s.end('hello from the host\n'));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
      atStart = hostState();
      inst = await launch();
    });
    after(async () => {
      for (const i of launched) await i.dispose();
      server?.close();
      await teardown?.();
    });

    void test('kernel settings: /proc/sys is read-only, even written back with its own value; the host keeps its own', async () => {
      const corePattern = hostText('/proc/sys/kernel/core_pattern');
      const lease = hostText('/proc/sys/fs/lease-break-time');
      for (const key of ['fs/lease-break-time', 'kernel/core_pattern', 'kernel/hostname', 'vm/drop_caches']) {
        const r = await inst.exec(sh(`v=$(cat /proc/sys/${key}); echo "$v" > /proc/sys/${key}`));
        assert.notEqual(r.exitCode, 0, `writing /proc/sys/${key} must fail`);
      }
      const sysctl = await inst.exec(sh('echo "|/tmp/pwn" > /proc/sys/kernel/core_pattern'));
      assert.notEqual(sysctl.exitCode, 0);
      assert.equal(hostText('/proc/sys/kernel/core_pattern'), corePattern);
      assert.equal(hostText('/proc/sys/fs/lease-break-time'), lease);
    });

    void test('/proc/kcore, /proc/keys and /proc/sysrq-trigger: nothing to read, nothing to write', async () => {
      for (const path of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug']) {
        const r = await inst.exec(sh(`head -c 64 ${path} 2>/dev/null | wc -c`));
        assert.equal(r.stdout.trim(), '0', `${path} is masked`);
      }
      for (const path of ['/proc/sysrq-trigger', '/proc/kcore', '/sys/kernel/uevent_helper', '/proc/irq/default_smp_affinity']) {
        const r = await inst.exec(sh(`exec 3>${path}`));
        assert.notEqual(r.exitCode, 0, `${path} cannot be opened for writing`);
      }
    });

    void test('mount, mknod and loading a module are refused', async () => {
      const scratchBefore = hostMountsUnder('/');
      for (const script of ['mkdir -p /mnt/t && mount -t tmpfs none /mnt/t', 'mount --bind / /mnt', 'mount -t proc proc /mnt', 'mknod /root/sda b 8 0', 'mknod /root/mem c 1 1']) {
        const r = await inst.exec(sh(script));
        assert.notEqual(r.exitCode, 0, `${script} must fail`);
      }
      assert.deepEqual(hostMountsUnder('/'), scratchBefore, 'the host mount table is unchanged');
      const nr = SYSCALL_NUMBERS[process.arch]!;
      // init_module(NULL, 0, ""): EPERM before the kernel looks at the module at all.
      const r = await inst.exec(['perl', '-e', `my $args = ""; print syscall(${nr.initModule}, 0, 0, $args) == -1 ? $! + 0 : "loaded"`], { env: { LC_ALL: 'C' } });
      assert.equal(r.stdout, '1', `init_module answers EPERM: ${r.stdout} ${r.stderr}`);
    });

    void test('a host process cannot be traced or signalled', async (t) => {
      const victim = spawn('sleep', ['300'], { stdio: 'ignore' });
      t.after(() => victim.kill('SIGKILL'));
      const pid = victim.pid!;
      const nr = SYSCALL_NUMBERS[process.arch]!;
      // PTRACE_ATTACH (16) to the host pid: inside, that number is no process, or one of the instance's own.
      const r = await inst.exec(['perl', '-e', `print syscall(${nr.ptrace}, 16, ${pid}, 0, 0) == -1 ? $! + 0 : "attached"`], { env: { LC_ALL: 'C' } });
      assert.notEqual(r.stdout, 'attached');
      await inst.exec(['kill', '-9', String(pid)]);
      await new Promise((r) => setTimeout(r, 100));
      assert.match(hostText(`/proc/${pid}/status`), /TracerPid:\s+0\n/, 'the host process is not traced');
      assert.equal(victim.exitCode ?? victim.signalCode, null, 'the host process still runs');
    });

    void test('a resource limit cannot be raised', async () => {
      const r = await inst.exec(sh('hard=$(ulimit -Hn); prlimit --pid $$ --nofile=$((hard + 1)):$((hard + 1)) && echo raised'));
      assert.notEqual(r.exitCode, 0);
      assert.doesNotMatch(r.stdout, /raised/);
    });

    void test('the host loopback, and an API port on it, cannot be reached', async () => {
      for (const target of ['127.0.0.1', '10.0.2.2']) {
        const r = await inst.exec(sh(`exec 3<>/dev/tcp/${target}/${port} && cat <&3`), { timeoutMs: 5000 });
        assert.notEqual(r.exitCode, 0, target);
        assert.doesNotMatch(r.stdout, /hello from the host/, target);
      }
    });

    void test('a fork bomb in a step with a timeout dies with the step; the next step sees no leftover process', async () => {
      const t0 = Date.now();
      const bomb = await inst.exec(sh('bomb() { bomb & bomb & wait; }; bomb'), { timeoutMs: 3000 });
      assert.equal(bomb.timedOut, true);
      assert.ok(Date.now() - t0 < 15_000, `the step ended ${Date.now() - t0} ms after it started`);
      const ps = await inst.exec(sh('for p in /proc/[0-9]*; do cat $p/comm; done 2>/dev/null'));
      assert.equal(ps.exitCode, 0, ps.stderr);
      const names = ps.stdout.trim().split('\n');
      assert.ok(!names.includes('bomb') && names.length <= 4, `only the launcher and this step run: ${names.join(' ')}`);
      const bg = await inst.exec(sh('sleep 300 & echo started'));
      assert.equal(bg.stdout, 'started\n');
      const after = await inst.exec(sh('for p in /proc/[0-9]*; do cat $p/cmdline; echo; done 2>/dev/null'));
      assert.doesNotMatch(after.stdout, /sleep.?300/, 'a finished step leaves nothing running');
    });

    void test('writing past the root volume fails with ENOSPC inside; the host keeps its free space', async () => {
      const before = hostState();
      const small = await launch((s) => ({ ...s, resources: { ...s.resources, rootVolumeGiB: 1 } }));
      const hostFree = freeBytes(options.spec().scratchRoot);
      const r = await small.exec(sh('dd if=/dev/zero of=/root/big bs=1M count=1500 status=none'));
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, /No space left on device/);
      assert.match(r.instanceFault ?? '', /disk is full: 1 GiB/);
      assert.equal((await small.exec(['echo', 'still usable'])).stdout, 'still usable\n');
      await disposeClean(small, before);
      const drift = Math.abs(freeBytes(options.spec().scratchRoot) - hostFree);
      assert.ok(drift < 200 * 1024 * 1024, `host free space moved by ${drift} bytes`);
    });

    void test('running out of memory kills the step, not the instance, and says so', async () => {
      const before = hostState();
      const small = await launch((s) => ({ ...s, resources: { ...s.resources, memoryMiB: 128, instanceType: 'ns.tiny' } }));
      const r = await small.exec(sh('x=$(head -c 400M /dev/zero | tr "\\0" a); echo ${#x}'));
      assert.notEqual(r.exitCode, 0);
      assert.equal(r.instanceFault, 'the build instance ran out of memory: 128 MiB for ns.tiny');
      assert.equal((await small.exec(['echo', 'still here'])).stdout, 'still here\n', 'the instance survives');
      await disposeClean(small, before);
    });

    void test('every instance the suite launched leaves nothing behind', async () => {
      await disposeClean(inst, atStart);
    });
  });
}
