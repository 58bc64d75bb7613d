import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { actionModules } from '../../toe/actions/registry.js';
import { runDocuments } from '../../toe/runner/run.js';
import { snapshotDirOf, type DriverInstance, type LaunchSpec, type NetworkMode } from '../driver.js';
import { driverConformanceSuite, hostMountsUnder } from '../testsuite/driver-suite.js';
import { sharedTestRootfs } from '../testsuite/test-rootfs.js';
import { OVERLAY_MAX_LOWER_LAYERS } from './init-script.js';
import { hostIssues, NsDriver } from './ns-driver.js';
import type { NsInstance } from './ns-instance.js';
import { sweepNsLeftovers } from './sweep.js';
import { existingGroups } from './cgroups.js';
import { loopDevicesOf } from './loop-devices.js';
import { driverEscapeSuite } from '../testsuite/escape-suite.js';

const driver = new NsDriver();
let rootfs = '';
let scratchRoot = '';

/** Tests skip, naming what is missing (root, a Debian package), rather than fail on a host that cannot run them. */
function skipReason(): string | false {
  const issues = hostIssues('nat');
  return issues.length > 0 ? issues.map((i) => i.message).join('; ') : false;
}

/** The test root and the scratch root are built once per test process and removed when it exits. */
async function setup(): Promise<() => void> {
  rootfs = sharedTestRootfs();
  if (!scratchRoot) {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-ns-scratch-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    scratchRoot = dir;
  }
  const issues = await driver.prepare(spec('nat'));
  if (issues.length > 0) throw new Error(`the test spec is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  // Every instance of a suite is disposed by then, so its scratch directory must be gone.
  return () => assert.deepEqual(readdirSync(scratchRoot), [], 'no instance scratch directory is left');
}

function spec(network: NetworkMode = 'none'): LaunchSpec {
  return { layers: [rootfs], resources: { vcpus: 1, memoryMiB: 512, maxProcesses: 256 }, network, hostname: 'kiln-build', scratchRoot };
}

/** Processes, cgroups and loop devices that name the instance: none may survive dispose. */
function leftovers(inst: DriverInstance): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(inst.id)) out.push(`process ${entry}: ${cmd.replace(/\0/g, ' ').slice(0, 120)}`);
    } catch {
      // exited while we looked
    }
  }
  out.push(...existingGroups(`kiln-${inst.id}`).map((dir) => `cgroup ${dir}`));
  out.push(...loopDevicesOf(join(scratchRoot, `kiln-${inst.id}`, 'volume.img')).map((d) => `loop device ${d}`));
  return out;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(`/proc/${path}`, 'utf8');
  } catch {
    return undefined;
  }
}

function readProcLink(path: string): string | undefined {
  try {
    return readlinkSync(`/proc/${path}`);
  } catch {
    return undefined;
  }
}

/** Content digest of a directory tree (names, types, modes, file bytes, link targets), without following links. */
function treeDigest(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      h.update(`${relative(root, p)}\0${st.mode}\0${st.mtimeMs}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isDirectory()) walk(p);
      else if (st.isFile()) h.update(readFileSync(p));
    }
  };
  walk(root);
  return h.digest('hex');
}

driverConformanceSuite({ name: 'ns', driver, capabilities: { root: 'layers', snapshotDir: true }, spec: () => spec('none'), setup: async () => setup(), skip: skipReason, leftovers });
driverEscapeSuite({ name: 'ns', driver, capabilities: { root: 'layers', snapshotDir: true }, spec: () => spec('nat'), setup: async () => setup(), skip: skipReason, leftovers });

