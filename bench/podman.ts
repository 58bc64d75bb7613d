/**
 * A podman for benchmarks: its own storage under a folder (the host's /var/lib/containers is never touched) and
 * the settings that work on this host (docs: /work/shared/reference/machine.md §2-3): runc, since crun refuses
 * the hybrid cgroup hierarchy; explicit ulimits, since the bounding set lacks CAP_SYS_RESOURCE and podman's
 * default nofile fails; cgroupfs and file events, since there is no systemd; the host network.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { mountsUnder, umountLazy } from '../src/drivers/ns/host-mounts.js';

const run = promisify(execFile);

const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];

/** Why the podman benchmarks cannot run here, or undefined when they can: needs root, podman, runc and skopeo. */
export async function podmanSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (podman with its own storage, Kiln builds)';
  for (const tool of ['podman', 'runc', 'skopeo']) {
    try {
      await run(tool, ['--version']);
    } catch {
      return `needs ${tool} (scripts/install.sh --test installs it)`;
    }
  }
  return undefined;
}

export interface PrivatePodman {
  /** `containers-storage:` reference of `name` in this podman's storage, for skopeo. */
  storageRef(name: string): string;
  /** Copies an image into this podman's storage with skopeo (e.g. from `oci:DIR:TAG`) as `name`. */
  load(source: string, name: string): Promise<void>;
  /** Builds `containerfile` (its text) as `tag` with the layer cache (podman's default) or without it; milliseconds. */
  build(containerfile: string, tag: string, options?: { noCache?: boolean }): Promise<number>;
  /** Copies `name` out of this podman's storage to an OCI layout with gzip layers, as `oci:DIR:TAG`. */
  exportLayout(name: string, dir: string, tag: string): Promise<void>;
  /** Removes the storage, unmounting whatever podman left mounted in it first; throws naming what it left when it cannot. */
  close(): Promise<void>;
}

/** Sets up a podman whose configuration and storage live in `dir` (made here, removed by close()). */
export async function privatePodman(dir: string): Promise<PrivatePodman> {
  const root = path.join(dir, 'root');
  const runroot = path.join(dir, 'runroot');
  const context = path.join(dir, 'context');
  const tmp = path.join(dir, 'tmp');
  for (const d of [root, runroot, context, tmp]) await mkdir(d, { recursive: true });
  const containersConf = path.join(dir, 'containers.conf');
  const storageConf = path.join(dir, 'storage.conf');
  await writeFile(
    containersConf,
    '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n',
  );
  // skopeo reads the storage from here; podman gets the same through its flags too.
  await writeFile(storageConf, `[storage]\ndriver = "overlay"\ngraphroot = "${root}"\nrunroot = "${runroot}"\n`);
  const env = { ...process.env, CONTAINERS_CONF: containersConf, CONTAINERS_STORAGE_CONF: storageConf, TMPDIR: tmp };
  const podman = (args: string[]) =>
    run('podman', ['--root', root, '--runroot', runroot, '--storage-driver', 'overlay', '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', ...args], { env, cwd: context, maxBuffer: 64 << 20 });
  const storageRef = (name: string) => `containers-storage:[overlay@${root}+${runroot}]${name}`;
  let builds = 0;
  return {
    storageRef,
    load: async (source, name) => {
      await run('skopeo', ['copy', '--quiet', source, storageRef(name)], { env });
    },
    build: async (containerfile, tag, options = {}) => {
      const file = path.join(context, `Containerfile.${++builds}`);
      await writeFile(file, containerfile);
      const start = performance.now();
      await podman(['build', '--quiet', '--layers', '--pull=never', '--network', 'host', ...ULIMITS, ...(options.noCache ? ['--no-cache'] : []), '-t', tag, '-f', file, context]);
      return performance.now() - start;
    },
    exportLayout: async (name, layoutDir, tag) => {
      await run('skopeo', ['copy', '--quiet', '--dest-compress-format', 'gzip', storageRef(name), `oci:${layoutDir}:${tag}`], { env });
    },
    close: async () => {
      const leaked: string[] = [];
      for (const point of mountsUnder(path.resolve(dir))) {
        await umountLazy(point).catch((err: unknown) => leaked.push(`${point}: ${(err as Error).message}`));
      }
      // Removing the folder would descend into a mount still there.
      if (leaked.length > 0) throw new Error(`podman storage left in place, could not unmount: ${leaked.join('; ')}`);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
