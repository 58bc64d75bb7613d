/**
 * A bootable Debian disk for VM driver tests: mmdebstrap (cloud kernel, systemd, qemu-guest-agent, bash,
 * coreutils) through the bootstrap cache (KILN_BOOTSTRAP_CACHE), then assembleDisk. Made once per test process
 * and removed when it exits.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assembleDisk } from '../../artifacts/disk/assemble.js';
import { runTool } from '../../artifacts/disk/run-tool.js';
import { cachedBootstrap } from '../../builder/bases/bootstrap-cache.js';

const MIRROR = process.env.KILN_TEST_MIRROR ?? 'http://deb.debian.org/debian';
const INCLUDE = 'linux-image-cloud-amd64,systemd-sysv,udev,initramfs-tools,qemu-guest-agent';
const TOOLS = ['mmdebstrap', 'sfdisk', 'mkfs.ext4', 'mkfs.fat', 'mcopy', 'debugfs', 'qemu-img'];

/** The shared test disk: a raw GPT disk with an EFI system partition and an ext4 root. */
export interface TestDisk {
  path: string;
  /** The kernel assembleDisk found in the root and installed for systemd-boot and GRUB. */
  kernelVersion: string;
}

let made: Promise<TestDisk> | undefined;

/** Why the test disk cannot be made on this host (a missing tool, no mirror), or false. */
export async function whyNoTestDisk(): Promise<string | false> {
  for (const tool of TOOLS) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  try {
    const res = await fetch(`${MIRROR}/dists/bookworm/Release`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    return res.ok ? false : `needs the Debian mirror: ${MIRROR} answered ${res.status}`;
  } catch (err) {
    return `needs the network: ${MIRROR} is unreachable (${(err as Error).message})`;
  }
}

/**
 * The disk, made on the first call (1-2 min, or seconds from the bootstrap cache); later calls in the same
 * process share it. Tests boot it read-only (snapshot or overlay) and must never write it.
 */
export function sharedTestDisk(signal?: AbortSignal): Promise<TestDisk> {
  made ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-test-disk-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    const rootfs = path.join(dir, 'rootfs');
    const args = ['--quiet', '--variant=minbase', `--include=${INCLUDE}`, 'bookworm', rootfs, MIRROR];
    await cachedBootstrap({ use: 'kiln vm driver test disk', mirror: MIRROR, suite: 'bookworm', variant: 'minbase', include: INCLUDE }, rootfs, async () => void (await runTool('mmdebstrap', args, { ...(signal ? { signal } : {}) })), { ...(signal ? { signal } : {}) });
    const out = path.join(dir, 'disk.raw');
    const assembled = await assembleDisk({ rootfs, out, sizeMiB: 1024, ...(signal ? { signal } : {}) });
    fs.rmSync(rootfs, { recursive: true, force: true });
    return { path: out, kernelVersion: assembled.kernelVersion };
  })();
  return made;
}