describe('ns driver: isolation', { skip: skipReason() }, () => {
  let teardown: () => void = () => undefined;
  let inst: DriverInstance;
  let nat: DriverInstance;
  let server: Server;
  let port = 0;
  let hostDir = '';
  before(async () => {
    teardown = await setup();
    hostDir = mkdtempSync(join(tmpdir(), 'kiln-ns-host-'));
    writeFileSync(join(hostDir, 'secret'), 'host secret');
    server = createServer((s) => s.end('hello from the host\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    inst = await driver.launch(spec('none'));
    nat = await driver.launch(spec('nat'));
  });
  after(async () => {
    await inst?.dispose();
    await nat?.dispose();
    server?.close();
    rmSync(hostDir, { recursive: true, force: true });
    teardown();
  });

  test('a file on the host outside the rootfs cannot be read, by exec or fs, even through symlinks', async () => {
    const secret = join(hostDir, 'secret');
    const r = await inst.exec(['cat', secret]);
    assert.notEqual(r.exitCode, 0);
    assert.doesNotMatch(r.stdout, /host secret/);
    await assert.rejects(inst.fs.readFile(secret), { code: 'ENOENT' });
    await inst.fs.symlink(`/../../../../..${secret}`, '/root/escape');
    await inst.fs.symlink('/proc/1/root/../../..', '/root/up');
    await assert.rejects(inst.fs.readFile('/root/escape'), { code: 'ENOENT' });
    await assert.rejects(inst.fs.readFile(`/root/up${secret}`), { code: 'ENOENT' });
    await assert.rejects(inst.fs.readFile(`/../../..${secret}`), { code: 'ENOENT' });
    assert.equal(await inst.fs.realpath('/root/up'), '/');
    // The link's target does not exist inside (its folder is on the host), so the write may fail; never escape.
    await inst.fs.writeFile('/root/escape', 'written inside').catch(() => undefined);
    assert.equal(readFileSync(secret, 'utf8'), 'host secret', 'a write through an absolute symlink stays inside');
    const scan = await inst.exec(['bash', '-c', `cat /proc/1/root${secret} /proc/*/root${secret} 2>&1; true`]);
    assert.doesNotMatch(scan.stdout, /host secret/);
  });

  test('host processes are not visible: /proc shows only the instance', async () => {
    const r = await inst.exec(['bash', '-c', 'for p in /proc/[0-9]*; do echo "${p#/proc/} $(cat $p/comm 2>/dev/null)"; done']);
    const pids = r.stdout.trim().split('\n').map((l) => l.split(' '));
    assert.ok(pids.length < 8, `only the instance's processes: ${r.stdout}`);
    assert.deepEqual(pids.find(([pid]) => pid === '1')?.[1], 'bash', 'PID 1 is the instance supervisor');
    assert.doesNotMatch(r.stdout, /node|process_api/);
    const ps = await inst.exec(['ps', '-e', '-o', 'pid=,comm=']);
    if (ps.exitCode === 0) assert.doesNotMatch(ps.stdout, /node/);
    assert.equal((await inst.exec(['hostname'])).stdout, 'kiln-build\n');
  });

  test('root inside lacks the capabilities that reach the host, and opens only the devices of its /dev', async () => {
    const status = (await inst.exec(['cat', '/proc/self/status'])).stdout;
    const eff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0'}`);
    const has = (cap: bigint) => ((eff >> cap) & 1n) === 1n;
    for (const cap of [2n, 16n, 17n, 21n, 39n]) assert.equal(has(cap), false, `capability ${cap} is dropped`);
    for (const cap of [0n, 1n, 3n, 5n, 6n, 7n, 18n]) assert.equal(has(cap), true, `capability ${cap} is kept`);
    const disk = await inst.exec(['bash', '-c', 'mknod /root/disk b 7 0 && head -c 1 /root/disk']);
    assert.notEqual(disk.exitCode, 0, 'a block device cannot be made or read');
    const ok = await inst.exec(['bash', '-c', 'echo x > /dev/null && head -c 4 /dev/zero | wc -c && : > /dev/full 2>&1; test -c /dev/ptmx']);
    assert.equal(ok.exitCode, 0, ok.stderr);
  });

  test('a server on the host loopback cannot be reached, with or without NAT', async () => {
    const probe = (target: string) => ['bash', '-c', `exec 3<>/dev/tcp/${target}/${port} && cat <&3`];
    for (const [name, i] of [['none', inst], ['nat', nat]] as const) {
      for (const target of ['127.0.0.1', '10.0.2.2']) {
        const r = await i.exec(probe(target), { timeoutMs: 5000 });
        assert.notEqual(r.exitCode, 0, `${name} → ${target}`);
        assert.doesNotMatch(r.stdout, /hello from the host/, `${name} → ${target}`);
      }
    }
    assert.doesNotMatch((await inst.exec(['cat', '/proc/net/dev'])).stdout, /tap0/);
    const route = await nat.exec(['cat', '/proc/net/route', '/etc/resolv.conf']);
    assert.match(route.stdout, /tap0\s+00000000/, 'NAT gives a default route');
    assert.match(route.stdout, /nameserver 10\.0\.2\.3/);
  });

  test('changes land only in the upper layer; the rootfs is untouched', async () => {
    const before = treeDigest(rootfs);
    const r = await inst.exec(['bash', '-c', 'rm /etc/os-release && echo new > /usr/bin/kiln-new && chmod 700 /root && mkdir -p /var/lib/x && echo y > /var/lib/x/y']);
    assert.equal(r.exitCode, 0, r.stderr);
    await inst.putFile('/etc/kiln-put', 'put');
    assert.equal(treeDigest(rootfs), before);
    const upper = snapshotDirOf(inst);
    assert.ok(lstatSync(join(upper, 'etc/os-release')).isCharacterDevice(), 'a deletion is a whiteout');
    assert.equal(readFileSync(join(upper, 'usr/bin/kiln-new'), 'utf8'), 'new\n');
    assert.equal(readFileSync(join(upper, 'etc/kiln-put'), 'utf8'), 'put');
    for (const name of ['resolv.conf', 'hosts', 'hostname']) assert.equal(existsSync(join(upper, 'etc', name)), false, `${name} is not in the snapshot`);
    assert.equal(existsSync(join(upper, 'tmp')), false);
  });

  test('mounts live only in the instance but its root volume; limits come from the instance type; cgroups show no host path', async () => {
    const mounts = hostMountsUnder(scratchRoot).map((l) => l.split(' ').slice(1, 3).join(' '));
    assert.deepEqual(mounts.sort(), [inst, nat].map((i) => `${join(scratchRoot, `kiln-${i.id}`, 'volume')} ext4`).sort(), 'the host sees the root volumes only');
    const cg = await inst.exec(['cat', '/proc/self/cgroup']);
    assert.doesNotMatch(cg.stdout, /kiln-ns/, 'the instance has its own cgroup namespace');
    const own = (controller: string) => readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1] === controller)?.split(':')[2] ?? '/';
    assert.equal(readFileSync(join('/sys/fs/cgroup/pids', own('pids'), `kiln-${inst.id}`, 'pids.max'), 'utf8').trim(), '256');
    assert.equal(readFileSync(join('/sys/fs/cgroup/memory', own('memory'), `kiln-${inst.id}`, 'memory.limit_in_bytes'), 'utf8').trim(), String(512 * 1024 * 1024));
    assert.equal(readFileSync(join('/sys/fs/cgroup/cpu', own('cpu'), `kiln-${inst.id}`, 'cpu.cfs_quota_us'), 'utf8').trim(), '100000');
    const status = (await inst.exec(['cat', '/proc/self/status'])).stdout;
    assert.match(status, /NoNewPrivs:\s+1/);
    assert.match(status, /Seccomp:\s+2/, 'a seccomp filter is on');
    const df = await inst.exec(['bash', '-c', 'read -r _ _ _ _ _ _ _ _ < /proc/self/mountinfo; grep " / / " /proc/self/mountinfo']);
    assert.match(df.stdout, / - overlay /, 'the root is the overlay');
  });
});

