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
 * The user-data: install and start the guest agent with whichever package manager the image has, and change
 * nothing else (no default user, no authorized_keys, the image's hostname and SSH host keys). The install is a
 * `bootcmd`, which runs in cloud-init's network stage, rather than a `runcmd`, which waits for
 * network-online.target: on the imported Debian of Kiln's tests that target came five minutes after the network
 * was up (a wait-online unit waiting for an interface that never comes), most of the boot. Running that early, a package must not start its service
 * itself (the start would wait for boot targets that wait for cloud-init), so apt runs under a policy-rc.d that
 * defers starts, unless the image has one of its own, and the agent is then started without waiting. Recommends
 * are left out: on Debian they pull in libicu72, libxml2 and shared-mime-info, slow to set up under emulation. The config and final stages run no module in the
 * build boot; the output's first boot, a new instance, runs them. Failures leave their reason on the console,
 * which the boot timeout's message shows.
 */
export const AGENT_USER_DATA = `#cloud-config
users: []
disable_root: false
ssh_deletekeys: false
ssh_genkeytypes: []
preserve_hostname: true
cloud_config_modules: []
cloud_final_modules: []
bootcmd:
  - |
    set -x
    if ! command -v qemu-ga >/dev/null 2>&1 && ! test -x /usr/bin/qemu-ga && ! test -x /usr/sbin/qemu-ga; then
      if command -v apt-get >/dev/null 2>&1; then
        policy=/usr/sbin/policy-rc.d
        made=
        if ! test -e "$policy"; then printf '#!/bin/sh\\nexit 101\\n' > "$policy" && chmod 755 "$policy" && made=1; fi
        DEBIAN_FRONTEND=noninteractive apt-get update -q -o Acquire::Languages=none && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-guest-agent
        installed=$?
        if test -n "$made"; then rm -f "$policy"; fi
        test "$installed" -eq 0 || exit "$installed"
      elif command -v dnf >/dev/null 2>&1; then dnf install -y --setopt=install_weak_deps=False qemu-guest-agent
      elif command -v yum >/dev/null 2>&1; then yum install -y qemu-guest-agent
      elif command -v zypper >/dev/null 2>&1; then zypper --non-interactive install --no-recommends qemu-guest-agent
      elif command -v apk >/dev/null 2>&1; then apk add qemu-guest-agent
      fi
    fi
    if command -v systemctl >/dev/null 2>&1; then systemctl enable qemu-guest-agent; systemctl start --no-block qemu-guest-agent; else rc-service qemu-guest-agent start; fi
`;

/** The shell script of AGENT_USER_DATA's bootcmd, as the guest runs it (for tests that run it with fake tools). */
export function agentBootScript(): string {
  const body = AGENT_USER_DATA.slice(AGENT_USER_DATA.indexOf('  - |\n') + '  - |\n'.length);
  return body.split('\n').map((line) => line.replace(/^ {4}/, '')).join('\n');
}

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
