import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { FsBlobStore } from '../../artifacts/blob-store.js';
import { exportLayout } from '../../artifacts/oci/image.js';
import { LayerCache } from '../../artifacts/oci/unpack.js';
import { isKilnError } from '../../domain/errors.js';
import { hostIssues, NsDriver } from '../../drivers/ns/ns-driver.js';
import { bootstrapDebianBase, type DebianBaseSpec } from './debian-base.js';
import { installedPackages } from './dpkg-status.js';
import { parseReleaseDate, releaseEpoch } from './mirror-release.js';
import { withScratchDir } from './scratch-dir.js';
import { containerBaseSpec } from './managed-bases.js';
import { BOOTSTRAP_CACHE_ENV } from './bootstrap-cache.js';

// These tests are about mmdebstrap itself (reproducible output, cancellation), so only the first bootstrap of
// the reproducibility test goes through npm test's cache: it fills the entry the managed container base's tests
// unpack later in the run, instead of each of them running mmdebstrap again. The second always runs for real.
const runCache = process.env[BOOTSTRAP_CACHE_ENV];
delete process.env[BOOTSTRAP_CACHE_ENV];

const MIRROR = 'http://deb.debian.org/debian';
/** The managed container base's spec, so that the cache entry filled here is the one it reads. */
const SPEC: DebianBaseSpec = containerBaseSpec(MIRROR);

async function tempDir(t: TestContext): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kiln-bases-'));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

function mountsMentioning(text: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(text));
}

function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Why the bootstrap tests cannot run here: root, tools, then the mirror (probed once). */
async function bootstrapSkipReason(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root (mmdebstrap --mode=root, mounts)';
  const missing = ['mmdebstrap', 'unshare', 'umoci', 'zstd', 'getfattr'].filter((t) => !hasTool(t));
  if (missing.length > 0) return `needs ${missing.join(', ')} (Debian packages mmdebstrap, util-linux, umoci, zstd, attr)`;
  try {
    await releaseEpoch(MIRROR, 'bookworm', AbortSignal.timeout(10_000));
  } catch (err) {
    return `needs the network: ${MIRROR} is unreachable (${(err as Error).message})`;
  }
  return false;
}

test('the Release date is the source date epoch; a Release without one is refused', () => {
  const release = 'Origin: Debian\nSuite: oldstable\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nAcquire-By-Hash: yes\n';
  assert.equal(parseReleaseDate(release, 'x'), Date.UTC(2026, 6, 11, 10, 16, 37) / 1000);
  assert.throws(() => parseReleaseDate('Origin: Debian\n', 'http://m/dists/bookworm/Release'), (e) => isKilnError(e, 'InvalidArgument') && /Release has no valid Date/.test(e.message));
  assert.throws(() => parseReleaseDate('Date: someday\n', 'r'), /someday/);
});

test('installed packages come from the dpkg status database, sorted, only those installed', () => {
  const status = [
    'Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\nDescription: compression\n library',
    'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b7',
    'Package: removed\nStatus: deinstall ok config-files\nVersion: 1.0',
    'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9',
    'Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 2.36-9',
  ].join('\n\n');
  assert.deepEqual(installedPackages(`${status}\n`), [
    { packageName: 'bash', packageVersion: '5.2.15-2+b7' },
    { packageName: 'libc6', packageVersion: '2.36-9' },
    { packageName: 'libc6:i386', packageVersion: '2.36-9' },
    { packageName: 'zlib1g', packageVersion: '1:1.2.13.dfsg-1' },
  ]);
});

test('a bad spec is an InvalidArgument naming the field', async () => {
  const deps = { blobs: new FsBlobStore('/nonexistent'), workDir: '/nonexistent' };
  await assert.rejects(bootstrapDebianBase({ ...SPEC, mirror: 'ftp://x' }, deps), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'mirror');
  await assert.rejects(bootstrapDebianBase({ ...SPEC, suite: 'trixie' as never }, deps), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'suite');
});