describe('ns driver: launch failures and cancellation leave nothing behind', { skip: skipReason() }, () => {
  let teardown: () => void = () => undefined;
  before(async () => {
    teardown = await setup();
  });
  after(() => teardown());

  test('an aborted launch is Cancelled, and a broken rootfs fails cleanly', async () => {
    const c = new AbortController();
    c.abort();
    await assert.rejects(driver.launch(spec(), c.signal), (err: unknown) => isKilnError(err, 'Cancelled'));
    const c2 = new AbortController();
    const p = driver.launch(spec('nat'), c2.signal);
    setTimeout(() => c2.abort(), 5);
    await p.then((i) => i.dispose()).catch((err: unknown) => assert.ok(isKilnError(err, 'Cancelled'), String(err)));
    const empty = mkdtempSync(join(scratchRoot, 'empty-root-'));
    await assert.rejects(driver.launch({ ...spec(), layers: [empty] }), (err: unknown) => isKilnError(err, 'InvalidArgument') && /bin\/bash/.test((err as Error).message));
    rmSync(empty, { recursive: true });
    assert.deepEqual(readdirSync(scratchRoot), [], 'no scratch directory is left');
    assert.deepEqual(hostMountsUnder(scratchRoot), []);
  });
});

describe('ns driver: the AWSTOE runner', { skip: skipReason() }, () => {
  let teardown: () => void = () => undefined;
  before(async () => {
    teardown = await setup();
  });
  after(() => teardown());

  test('runs a document inside an instance, and its changes appear in snapshotDir()', async () => {
    const inst = await driver.launch(spec());
    const logs = mkdtempSync(join(tmpdir(), 'kiln-ns-toe-'));
    try {
      const text = [
        'schemaVersion: 1.0',
        'phases:',
        '  - name: build',
        '    steps:',
        '      - name: Bash',
        '        action: ExecuteBash',
        '        inputs:',
        '          commands:',
        '            - mkdir -p /opt/app',
        '            - echo "built on $(hostname)" > /opt/app/built.txt',
        '      - name: Config',
        '        action: CreateFile',
        '        inputs:',
        '          - path: /etc/app/config.ini',
        '            content: "[app]\\nname=kiln\\n"',
        '            permissions: 640',
      ].join('\n');
      const r = await runDocuments({ documents: [{ path: 'doc.yaml', text, parameters: {} }], logDirectory: logs, workingDirectory: '/', instance: inst, modules: actionModules() });
      assert.equal(r.summary.status, 'Success', r.summary.failureMessage);
      const upper = snapshotDirOf(inst);
      assert.equal(readFileSync(join(upper, 'opt/app/built.txt'), 'utf8'), 'built on kiln-build\n');
      assert.equal(readFileSync(join(upper, 'etc/app/config.ini'), 'utf8'), '[app]\nname=kiln\n');
      assert.equal(lstatSync(join(upper, 'etc/app/config.ini')).mode & 0o777, 0o640);
      assert.equal(existsSync(join(upper, 'tmp')), false, "the runner's scratch files stay in the private /tmp");
    } finally {
      await inst.dispose();
      rmSync(logs, { recursive: true, force: true });
    }
  });
});

