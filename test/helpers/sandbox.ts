import { execLocal } from '../../src/toe/instance/local.js';
import type { ExecResult } from '../../src/toe/instance/instance.js';

/** Top-level folders a document may change; each gets a throwaway overlay inside the sandbox. */
const OVERLAID = ['etc', 'home', 'root', 'usr', 'var', 'opt', 'srv', 'tmp'];

/** Why the sandbox cannot run here, or undefined when it can (root with unshare and overlayfs). */
export function sandboxUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root: the sandbox uses mount namespaces and overlayfs';
  return undefined;
}

/**
 * Runs argv as root in a throwaway copy of this machine, with no network but loopback: private namespaces where /etc, /home,
 * /root, /usr, /var, /opt, /srv and /tmp are overlays whose changes live on a tmpfs that vanishes with the
 * namespace. `keep` folders are bound through unchanged so results can be read afterwards. Nothing is left on
 * the host: the mounts exist only inside the namespace.
 */
export function runInSandbox(argv: string[], options: { keep: string[]; cwd?: string; timeoutMs?: number }): Promise<ExecResult> {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    'set -eu',
    'mount --make-rprivate /',
    // Only loopback, so a document cannot reach (or even look up) any other host.
    'ip link set lo up 2>/dev/null || true',
    'mount -t tmpfs kiln-sandbox /mnt',
    'mkdir /mnt/keep',
    ...options.keep.map((k, i) => `mkdir /mnt/keep/${i} && mount --bind ${q(k)} /mnt/keep/${i}`),
    ...OVERLAID.map((d) => `mkdir -p /mnt/u/${d} /mnt/w/${d} && mount -t overlay overlay -o lowerdir=/${d},upperdir=/mnt/u/${d},workdir=/mnt/w/${d} /${d}`),
    ...options.keep.map((k, i) => `mkdir -p ${q(k)} && mount --bind /mnt/keep/${i} ${q(k)}`),
    `cd ${q(options.cwd ?? '/')}`,
    `exec ${argv.map(q).join(' ')}`,
  ].join('\n');
  return execLocal(['unshare', '--mount', '--pid', '--net', '--uts', '--ipc', '--fork', '--mount-proc', '--', 'bash', '-c', script], {
    timeoutMs: options.timeoutMs ?? 120_000,
  });
}
