/**
 * The Kiln-managed Debian container base: mmdebstrap builds a minimal root filesystem from a mirror, which is
 * stored as a one-layer OCI image. The same mirror state gives the same layer digest: SOURCE_DATE_EPOCH is the
 * mirror's Release date (mmdebstrap then drops its logs and caches, and writeLayer clamps every newer mtime to
 * it), and nothing of this host (resolv.conf, hostname, machine-id, device nodes) goes into the image.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { KilnError } from '../../domain/errors.js';
import type { BlobStore } from '../../artifacts/blob-store.js';
import { importBaseRootfs } from '../../artifacts/oci/base-rootfs.js';
import { writeImage, type StoredImage } from '../../artifacts/oci/image.js';
import { descendants, isLive, killTree } from '../../toe/instance/process-tree.js';
import { installedPackages, type InstalledPackage } from './dpkg-status.js';
import { releaseEpoch } from './mirror-release.js';
import { cachedBootstrap } from './bootstrap-cache.js';
import { withScratchDir } from './scratch-dir.js';
import { applyLeanProfile, leanBootstrapArgs, type LeanProfile } from './lean-rootfs.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import { decodeStream } from '../../logs/utf8-chunks.js';
import { DROP_INSTANCE_VOLUMES } from '../../drivers/ns/init-script.js';

/** Which base to bootstrap. */
export interface DebianBaseSpec {
  suite: 'bookworm';
  variant: 'minbase';
  /** An http(s) Debian mirror, e.g. http://deb.debian.org/debian. */
  mirror: string;
  arch: 'amd64';
  /** Packages installed on top of the variant (mmdebstrap --include), e.g. a kernel for a machine image. */
  includes?: readonly string[];
  /**
   * How lean the base is (lean-rootfs.ts): `container` is Docker's debian:*-slim (no docs but copyright files, no
   * man pages or translations, apt keeps no downloads or caches), `machine` only keeps apt from caching packages.
   * Absent: as mmdebstrap leaves it.
   */
  lean?: LeanProfile;
  /** Changes the root filesystem after mmdebstrap and before it is stored (runs as root on the host). */
  customize?: (rootfs: string) => Promise<void>;
}

export interface DebianBaseDeps {
  blobs: BlobStore;
  /** A directory for this bootstrap alone: created (on a tmpfs when possible) and removed, with all it holds. */
  workDir: string;
  signal?: AbortSignal;
  /** mmdebstrap's progress and Kiln's notes, as text. */
  onOutput?: OutputSink;
  /**
   * Layer compression. gzip (default) is read by every client; the base layer is the first layer of every image
   * built on it, and zstd ones are refused by Docker before 23 and by umoci 0.4. zstd writes the layer about
   * 3× faster (4 s against 11 s here), which matters little for a base bootstrapped once.
   */
  compression?: 'zstd' | 'gzip';
}

export interface DebianBase {
  image: StoredImage;
  /** Installed packages, by name. */
  packages: InstalledPackage[];
  sourceDateEpoch: number;
}

/** The PATH of Debian's official images. */
const IMAGE_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** How long killed bootstrap processes may take to go before cleanup proceeds. */
const EXIT_WAIT_MS = 10_000;

