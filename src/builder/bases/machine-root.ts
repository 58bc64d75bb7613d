/**
 * What turns a Debian root filesystem into a machine image's: the packages a booting machine needs and the
 * files that make the first boot of every copy its own. Kiln's communicator is the QEMU guest agent (as the SSM
 * agent is AWS's); the first-boot hook plays cloud-init's part for what Kiln images need, without Python.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/**
 * mmdebstrap --include for a bootable Debian: the cloud kernel (virtio drivers built in, a small initrd),
 * systemd as init, the guest agent, DHCP on the first NIC through ifupdown (dhclient writes resolv.conf, which
 * the ns driver can bind over, unlike systemd-resolved's symlink), zstd for the initrd.
 */
export const MACHINE_BASE_PACKAGES: readonly string[] = [
  'linux-image-cloud-amd64',
  'systemd-sysv',
  'udev',
  'initramfs-tools',
  'zstd',
  'qemu-guest-agent',
  'ifupdown',
  'isc-dhcp-client',
  'ca-certificates',
];

/** Kernel arguments a Kiln machine image boots with, after root= and console=; the image may replace them. */
export const KERNEL_CMDLINE_FILE = 'etc/kernel/cmdline';

const FIRST_BOOT_UNIT = `[Unit]
Description=Kiln first-boot hooks (/etc/kiln/first-boot.d)
ConditionFirstBoot=yes
After=local-fs.target
Before=qemu-guest-agent.service getty.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/run-parts --exit-on-error /etc/kiln/first-boot.d

[Install]
WantedBy=multi-user.target
`;

const HOSTNAME_HOOK = `#!/bin/sh
# A machine made from a Kiln image names itself after its machine id unless something else named it.
set -e
[ -s /etc/hostname ] && exit 0
name="kiln-$(head -c 8 /etc/machine-id)"
echo "$name" > /etc/hostname
hostname "$name"
`;

/**
 * Writes the machine-specific files into `rootfs`: fstab for the root partition `rootPartUuid`, DHCP on eth0,
 * the kernel arguments, the first-boot unit with its hook folder, and "uninitialized" in /etc/machine-id so
 * that systemd treats the first boot of each copy as a first boot and gives it its own id.
 */
export async function customizeMachineRoot(rootfs: string, rootPartUuid: string): Promise<void> {
  const at = (p: string) => path.join(rootfs, p);
  const write = async (p: string, text: string, mode = 0o644) => {
    await fsp.mkdir(path.dirname(at(p)), { recursive: true });
    await fsp.writeFile(at(p), text, { mode });
    await fsp.chmod(at(p), mode);
  };
  await write('etc/fstab', `PARTUUID=${rootPartUuid} / ext4 defaults,errors=remount-ro 0 1\n`);
  await write('etc/network/interfaces.d/eth0', 'allow-hotplug eth0\niface eth0 inet dhcp\n');
  // Predictable names would call the NIC enp0s2 under QEMU and something else elsewhere (machine.md §4).
  await write(KERNEL_CMDLINE_FILE, 'net.ifnames=0\n');
  await write('etc/machine-id', 'uninitialized\n', 0o444);
  await write('etc/systemd/system/kiln-first-boot.service', FIRST_BOOT_UNIT);
  await write('etc/kiln/first-boot.d/10-hostname', HOSTNAME_HOOK, 0o755);
  // ifupdown brings the network up, not systemd-networkd, whose wait-online unit would wait for links it does not
  // manage and fail the boot (degraded) whenever a service pulls in network-online.target, as docker.service does.
  await fsp.rm(at('etc/systemd/system/systemd-networkd-wait-online.service'), { force: true });
  await fsp.symlink('/dev/null', at('etc/systemd/system/systemd-networkd-wait-online.service'));
  const wants = at('etc/systemd/system/multi-user.target.wants');
  await fsp.mkdir(wants, { recursive: true });
  await fsp.rm(path.join(wants, 'kiln-first-boot.service'), { force: true });
  await fsp.symlink('/etc/systemd/system/kiln-first-boot.service', path.join(wants, 'kiln-first-boot.service'));
}
