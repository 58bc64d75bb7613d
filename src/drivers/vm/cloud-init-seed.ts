/**
 * A cloud-init NoCloud seed: a small FAT volume labelled `cidata` with `meta-data` and `user-data`, attached as a
 * second read-only drive. It is how Kiln reaches a disk it did not make (an imported image), which has no QEMU
 * guest agent: cloud-init installs `qemu-guest-agent` from the image's own package manager and starts it, and
 * from then on the VM is driven like any other. Made with mkfs.fat and mcopy (dosfstools, mtools): no loop
 * device, no mount.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { runTool } from '../../artifacts/disk/run-tool.js';

/** Enough for two small text files; mkfs.fat's FAT12 minimum is far below. */
const SEED_KIB = 1024;

/**
 * The user-data: install and start the guest agent with whichever package manager the image has, and leave
 * users and SSH keys alone (no default user, no authorized_keys written). A runcmd
 * rather than `packages:`, so an image whose cloud-init lacks that module still gets the agent, and so that a
 * failure leaves its reason on the console, which the boot timeout's message shows.
 */
export const AGENT_USER_DATA = `#cloud-config
# The build touches nothing but the agent: no default user, no change to root's SSH access, the host keys as
# the image has them (a copy's first boot, a new instance, regenerates them as cloud-init does).
users: []
disable_root: false
ssh_deletekeys: false
ssh_genkeytypes: []
runcmd:
  - |
    set -x
    if ! command -v qemu-ga >/dev/null 2>&1 && ! test -x /usr/bin/qemu-ga; then
      if command -v apt-get >/dev/null 2>&1; then DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-guest-agent
      elif command -v dnf >/dev/null 2>&1; then dnf install -y qemu-guest-agent
      elif command -v yum >/dev/null 2>&1; then yum install -y qemu-guest-agent
      elif command -v zypper >/dev/null 2>&1; then zypper --non-interactive install qemu-guest-agent
      elif command -v apk >/dev/null 2>&1; then apk add qemu-guest-agent
      fi
    fi
    systemctl enable --now qemu-guest-agent || rc-service qemu-guest-agent start
`;

/**
 * Writes `<dir>/cidata.img` for an instance: its id (a new one per boot makes cloud-init run the seed's
 * user-data even on an image that ran cloud-init before) and hostname. Answers the file's path.
 */
export async function writeNoCloudSeed(dir: string, instance: { id: string; hostname: string }, signal?: AbortSignal): Promise<string> {
  const files = path.join(dir, 'cidata');
  await fsp.mkdir(files, { recursive: true, mode: 0o700 });
  const metaData = path.join(files, 'meta-data');
  const userData = path.join(files, 'user-data');
  await fsp.writeFile(metaData, `instance-id: ${instance.id}\nlocal-hostname: ${instance.hostname}\n`);
  await fsp.writeFile(userData, AGENT_USER_DATA);
  const image = path.join(dir, 'cidata.img');
  await fsp.rm(image, { force: true });
  const options = signal ? { signal } : {};
  await runTool('mkfs.fat', ['-n', 'CIDATA', '-C', image, String(SEED_KIB)], options);
  await runTool('mcopy', ['-i', image, metaData, userData, '::/'], options);
  await fsp.rm(files, { recursive: true, force: true });
  return image;
}
