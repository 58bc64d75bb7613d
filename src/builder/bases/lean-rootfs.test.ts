import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { applyLeanProfile, leanBootstrapArgs } from './lean-rootfs.js';
import { dpkgGlob, removeSlimExcluded, slimDpkgConfig } from './slim-paths.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kiln-lean-'));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Files (with content) and symlinks (`-> target`) under `root`. */
async function tree(root: string, entries: Record<string, string>): Promise<void> {
  for (const [rel, value] of Object.entries(entries)) {
    const at = path.join(root, rel);
    await fsp.mkdir(path.dirname(at), { recursive: true });
    if (value.startsWith('-> ')) await fsp.symlink(value.slice(3), at);
    else await fsp.writeFile(at, value);
  }
}

async function list(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    out.push(e.isDirectory() ? `${rel}/` : rel);
    if (e.isDirectory()) out.push(...(await list(root, rel)));
  }
  return out.sort();
}

test('dpkg globs: * and ? cross slashes as in dpkg path filters, classes work, the rest is literal', () => {
  assert.ok(dpkgGlob('/usr/share/doc/*').test('/usr/share/doc/bash/examples/x'));
  assert.ok(dpkgGlob('/usr/share/doc/*/copyright').test('/usr/share/doc/bash/copyright'));
  assert.ok(!dpkgGlob('/usr/share/doc/*/copyright').test('/usr/share/doc/bash/copyright.old'));
  assert.ok(dpkgGlob('/usr/share/man/man[1-9]/*').test('/usr/share/man/man1/ls.1.gz'));
  assert.ok(!dpkgGlob('/usr/share/man/man[1-9]/*').test('/usr/share/man/mana/ls.1.gz'));
  assert.ok(!dpkgGlob('/usr/share/locale/locale.alias').test('/usr/share/locale/localeXalias'));
  assert.ok(dpkgGlob('/usr/share/omf/*/*-C.emf').test('/usr/share/omf/x/y-C.emf'));
});

test('the slim filters remove docs but copyright files, man pages, translations; links resolve inside the tree only', async (t) => {
  const root = await tempDir(t);
  await tree(root, {
    'usr/share/doc/bash/copyright': 'c',
    'usr/share/doc/bash/README': 'r',
    'usr/share/doc/bash/examples/loadables/x': 'x',
    'usr/share/doc/libgcc-s1': '-> gcc-12-base',
    'usr/share/doc/gcc-12-base/copyright': 'c',
    'usr/share/doc/gone': '-> nowhere',
    // Absolute: read against the tree, where /etc/passwd does not exist (this host's does).
    'usr/share/doc/host-link': '-> /etc/passwd',
    'usr/share/doc/in-tree-link': '-> /usr/share/doc/bash',
    'usr/share/doc/only-changelog/changelog.Debian.gz': 'l',
    'usr/share/man/man1/ls.1.gz': 'm',
    'usr/share/man/de/man1/ls.1.gz': 'm',
    'usr/share/locale/locale.alias': 'a',
    'usr/share/locale/de/LC_MESSAGES/coreutils.mo': 'mo',
    'usr/share/info/dir': 'i',
    'usr/share/lintian/overrides/bash': 'o',
    'usr/share/lintian/profiles/keep': 'p',
    'usr/share/zoneinfo/UTC': 'z',
  });
  const removed = await removeSlimExcluded(root);
  assert.deepEqual(await list(root, 'usr/share'), [
    'usr/share/doc/',
    'usr/share/doc/bash/',
    'usr/share/doc/bash/copyright',
    'usr/share/doc/gcc-12-base/',
    'usr/share/doc/gcc-12-base/copyright',
    'usr/share/doc/in-tree-link',
    'usr/share/doc/libgcc-s1',
    'usr/share/info/',
    'usr/share/lintian/',
    'usr/share/lintian/overrides/',
    'usr/share/lintian/profiles/',
    'usr/share/lintian/profiles/keep',
    'usr/share/locale/',
    'usr/share/locale/locale.alias',
    'usr/share/man/',
    'usr/share/zoneinfo/',
    'usr/share/zoneinfo/UTC',
  ]);
  assert.ok(removed.includes('/usr/share/doc/host-link') && removed.includes('/usr/share/man/man1'), removed.join(' '));
  assert.deepEqual(await removeSlimExcluded(root), [], 'a second pass finds nothing');
});