describe('ns driver: a step that hits a limit of its instance fails with that reason', { skip: skipReason() }, () => {
  let teardown: () => void = () => undefined;
  before(async () => {
    teardown = await setup();
  });
  after(() => teardown());

  const bashDocument = (command: string) => ['schemaVersion: 1.0', 'phases:', '  - name: build', '    steps:', '      - name: Fill', '        action: ExecuteBash', '        inputs:', '          commands:', `            - ${JSON.stringify(command)}`].join('\n');

  for (const [what, resources, command, reason] of [
    ['memory', { memoryMiB: 128, instanceType: 'ns.tiny' }, 'x=$(head -c 400M /dev/zero | tr "\\0" a); echo ${#x}', /ExecuteBash step "Fill" failed: the build instance ran out of memory: 128 MiB for ns\.tiny/],
    ['disk', { rootVolumeGiB: 1 }, 'dd if=/dev/zero of=/root/big bs=1M count=1500', /ExecuteBash step "Fill" failed: the build instance's disk is full: 1 GiB .*No space left on device/s],
  ] as const) {
    test(`${what}: the AWSTOE step's failure names the limit`, async (t) => {
      const base = spec();
      const inst = await driver.launch({ ...base, resources: { ...base.resources, ...resources } });
      const logs = mkdtempSync(join(tmpdir(), 'kiln-ns-limit-'));
      t.after(async () => {
        await inst.dispose();
        rmSync(logs, { recursive: true, force: true });
      });
      const r = await runDocuments({ documents: [{ path: 'fill.yaml', text: bashDocument(command), parameters: {} }], logDirectory: logs, workingDirectory: '/', instance: inst, modules: actionModules() });
      assert.equal(r.summary.status, 'Failed');
      assert.match(r.summary.failureMessage, reason);
      assert.doesNotMatch(r.summary.failureMessage, new RegExp(scratchRoot), 'no host path in the reason');
    });
  }
});

describe('ns driver: layer stacks', { skip: skipReason() }, () => {
  let teardown: () => void = () => undefined;
  before(async () => {
    teardown = await setup();
  });
  after(() => teardown());

  test('the deepest stack overlayfs takes launches; one layer more fails in prepare, naming the limit', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-ns-deep-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const layers = Array.from({ length: OVERLAY_MAX_LOWER_LAYERS }, (_, i) => join(dir, `layer-with-a-rather-long-name-${i}`));
    for (const l of layers) mkdirSync(l);
    writeFileSync(join(layers[0]!, 'top'), 'top layer\n');
    const deepest = [...layers.slice(0, OVERLAY_MAX_LOWER_LAYERS - 2), rootfs];
    assert.ok(deepest.join(':').length > 4096, 'longer than the overlay options could take as paths');
    assert.deepEqual(await driver.prepare({ ...spec(), layers: deepest }), []);
    const inst = await driver.launch({ ...spec(), layers: deepest });
    try {
      assert.equal((await inst.exec(['cat', '/top'])).stdout, 'top layer\n');
    } finally {
      await inst.dispose();
    }
    const issues = await driver.prepare({ ...spec(), layers: [...layers.slice(0, OVERLAY_MAX_LOWER_LAYERS - 1), rootfs] });
    assert.deepEqual(issues.map((i) => i.path), ['layers']);
    assert.match(issues[0]!.message, /at most 499/);
  });

  test('/bin/bash is looked up through the layers: links resolve in the merged view, whiteouts hide it', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-ns-bash-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const [linkOnly, hidesUsrBin, hidesBash] = ['link-only', 'hides-usr-bin', 'hides-bash'].map((n) => join(dir, n)) as [string, string, string];
    mkdirSync(linkOnly);
    symlinkSync('usr/bin', join(linkOnly, 'bin'));
    mkdirSync(join(hidesUsrBin, 'usr/bin'), { recursive: true });
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(hidesUsrBin, 'usr/bin')]);
    mkdirSync(join(hidesBash, 'usr/bin'), { recursive: true });
    execFileSync('mknod', [join(hidesBash, 'usr/bin/bash'), 'c', '0', '0']);
    assert.deepEqual(await driver.prepare({ ...spec(), layers: [linkOnly, rootfs] }), []);
    for (const top of [hidesUsrBin, hidesBash]) {
      const issues = await driver.prepare({ ...spec(), layers: [top, linkOnly, rootfs] });
      assert.deepEqual(issues.map((i) => i.path), ['layers'], top);
    }
    const missing = await driver.prepare({ ...spec(), layers: [join(dir, 'none'), 'relative'] });
    assert.deepEqual(missing.map((i) => i.path), ['layers[0]', 'layers[1]']);
  });
});