test('the scratch dir is a fresh tmpfs, removed after success and after failure, with leftovers of a crash', { skip: process.getuid?.() !== 0 ? 'needs root (mount)' : false }, async (t) => {
  const base = await tempDir(t);
  const work = path.join(base, 'work');
  // A crashed run left a mounted tmpfs with content.
  await fsp.mkdir(work);
  execFileSync('mount', ['-t', 'tmpfs', 'kiln-leftover', work]);
  await fsp.writeFile(path.join(work, 'old'), 'x');
  const seen = await withScratchDir(work, async (dir, info) => {
    assert.deepEqual(await fsp.readdir(dir), [], 'it starts empty');
    await fsp.writeFile(path.join(dir, 'file'), 'x');
    return { info, mounts: mountsMentioning(work).length };
  });
  assert.deepEqual(seen, { info: { tmpfs: true }, mounts: 1 });
  assert.equal(existsSync(work), false);
  assert.deepEqual(mountsMentioning(work), []);
  await assert.rejects(
    withScratchDir(work, async (dir) => {
      await fsp.writeFile(path.join(dir, 'file'), 'x');
      throw new Error('the work failed');
    }),
    /the work failed/,
  );
  assert.equal(existsSync(work), false);
  assert.deepEqual(mountsMentioning(work), []);
});

const skip = await bootstrapSkipReason();

