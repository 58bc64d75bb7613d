import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { snapshotDirOf, type DriverInstance, type InstanceDriver, type LaunchSpec } from '../driver.js';

/** What the conformance suite needs to know about a driver under test. */
export interface DriverSuiteOptions {
  name: string;
  driver: InstanceDriver;
  /**
   * What the driver offers beyond the common contract; a capability's tests run only where it is declared.
   * `root`: whether an instance starts from `spec.layers` (and the layer tests apply) or boots `spec.disk`.
   * `snapshotDir`: whether instances offer DriverInstance.snapshotDir.
   */
  capabilities: { root: 'layers' | 'disk'; snapshotDir: boolean };
  /**
   * A valid spec for a fresh instance; its root filesystem has bash and coreutils (see test-rootfs.ts). Called
   * after `setup`, once per instance.
   */
  spec: () => LaunchSpec;
  /** Runs before the tests (builds the rootfs); its teardown runs after them. */
  setup?: () => Promise<() => Promise<void> | void>;
  /** A reason to skip the whole suite (no root, missing tools), or false. */
  skip?: () => string | false;
  /** Driver-specific traces a disposed instance may have left (processes, cgroups…); each string is one. */
  leftovers?: (instance: DriverInstance) => string[];
}

const sh = (script: string) => ['bash', '-c', script];

/** Two layers in overlay lower form, for the layer test: $1 is the top one, $2 the one below it. */
const MAKE_LAYERS = String.raw`
set -e
top=$1 middle=$2
mkdir -p "$middle/etc" "$middle/opt/kiln" "$top/etc" "$top/opt/kiln"
echo middle > "$middle/etc/kiln-middle"
echo old > "$middle/opt/kiln/old"
echo top > "$top/etc/kiln-top"
echo new > "$top/opt/kiln/new"
chmod 750 "$top/opt/kiln"
setfattr -n trusted.overlay.opaque -v y "$top/opt/kiln"
mknod "$top/etc/os-release" c 0 0
`;

/** Names, types, modes, sizes and mtimes of a tree: what an instance must not change in its layers. */
function treeListing(root: string): string {
  return execFileSync('find', [root, '-printf', '%P %y %m %s %T@\n'], { encoding: 'utf8' }).split('\n').sort().join('\n');
}

/** Host mounts that mention a path: a disposed instance must have none. */
export function hostMountsUnder(path: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(path));
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/**
 * The conformance suite of the InstanceDriver contract: every driver registers it in its own test file. It
 * checks the Instance behaviour the AWSTOE runner relies on, and that dispose leaves nothing behind.
 */