describe('ns driver: debugging shell and crash recovery', { skip: skipReason() }, () => {
  let teardown: () => void = () => undefined;
  before(async () => {
    teardown = await setup();
  });
  after(() => teardown());

  test('initHostPid lets nsenter open a shell inside the running instance', async () => {
    const inst = (await driver.launch(spec())) as NsInstance;
    try {
      await inst.fs.writeFile('/root/inside', 'made inside\n');
      const pid = inst.initHostPid;
      assert.ok(typeof pid === 'number' && pid > 1);
      const out = execFileSync('nsenter', ['-t', String(pid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '/bin/bash', '--norc', '-c', 'hostname; cat /root/inside /etc/os-release'], { encoding: 'utf8' });
      assert.equal(out, 'kiln-build\nmade inside\nID=kiln-test\n');
    } finally {
      await inst.dispose();
    }
    assert.equal(inst.initHostPid, undefined);
  });

  test('sweepNsLeftovers releases what a killed launching process left (runc, container, slirp4netns, cgroups, loop device, folder) and keeps the others', async () => {
    const kept = await driver.launch(spec());
    try {
      const code = `
        const { NsDriver } = await import(${JSON.stringify(new URL('./ns-driver.js', import.meta.url).href)});
        const inst = await new NsDriver().launch(JSON.parse(process.argv[1]));
        await inst.exec(['bash', '-c', 'sleep 300']).catch(() => undefined);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', code, JSON.stringify(spec('nat'))], { stdio: ['ignore', 'pipe', 'inherit'] });
      // The forgotten instance is up once its step runs: a sleep in a PID namespace other than ours.
      const scratchOf = () => readdirSync(scratchRoot).find((n) => n !== `kiln-${kept.id}`);
      let pid1 = 0;
      const deadline = Date.now() + 20_000;
      while (!pid1 && Date.now() < deadline) {
        const name = scratchOf();
        const pidFile = name ? join(scratchRoot, name, 'bundle', 'pid') : '';
        if (pidFile && existsSync(pidFile)) pid1 = Number(readFileSync(pidFile, 'utf8'));
        else await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(pid1 > 1, 'the child launched an instance');
      const id = scratchOf()!.replace(/^kiln-/, '');
      const pidNs = readlinkSync(`/proc/${pid1}/ns/pid`);
      await new Promise((r) => setTimeout(r, 300));
      const slirp = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && (readProc(`${p}/cmdline`) ?? '').startsWith('slirp4netns'));
      assert.ok(slirp.length > 0, 'the NAT instance has a slirp4netns');
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const scratch = join(scratchRoot, `kiln-${id}`);
      assert.ok(existsSync(scratch), 'the crash left the scratch folder');
      const released = await sweepNsLeftovers(scratchRoot, { keep: (i) => i === kept.id });
      assert.ok(released.some((r) => r.startsWith('process ') && r.endsWith(id)), released.join('\n'));
      assert.ok(released.some((r) => r.startsWith('cgroup ') && r.endsWith(`kiln-${id}`)), released.join('\n'));
      assert.ok(released.includes(`directory ${scratch}`), released.join('\n'));
      assert.ok(!released.some((r) => r.includes(kept.id)), 'the kept instance is untouched');
      assert.deepEqual(leftovers({ id } as DriverInstance), []);
      assert.equal(existsSync(scratch), false);
      // Zombies hold nothing; one whose parent was killed waits for the host's init to reap it.
      const running = (pid: string | number) => !/^Z/.test(readProc(`${pid}/stat`)?.replace(/^.*\) /s, '') ?? 'Z');
      assert.equal(running(pid1), false, 'PID 1 is gone');
      for (const p of slirp) assert.equal(running(p), false, 'slirp4netns is gone');
      const live = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && running(p) && readProcLink(`${p}/ns/pid`) === pidNs);
      assert.deepEqual(live, [], 'nothing runs in its PID namespace');
      assert.equal((await kept.exec(['echo', 'still here'])).stdout, 'still here\n');
      assert.deepEqual(await sweepNsLeftovers(scratchRoot, { keep: (i) => i === kept.id }), [], 'a second sweep finds nothing');
    } finally {
      await kept.dispose();
    }
    assert.deepEqual(readdirSync(scratchRoot), []);
  });
});