function checkSpec(spec: DebianBaseSpec): void {
  const bad = (field: string, message: string) => new KilnError('InvalidArgument', `Debian base ${field}: ${message}`, [{ path: field, message }]);
  if (spec.suite !== 'bookworm') throw bad('suite', `only "bookworm" is supported, got ${JSON.stringify(spec.suite)}`);
  if (spec.variant !== 'minbase') throw bad('variant', `only "minbase" is supported, got ${JSON.stringify(spec.variant)}`);
  if (spec.arch !== 'amd64') throw bad('arch', `only "amd64" is supported, got ${JSON.stringify(spec.arch)}`);
  let url: URL | undefined;
  try {
    url = new URL(spec.mirror);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw bad('mirror', `must be an http(s) URL, got ${JSON.stringify(spec.mirror)}`);
}

function hostIssue(): string | undefined {
  if (process.getuid?.() !== 0) return 'bootstrapping a Debian base needs root (mmdebstrap --mode=root)';
  for (const [tool, pkg] of [['mmdebstrap', 'mmdebstrap'], ['unshare', 'util-linux'], ['mount', 'mount']]) {
    if (!['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(path.join(d, tool!)))) return `${tool} is not installed (Debian package ${pkg})`;
  }
  return undefined;
}

/**
 * Bootstraps a Debian root filesystem with mmdebstrap and stores it as a one-layer OCI image (zstd or gzip
 * layer; config with Env PATH, Cmd ["bash"], os/arch, history), reproducibly: SOURCE_DATE_EPOCH from the
 * mirror's Release date, no host resolv.conf/hostname/machine-id, apt lists and caches removed, lean as
 * `spec.lean` says. Returns the
 * stored image and the installed packages (name, version, for ListImagePackages). Unavailable when the host
 * cannot (no root, no mmdebstrap) or the mirror is unreachable; Cancelled when the signal aborts.
 */
export async function bootstrapDebianBase(spec: DebianBaseSpec, deps: DebianBaseDeps): Promise<DebianBase> {
  checkSpec(spec);
  const issue = hostIssue();
  if (issue) throw new KilnError('Unavailable', issue);
  const { signal, onOutput } = deps;
  const mirror = spec.mirror.replace(/\/+$/, '');
  const sourceDateEpoch = await releaseEpoch(mirror, spec.suite, signal);
  const created = new Date(sourceDateEpoch * 1000).toISOString();
  onOutput?.(`SOURCE_DATE_EPOCH=${sourceDateEpoch} (${created}), the Release date of ${mirror} ${spec.suite}\n`);
  return withScratchDir(deps.workDir, async (work, { tmpfs }) => {
    onOutput?.(`working in ${work}${tmpfs ? ' (tmpfs)' : ''}\n`);
    const rootfs = path.join(work, 'rootfs');
    await fsp.mkdir(path.join(work, 'tmp'), { mode: 0o700 });
    const includes = spec.includes?.length ? [`--include=${spec.includes.join(',')}`] : [];
    const lean = await leanBootstrapArgs(spec.lean, work);
    if (lean.note) onOutput?.(lean.note);
    const args = ['--mode=root', `--variant=${spec.variant}`, `--arch=${spec.arch}`, ...includes, ...lean.args, '--format=directory', spec.suite, rootfs, mirror];
    const t0 = Date.now();
    await cachedBootstrap(
      [mirror, spec.suite, spec.variant, spec.arch, spec.includes ?? [], sourceDateEpoch, ...(lean.fingerprint === null ? [] : [lean.fingerprint])],
      rootfs,
      () => runMmdebstrap(args, { ...process.env, SOURCE_DATE_EPOCH: String(sourceDateEpoch), TMPDIR: path.join(work, 'tmp') }, signal, onOutput),
      { ...(signal ? { signal } : {}), ...(onOutput ? { onOutput } : {}) },
    );
    onOutput?.(`mmdebstrap took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    await scrubHostTraces(rootfs);
    const slimmed = await applyLeanProfile(rootfs, spec.lean);
    if (slimmed.length > 0) onOutput?.(`removed ${slimmed.length} paths the slim filters exclude but dpkg left\n`);
    await spec.customize?.(rootfs);
    const packages = installedPackages(await fsp.readFile(path.join(rootfs, 'var/lib/dpkg/status'), 'utf8'));
    const debianVersion = (await fsp.readFile(path.join(rootfs, 'etc/debian_version'), 'utf8').catch(() => '')).trim();
    const t1 = Date.now();
    const layer = await importBaseRootfs(deps.blobs, { dir: rootfs }, {
      sourceDateEpoch,
      compression: deps.compression ?? 'gzip',
      // Runtimes mount their own /dev; the host's device nodes have no place in an image.
      exclude: (p) => p.startsWith('dev/'),
      signal,
    });
    onOutput?.(`layer ${layer.digest} (${layer.size} bytes) took ${((Date.now() - t1) / 1000).toFixed(1)} s\n`);
    const image = await writeImage(deps.blobs, {
      layers: [layer],
      config: { Env: [IMAGE_PATH], Cmd: ['bash'] },
      history: [{ created, created_by: `mmdebstrap --variant=${spec.variant} --arch=${spec.arch} ${includes.join(' ')}${includes.length ? ' ' : ''}${spec.suite} ${mirror}`, comment: spec.lean === 'container' ? 'Kiln-managed Debian base, slim' : 'Kiln-managed Debian base' }],
      created,
      architecture: spec.arch,
      os: 'linux',
      annotations: { 'org.opencontainers.image.created': created, ...(debianVersion ? { 'org.opencontainers.image.version': debianVersion } : {}) },
    });
    return { image, packages, sourceDateEpoch };
  });
}

/**
 * What mmdebstrap leaves that belongs to this host or to the moment of the build. It already removed its logs,
 * ldconfig's aux-cache and the apt lists' content (SOURCE_DATE_EPOCH); resolv.conf and hostname it copies from
 * the host for debootstrap compatibility.
 */
async function scrubHostTraces(rootfs: string): Promise<void> {
  const at = (p: string) => path.join(rootfs, p);
  await fsp.rm(at('etc/resolv.conf'), { force: true });
  await fsp.rm(at('etc/hostname'), { force: true });
  await fsp.rm(at('var/lib/dbus/machine-id'), { force: true });
  if (existsSync(at('etc/machine-id'))) await fsp.writeFile(at('etc/machine-id'), '');
  for (const [dir, keep] of [['var/lib/apt/lists', ['lock', 'partial']], ['var/cache/apt', ['archives']], ['var/cache/apt/archives', ['lock', 'partial']]] as const) {
    const names = await fsp.readdir(at(dir)).catch(() => [] as string[]);
    for (const name of names) if (!(keep as readonly string[]).includes(name)) await fsp.rm(at(`${dir}/${name}`), { recursive: true, force: true });
  }
}

/**
 * Runs mmdebstrap in private mount and PID namespaces, so that the proc/sys/dev mounts it makes inside the
 * rootfs vanish with it even when it is killed, and killing it kills everything it started. Resolves when it
 * exited 0 and every process it started is gone.
 */
async function runMmdebstrap(args: string[], env: NodeJS.ProcessEnv, signal: AbortSignal | undefined, onOutput?: OutputSink): Promise<void> {
  if (signal?.aborted) throw new KilnError('Cancelled', 'Debian base bootstrap cancelled');
  // The namespace's copies of running instances' root volumes are dropped first, or they would outlive them.
  const argv = ['--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--mount-proc', 'bash', '--norc', '-c', `${DROP_INSTANCE_VOLUMES}\nexec mmdebstrap "$@"`, 'kiln-bootstrap', ...args];
  const child = spawn('unshare', argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let tail = '';
  const output = (stream: 'stdout' | 'stderr') => (text: string) => {
    tail = (tail + text).slice(-4000);
    onOutput?.(text, stream);
  };
  decodeStream(child.stdout, output('stdout'));
  decodeStream(child.stderr, output('stderr'));
  let killed: number[] = [];
  const onAbort = () => {
    if (child.pid === undefined) return;
    killed = [child.pid, ...descendants(child.pid)];
    killTree(child.pid);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new KilnError('Unavailable', 'unshare is not installed (Debian package util-linux)') : err));
      child.once('close', resolve);
    });
    await waitGone(killed);
    if (signal?.aborted) throw new KilnError('Cancelled', 'Debian base bootstrap cancelled');
    if (code !== 0) throw new KilnError('Internal', `mmdebstrap failed (exit ${code}): ${tail.trim().split('\n').slice(-15).join('\n')}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function waitGone(pids: number[]): Promise<void> {
  const deadline = Date.now() + EXIT_WAIT_MS;
  while (pids.some(isLive)) {
    if (Date.now() > deadline) throw new KilnError('Internal', `bootstrap processes ${pids.filter(isLive).join(', ')} did not exit after SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