test('the container profile writes the apt and dpkg configuration of slim images; the machine one only docker-clean', async (t) => {
  const base = await tempDir(t);
  const container = path.join(base, 'container');
  await tree(container, { 'usr/share/man/man8/x.8.gz': 'm' });
  assert.deepEqual(await applyLeanProfile(container, 'container'), ['/usr/share/man/man8', '/usr/share/man/man8/x.8.gz']);
  const conf = async (root: string, rel: string) => fsp.readFile(path.join(root, rel), 'utf8');
  const clean = await conf(container, 'etc/apt/apt.conf.d/docker-clean');
  assert.match(clean, /^DPkg::Post-Invoke \{ "rm -f \/var\/cache\/apt\/archives\/\*\.deb .*\/var\/cache\/apt\/\*\.bin \|\| true"; \};$/m);
  assert.match(clean, /^APT::Update::Post-Invoke \{ "rm -f /m);
  assert.match(clean, /^Dir::Cache::pkgcache "";$/m);
  assert.match(clean, /^Dir::Cache::srcpkgcache "";$/m);
  assert.match(await conf(container, 'etc/apt/apt.conf.d/docker-gzip-indexes'), /^Acquire::GzipIndexes "true";$/m);
  assert.match(await conf(container, 'etc/apt/apt.conf.d/docker-no-languages'), /^Acquire::Languages "none";$/m);
  assert.match(await conf(container, 'etc/apt/apt.conf.d/docker-autoremove-suggests'), /^Apt::AutoRemove::SuggestsImportant "false";$/m);
  assert.match(await conf(container, 'etc/dpkg/dpkg.cfg.d/docker-apt-speedup'), /^force-unsafe-io$/m);
  const dpkg = await conf(container, 'etc/dpkg/dpkg.cfg.d/docker');
  assert.match(dpkg, /^path-exclude=\/usr\/share\/doc\/\*\npath-exclude=\/usr\/share\/groff\/\*\n/m);
  assert.ok(dpkg.indexOf('path-include=/usr/share/doc/*/copyright') > dpkg.lastIndexOf('path-exclude='), 'includes come after excludes: dpkg applies the last match');
  const policy = await fsp.stat(path.join(container, 'usr/sbin/policy-rc.d'));
  assert.equal(policy.mode & 0o777, 0o755);

  const machine = path.join(base, 'machine');
  await tree(machine, { 'usr/share/man/man8/x.8.gz': 'm', 'usr/share/doc/bash/README': 'r' });
  assert.deepEqual(await applyLeanProfile(machine, 'machine'), []);
  assert.deepEqual(await list(machine, 'etc'), ['etc/apt/', 'etc/apt/apt.conf.d/', 'etc/apt/apt.conf.d/docker-clean']);
  assert.ok(existsSync(path.join(machine, 'usr/share/man/man8/x.8.gz')) && existsSync(path.join(machine, 'usr/share/doc/bash/README')), 'a machine keeps its docs');
  assert.deepEqual(await applyLeanProfile(path.join(base, 'untouched'), undefined), []);
  assert.equal(existsSync(path.join(base, 'untouched')), false);
});

test('mmdebstrap puts the slim filters in place before dpkg runs for a container base; the cache keys on them', async (t) => {
  const work = path.join(await tempDir(t), "it's here");
  await fsp.mkdir(work);
  const lean = await leanBootstrapArgs('container', work);
  const hook = lean.args.find((a) => a.startsWith('--setup-hook='));
  assert.ok(hook, lean.args.join(' '));
  // The hook as mmdebstrap runs it: sh -c with the root as $1, with the umask it sets.
  const root = path.join(work, 'root');
  execFileSync('sh', ['-c', `umask 022; ${hook.slice('--setup-hook='.length)}`, 'sh', root]);
  const written = await fsp.readFile(path.join(root, 'etc/dpkg/dpkg.cfg.d/docker'), 'utf8');
  assert.ok(written.endsWith(slimDpkgConfig()), written);
  assert.equal((await fsp.stat(path.join(root, 'etc/dpkg/dpkg.cfg.d/docker'))).mode & 0o777, 0o644);
  assert.equal(JSON.stringify(lean.fingerprint).includes(work), false, 'the cache key names no host folder');
  assert.deepEqual(await leanBootstrapArgs('machine', work), { args: [], fingerprint: null });
  assert.deepEqual(await leanBootstrapArgs(undefined, work), { args: [], fingerprint: null });
});