describe('bootstrapDebianBase against the Debian mirror', () => {
  // The first test's bootstrap, unpacked, for the next one: bootstrapping costs a minute or more.
  let shared: { base: string; rootfs: string; layers: string[]; packages: string[]; layerSize: number } | undefined;
  const sharedDirs: string[] = [];
  after(async () => {
    for (const dir of sharedDirs) await fsp.rm(dir, { recursive: true, force: true });
  });

  test('two bootstraps give the same image; it has Debian 12, its packages, no host traces, and runs in an ns instance', { skip, timeout: 600_000 }, async (t) => {
    const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'kiln-bases-'));
    sharedDirs.push(base);
    const blobs = new FsBlobStore(path.join(base, 'blobs'));
    const runs = [];
    for (const n of [1, 2]) {
      const workDir = path.join(base, `work-${n}`);
      let output = '';
      const t0 = Date.now();
      if (n === 1 && runCache) process.env[BOOTSTRAP_CACHE_ENV] = runCache;
      let out;
      try {
        out = await bootstrapDebianBase(SPEC, { blobs, workDir, onOutput: (s) => (output += s) });
      } finally {
        delete process.env[BOOTSTRAP_CACHE_ENV];
      }
      const seconds = (Date.now() - t0) / 1000;
      t.diagnostic(`bootstrap ${n}: ${seconds.toFixed(1)} s; ${output.split('\n').filter((l) => / took |cached bootstrap|saved the bootstrap/.test(l)).join('; ')}`);
      if (n === 2) assert.match(output, /I: extracting archives|I: installing/, 'the second bootstrap ran mmdebstrap');
      assert.equal(existsSync(workDir), false, 'the work dir is removed');
      assert.deepEqual(mountsMentioning(workDir), []);
      runs.push(out);
    }
    const [first, second] = runs as [(typeof runs)[0], (typeof runs)[0]];
    assert.equal(second.image.manifest.layers[0]!.digest, first.image.manifest.layers[0]!.digest, 'the layer is reproducible');
    assert.equal(second.image.manifestDigest, first.image.manifestDigest, 'so is the whole image');
    assert.equal(first.image.manifest.layers.length, 1);
    assert.equal(first.image.manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const names = first.packages.map((p) => p.packageName);
    for (const name of ['bash', 'dpkg', 'apt', 'base-files', 'libc6']) assert.ok(names.includes(name), `${name} is listed`);
    assert.ok(first.packages.every((p) => p.packageVersion.length > 0));

    const config = JSON.parse((await blobs.get(first.image.configDigest)).toString()) as { config: unknown; created: string; os: string; architecture: string; history: unknown[] };
    assert.deepEqual(config.config, { Cmd: ['bash'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] });
    assert.equal(config.created, new Date(first.sourceDateEpoch * 1000).toISOString());
    assert.deepEqual([config.os, config.architecture, config.history.length], ['linux', 'amd64', 1]);

    // Independent tools read the image as any registry client would.
    const layout = path.join(base, 'layout');
    await exportLayout(blobs, first.image.manifestDigest, layout, 'base');
    const bundle = path.join(base, 'bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:base`, bundle], { stdio: 'pipe' });
    const rootfs = path.join(bundle, 'rootfs');
    shared = { base, rootfs, layers: [], packages: names, layerSize: first.image.manifest.layers[0]!.size };
    assert.match(readFileSync(path.join(rootfs, 'etc/debian_version'), 'utf8'), /^12\./);
    for (const hostFile of ['etc/resolv.conf', 'etc/hostname', 'etc/machine-id']) assert.equal(existsSync(path.join(rootfs, hostFile)), false, `no ${hostFile}`);
    assert.deepEqual(readdirSync(path.join(rootfs, 'dev')), [], 'no device nodes');
    assert.deepEqual(readdirSync(path.join(rootfs, 'var/lib/apt/lists')).filter((n) => n !== 'lock' && n !== 'partial'), [], 'no apt lists');
    assert.deepEqual(readdirSync(path.join(rootfs, 'var/cache/apt')), ['archives']);

    // The base as LaunchSpec.layers: unpacked once, then stacked by the ns driver.
    if (hostIssues('none').length > 0) return;
    const cache = new LayerCache(path.join(base, 'layers'), blobs);
    const t0 = Date.now();
    const layers = await cache.imageLayers(first.image.manifestDigest);
    shared.layers = layers;
    t.diagnostic(`unpacking the base layer: ${((Date.now() - t0) / 1000).toFixed(2)} s`);
    const scratchRoot = path.join(base, 'scratch');
    await fsp.mkdir(scratchRoot);
    const inst = await new NsDriver().launch({ layers, resources: { vcpus: 1, memoryMiB: 512 }, network: 'none', hostname: 'base-test', scratchRoot });
    try {
      const r = await inst.exec(['bash', '-c', 'cat /etc/debian_version && dpkg-query -W bash | cut -f1 && apt-get --version | head -1']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /^12\.\d+\nbash\napt 2\./);
    } finally {
      await inst.dispose();
    }
  });

  test('the container base is slim like debian:bookworm-slim, and apt-get install in it leaves no package cache', { skip, timeout: 600_000 }, async (t) => {
    assert.ok(shared, 'the bootstrap test ran');
    const { rootfs } = shared;
    const at = (p: string) => path.join(rootfs, p);
    t.diagnostic(`gzip layer: ${(shared.layerSize / 1e6).toFixed(1)} MB, ${shared.packages.length} packages`);
    // debian:bookworm-slim's layer is about 28 MB; the minbase mmdebstrap makes by default was 61 MB (usrmerge
    // pulls in perl, and the docs).
    assert.ok(shared.layerSize < 35e6, `the layer is ${shared.layerSize} bytes`);
    for (const name of ['perl', 'usrmerge']) assert.ok(!shared.packages.includes(name), `no ${name}`);
    assert.ok(shared.packages.includes('usr-is-merged'));
    assert.equal(readlinkSync(at('bin')), 'usr/bin', 'merged /usr as debootstrap makes it');

    const docs = readdirSync(at('usr/share/doc'));
    assert.ok(docs.length > 50, 'a copyright file per package');
    for (const name of docs) {
      const entries = readdirSync(at(`usr/share/doc/${name}`));
      assert.deepEqual(entries, ['copyright'], `usr/share/doc/${name} holds its copyright file only`);
    }
    for (const dir of ['man', 'info', 'groff', 'lintian/overrides']) {
      const found = existsSync(at(`usr/share/${dir}`)) ? execFileSync('find', [at(`usr/share/${dir}`), '-mindepth', '1'], { encoding: 'utf8' }) : '';
      assert.equal(found, '', `nothing under usr/share/${dir}`);
    }
    assert.deepEqual(readdirSync(at('usr/share/locale')).filter((n) => n !== 'locale.alias'), [], 'no translations');
    assert.deepEqual(readdirSync(at('var/cache/apt')), ['archives']);
    assert.match(readFileSync(at('etc/dpkg/dpkg.cfg.d/docker'), 'utf8'), /^path-exclude=\/usr\/share\/man\/\*$/m);
    assert.match(readFileSync(at('etc/apt/apt.conf.d/docker-clean'), 'utf8'), /Dir::Cache::pkgcache "";/);

    const issues = hostIssues('nat');
    if (issues.length > 0) {
      t.skip(`apt-get in an instance needs NAT: ${issues.map((i) => i.message).join('; ')}`);
      return;
    }
    const scratchRoot = path.join(shared.base, 'scratch-apt');
    await fsp.mkdir(scratchRoot);
    const inst = await new NsDriver().launch({ layers: shared.layers, resources: { vcpus: 1, memoryMiB: 512 }, network: 'nat', hostname: 'slim-test', scratchRoot });
    try {
      // apt reads the configuration as the base carries it.
      const config = await inst.exec(['apt-config', 'dump']);
      assert.equal(config.exitCode, 0, config.stderr);
      for (const line of ['Dir::Cache::pkgcache "";', 'Dir::Cache::srcpkgcache "";', 'Acquire::GzipIndexes "true";', 'Acquire::Languages:: "none";', 'APT::AutoRemove::SuggestsImportant "false";']) {
        assert.ok(config.stdout.includes(`${line}\n`), `apt-config has ${line}`);
      }
      assert.match(config.stdout, /^DPkg::Post-Invoke:: "rm -f \/var\/cache\/apt\/archives\/\*\.deb /m);
      const install = await inst.exec(['bash', '-c', 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q jq'], { timeoutMs: 400_000 });
      assert.equal(install.exitCode, 0, install.stderr + install.stdout.slice(-2000));
      const left = await inst.exec(['bash', '-c', 'jq --version && find /var/cache/apt /var/lib/apt/lists -type f \\( -name "*.deb" -o -name "*.bin" -o -name "*Packages" \\) && ls /usr/share/doc/jq && ls /usr/share/man']);
      assert.equal(left.exitCode, 0, left.stderr);
      // jq's version; no .deb, no pkgcache.bin, no uncompressed list; jq's copyright only; no man page.
      assert.match(left.stdout, /^jq-1\.6\ncopyright\n$/);
    } finally {
      await inst.dispose();
    }
  });

  test('an aborted bootstrap is Cancelled and leaves no process, mount or work dir', { skip, timeout: 120_000 }, async (t) => {
    const base = await tempDir(t);
    const workDir = path.join(base, 'work');
    const c = new AbortController();
    let started = false;
    const run = bootstrapDebianBase(SPEC, {
      blobs: new FsBlobStore(path.join(base, 'blobs')),
      workDir,
      signal: c.signal,
      onOutput: (s) => {
        // Abort while mmdebstrap is busy inside the rootfs (its mounts are up).
        if (!started && /I: extracting archives|I: installing/.test(s)) {
          started = true;
          setTimeout(() => c.abort(), 200);
        }
      },
    });
    await assert.rejects(run, (e) => isKilnError(e, 'Cancelled'));
    assert.ok(started, 'the abort came while mmdebstrap ran');
    assert.equal(existsSync(workDir), false);
    assert.deepEqual(mountsMentioning(workDir), []);
    const left = execFileSync('ps', ['-eo', 'pid,stat,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(workDir) && !/ Z/.test(l));
    assert.deepEqual(left, []);
  });
});