export function driverConformanceSuite(options: DriverSuiteOptions): void {
  const skip = options.skip?.() ?? false;
  void describe(`InstanceDriver conformance: ${options.name}`, { skip }, () => {
    let teardown: (() => Promise<void> | void) | undefined;
    let shared: DriverInstance;
    /** The scratch root's entries before the shared instance: what it holds again once that is disposed. */
    let scratchAtStart: string[] = [];
    const launched: DriverInstance[] = [];
    const launch = async () => {
      const inst = await options.driver.launch(options.spec());
      launched.push(inst);
      return inst;
    };

    before(async () => {
      teardown = await options.setup?.();
      scratchAtStart = readdirSync(options.spec().scratchRoot).sort();
      shared = await launch();
    });
    after(async () => {
      for (const inst of launched) await inst.dispose();
      await teardown?.();
    });

    void test('prepare reports every problem of a bad spec at once, and none for a good one', async () => {
      const good = options.spec();
      assert.deepEqual(await options.driver.prepare(good), []);
      const fromLayers = options.capabilities.root === 'layers';
      // The root the driver takes, made invalid; the other root form is refused outright.
      const badRoot = fromLayers ? { layers: ['relative/root'] } : { disk: { path: 'relative/disk.raw', format: 'raw' as const } };
      const bad = { ...good, ...badRoot, hostname: 'not a host name', network: 'bridge' as never };
      const issues = await options.driver.prepare(bad);
      for (const path of [fromLayers ? 'layers' : 'disk', 'hostname', 'network']) assert.ok(issues.some((i) => i.path.startsWith(path)), `an issue for ${path}: ${JSON.stringify(issues)}`);
      const none = await options.driver.prepare(fromLayers ? { ...good, layers: [] } : { ...good, disk: undefined });
      assert.ok(none.some((i) => i.path === (fromLayers ? 'layers' : 'disk')), 'a spec without a root is refused');
      const other = await options.driver.prepare(fromLayers ? { ...good, disk: { path: '/disk.raw', format: 'raw' } } : { ...good, layers: ['/'] });
      assert.ok(other.some((i) => i.path === (fromLayers ? 'disk' : 'layers')), `the other root form is refused: ${JSON.stringify(other)}`);
      await assert.rejects(options.driver.launch(bad), (err: unknown) => isKilnError(err, 'InvalidArgument'));
    });

    void test('exec: exit codes, stdout and stderr, streamed output, NUL bytes, argv kept verbatim', async () => {
      const chunks: Buffer[] = [];
      const r = await shared.exec(sh('echo out; echo err >&2; printf "a\\0b"; exit 7'), { onStdout: (c) => chunks.push(c) });
      assert.equal(r.exitCode, 7);
      assert.equal(r.stdout, 'out\na\0b');
      assert.equal(r.stderr, 'err\n');
      assert.equal(Buffer.concat(chunks).toString(), 'out\na\0b');
      assert.equal((await shared.exec(['printf', '%s|', 'two words', '', "it's", '$HOME'])).stdout, "two words||it's|$HOME|");
      // The Instance contract allows either form: a shell's 127, or a spawn error as spawn's ENOENT gives.
      const missing = await shared.exec(['no-such-program-kiln']);
      if (missing.spawnError !== undefined) assert.equal(missing.exitCode, null);
      else assert.equal(missing.exitCode, 127);
      assert.match(missing.spawnError ?? missing.stderr, /no-such-program-kiln/);
      const big = await shared.exec(sh('seq 1 100000'));
      assert.ok(big.stdout.endsWith('99999\n100000\n'));
    });

    void test('exec: runs as root, with cwd and extra env over a default environment', async () => {
      assert.equal((await shared.exec(['id', '-u'])).stdout, '0\n');
      assert.equal((await shared.exec(['pwd'], { cwd: '/usr' })).stdout, '/usr\n');
      assert.notEqual((await shared.exec(['true'], { cwd: '/no/such/dir' })).exitCode, 0);
      const env = await shared.exec(sh('echo "$KILN_A|$KILN_B|$HOME"; [ -n "$PATH" ]'), { env: { KILN_A: 'one two', KILN_B: 'x=y' } });
      assert.equal(env.exitCode, 0);
      assert.equal(env.stdout, 'one two|x=y|/root\n');
      assert.equal((await shared.exec(sh('echo "${KILN_A-unset}"'))).stdout, 'unset\n', 'env does not leak into later execs');
    });

    void test('exec: a timeout or an abort kills the whole process tree', async () => {
      const t0 = Date.now();
      const r = await shared.exec(sh('sleep 101 & sleep 102 & wait'), { timeoutMs: 300 });
      assert.equal(r.timedOut, true);
      assert.equal(r.exitCode, null);
      assert.ok(Date.now() - t0 < 5000);
      const c = new AbortController();
      setTimeout(() => c.abort(), 200);
      const a = await shared.exec(sh('sleep 103; echo never'), { signal: c.signal });
      assert.equal(a.aborted, true);
      assert.doesNotMatch(a.stdout, /never/);
      const ps = await shared.exec(sh('cat /proc/[0-9]*/cmdline | tr "\\0" " "'));
      assert.doesNotMatch(ps.stdout, /sleep 10[123]/, 'no sleep survived');
      assert.equal((await shared.exec(['echo', 'still here'])).stdout, 'still here\n');
    });

    void test('exec: concurrent calls all complete', async () => {
      const results = await Promise.all([1, 2, 3].map((i) => shared.exec(sh(`sleep 0.2; echo ${i}`))));
      assert.deepEqual(results.map((r) => r.stdout), ['1\n', '2\n', '3\n']);
    });

    void test('fs: files and directories, as node:fs/promises would', async () => {
      const fs = shared.fs;
      await fs.mkdir('/opt/kiln/a/b', { recursive: true, mode: 0o750 });
      await fs.mkdir('/opt/kiln/a/b', { recursive: true });
      await rejectsWithCode(fs.mkdir('/opt/kiln/a'), 'EEXIST');
      assert.equal((await fs.stat('/opt/kiln/a/b'))?.mode, 0o750);
      await fs.writeFile('/opt/kiln/a/f.txt', 'hello', { mode: 0o640 });
      await fs.appendFile('/opt/kiln/a/f.txt', ' world');
      assert.equal(String(await fs.readFile('/opt/kiln/a/f.txt')), 'hello world');
      assert.deepEqual(await fs.stat('/opt/kiln/a/f.txt'), { type: 'file', size: 11, mode: 0o640, uid: 0, gid: 0 });
      assert.equal(await fs.stat('/opt/kiln/none'), null);
      assert.equal(await fs.lstat('/opt/kiln/none/deeper'), null);
      await rejectsWithCode(fs.readFile('/opt/kiln/none'), 'ENOENT');
      await fs.symlink('a/f.txt', '/opt/kiln/link');
      assert.equal((await fs.lstat('/opt/kiln/link'))?.type, 'symlink');
      assert.equal((await fs.stat('/opt/kiln/link'))?.type, 'file');
      assert.equal(await fs.realpath('/opt/kiln/link'), '/opt/kiln/a/f.txt');
      assert.equal(String(await fs.readFile('/opt/kiln/link')), 'hello world');
      assert.deepEqual((await fs.readdir('/opt/kiln')).sort(), ['a', 'link']);
      await fs.chmod('/opt/kiln/a/f.txt', 0o600);
      assert.equal((await fs.stat('/opt/kiln/a/f.txt'))?.mode, 0o600);
      await fs.copy('/opt/kiln/a', '/opt/kiln/copy');
      assert.equal(String(await fs.readFile('/opt/kiln/copy/f.txt')), 'hello world');
      assert.equal((await fs.stat('/opt/kiln/copy/f.txt'))?.mode, 0o600);
      assert.equal((await fs.stat('/opt/kiln/copy/b'))?.type, 'directory');
      await rejectsWithCode(fs.copy('/opt/kiln/a/f.txt', '/opt/kiln/copy/f.txt', { overwrite: false }), 'EEXIST');
      await fs.rename('/opt/kiln/copy', '/opt/kiln/moved');
      assert.equal(await fs.stat('/opt/kiln/copy'), null);
      assert.equal((await shared.exec(['cat', '/opt/kiln/moved/f.txt'])).stdout, 'hello world', 'exec sees what fs wrote');
      await rejectsWithCode(fs.rm('/opt/kiln/moved'), 'EISDIR');
      await fs.rm('/opt/kiln/moved', { recursive: true });
      await fs.rm('/opt/kiln/moved', { force: true });
      await rejectsWithCode(fs.rm('/opt/kiln/moved'), 'ENOENT');
      await fs.rm('/opt/kiln', { recursive: true });
      assert.equal(await fs.lstat('/opt/kiln'), null);
    });

    void test('putFile and getFile carry any bytes, in both directions', async () => {
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const big = Buffer.alloc(3 * 1024 * 1024 + 7, all);
      await shared.putFile('/root/bytes.bin', big, 0o755);
      assert.ok((await shared.getFile('/root/bytes.bin')).equals(big));
      assert.equal((await shared.fs.stat('/root/bytes.bin'))?.mode, 0o755);
      assert.equal((await shared.exec(['wc', '-c', '/root/bytes.bin'])).stdout.split(' ')[0], String(big.length));
      await shared.exec(sh('printf "\\x00\\xff\\x80made inside" > /root/inside.bin'));
      assert.ok((await shared.getFile('/root/inside.bin')).equals(Buffer.concat([Buffer.from([0, 0xff, 0x80]), Buffer.from('made inside')])));
    });

    // A capability the driver does not declare has no test here: left out rather than skipped, as nothing could run.
    if (options.capabilities.snapshotDir) {
      void test('snapshotDir holds what the instance changed', async () => {
        await shared.exec(sh('mkdir -p /srv/kiln && echo marked > /srv/kiln/marker'));
        assert.equal(readFileSync(`${snapshotDirOf(shared)}/srv/kiln/marker`, 'utf8'), 'marked\n');
      });
    }

    if (options.capabilities.root === 'layers') {
      void test('layers: the instance sees the merged stack, top first, with whiteouts and opaque dirs; no layer is written', async (t) => {
        const base = options.spec();
        const work = mkdtempSync(join(tmpdir(), 'kiln-suite-layers-'));
        t.after(() => rmSync(work, { recursive: true, force: true }));
        const [top, middle] = [join(work, 'top'), join(work, 'middle')];
        // middle: a file, a directory with old content, a file to delete; top: hides them, replaces the directory.
        execFileSync('bash', ['--norc', '-c', MAKE_LAYERS, 'kiln-layers', top, middle]);
        const layers = [top, middle, ...base.layers];
        assert.deepEqual(await options.driver.prepare({ ...base, layers }), []);
        const before = treeListing(work);
        const stacked = await options.driver.launch({ ...base, layers });
        launched.push(stacked);
        const r = await stacked.exec(sh('cat /etc/kiln-top /etc/kiln-middle /opt/kiln/new; ls -A /opt/kiln; test -e /etc/os-release || echo whited-out; stat -c %a /opt/kiln'));
        assert.equal(r.exitCode, 0, r.stderr);
        assert.equal(r.stdout, 'top\nmiddle\nnew\nnew\nwhited-out\n750\n');
        await stacked.exec(sh('echo changed > /etc/kiln-middle && rm /etc/kiln-top && echo more > /opt/kiln/more'));
        assert.equal(treeListing(work), before, 'the layers are read-only to the instance');
        assert.equal(readFileSync(join(snapshotDirOf(stacked), 'etc/kiln-middle'), 'utf8'), 'changed\n');
        const empty = mkdtempSync(join(work, 'empty-'));
        const whited = await options.driver.prepare({ ...base, layers: [top, empty] });
        assert.ok(whited.some((i) => i.path === 'layers' && /bin\/bash/.test(i.message)), `no /bin/bash: ${JSON.stringify(whited)}`);
        // Gone before the dispose test, which finds the scratch root as the suite found it.
        await stacked.dispose();
      });
    }

    // The last test: it disposes the shared instance, as a VM's boot costs tens of seconds under TCG.
    void test('dispose is idempotent and leaves nothing behind', async () => {
      const { scratchRoot } = options.spec();
      const inst = shared;
      // The sleep lets go of the exec's output: a driver may (qemu-ga does) wait for the pipes to close, and the
      // exec would then return only once the sleep is over, with nothing left running for dispose to end.
      const started = await inst.exec(sh('sleep 100 </dev/null >/dev/null 2>&1 & echo started'));
      assert.equal(started.stdout, 'started\n');
      const snapshot = options.capabilities.snapshotDir ? snapshotDirOf(inst) : undefined;
      await Promise.all([inst.dispose(), inst.dispose()]);
      await inst.dispose();
      const r = await inst.exec(['true']).catch((err: Error) => ({ exitCode: null, spawnError: err.message }));
      assert.equal(r.exitCode, null, 'a disposed instance runs nothing');
      assert.deepEqual(readdirSync(scratchRoot).sort(), scratchAtStart, 'the scratch directory is gone');
      if (snapshot !== undefined) {
        assert.equal(existsSync(snapshot), false, 'the snapshot directory is gone');
        assert.deepEqual(hostMountsUnder(dirname(snapshot)), []);
      }
      assert.deepEqual(options.leftovers?.(inst) ?? [], []);
    });
  });
}
