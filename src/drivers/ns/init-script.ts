/**
 * What runs as PID 1 of an ns instance. `unshare` starts it in fresh mount, PID, UTS, IPC and network
 * namespaces; it builds the instance's root with the host's tools, pivots into it, and then becomes the
 * rootfs's own bash running the shared launcher loop (toe/instance/launcher.ts), so that each exec afterwards
 * costs one fork inside the namespaces. Everything it mounts lives in its private mount namespace and vanishes
 * with it. Arguments: the overlay mount options (see overlayMountOptions), scratch dir, hostname, /tmp size in
 * MiB, launcher script, the numbers of the pivot_root, umount2, prctl, mount and mknodat system calls on this
 * architecture (comma-separated), and the capabilities to drop.
 *
 * Layers: `scratch/init` sits above the image's layers and holds only the mount points and the /etc files that
 * are bind-mounted per instance (resolv.conf, hosts, hostname), so none of them ever lands in the upper layer,
 * which is exactly what the instance changed.
 *
 * pivot_root needs a helper: after the pivot no host binary can run (their loader and libraries are gone with
 * the old root), and the old root must be detached by the same process. perl (perl-base, essential on Debian)
 * makes both system calls (and, before them, the instance's /proc, /dev, /tmp and bind mounts, as system calls
 * too: a program started per mount or device node cost ~10 ms each, half of a launch), drops the capabilities that would let root inside reach the host (mount, modules,
 * raw I/O, open_by_handle_at…) from the bounding set, and only then execs the rootfs's bash: no image binary
 * ever runs with them, and the host's root is unreachable even for root inside, unlike with a chroot.
 */
export const INIT_SCRIPT = String.raw`
set -eu
options=$1 scratch=$2 hostname=$3 tmp_mib=$4 launcher=$5 syscalls=$6 drop_caps=$7
# The options name the layers relative to the scratch dir (see overlayMountOptions).
cd "$scratch"
mount -t overlay overlay -o "$options" merged
printf '%s' "$hostname" > /proc/sys/kernel/hostname
ip link set lo up
cd merged
# One perl process makes the rest of the root with system calls: each program started here costs ~10 ms.
exec perl -e '
  my ($syscalls, $drop, $scratch, $tmp_mib) = splice(@ARGV, 0, 4);
  my ($sys_pivot_root, $sys_umount2, $sys_prctl, $sys_mount, $sys_mknodat) = split /,/, $syscalls;
  my ($NOSUID, $NODEV, $NOEXEC, $BIND) = (2, 4, 8, 4096);
  sub mnt {
    my ($src, $dst, $type, $flags, $data) = @_;
    my $r = defined $data ? syscall($sys_mount, $src, $dst, $type, $flags, $data) : syscall($sys_mount, $src, $dst, $type, $flags, 0);
    $r == 0 or die "kiln-init: mount $dst: $!\n";
  }
  my $umask = umask(0);
  mnt("proc", "proc", "proc", $NOSUID | $NODEV | $NOEXEC);
  mnt("dev", "dev", "tmpfs", $NOSUID | $NOEXEC, "mode=755,size=1m");
  for my $node (["null", 1, 3], ["zero", 1, 5], ["full", 1, 7], ["random", 1, 8], ["urandom", 1, 9], ["tty", 5, 0]) {
    my ($name, $major, $minor) = @$node;
    # AT_FDCWD; S_IFCHR | 0666; a small dev_t is major << 8 | minor.
    syscall($sys_mknodat, -100, "dev/$name", 0020666, ($major << 8) | $minor) == 0 or die "kiln-init: mknod dev/$name: $!\n";
  }
  mkdir("dev/pts", 0755) or die "kiln-init: mkdir dev/pts: $!\n";
  mkdir("dev/shm", 01777) or die "kiln-init: mkdir dev/shm: $!\n";
  mnt("devpts", "dev/pts", "devpts", $NOSUID | $NOEXEC, "newinstance,ptmxmode=0666,mode=620");
  mnt("shm", "dev/shm", "tmpfs", $NOSUID | $NODEV, "mode=1777,size=64m");
  for my $link (["pts/ptmx", "ptmx"], ["/proc/self/fd", "fd"], ["/proc/self/fd/0", "stdin"], ["/proc/self/fd/1", "stdout"], ["/proc/self/fd/2", "stderr"]) {
    symlink($link->[0], "dev/$link->[1]") or die "kiln-init: symlink dev/$link->[1]: $!\n";
  }
  mnt("tmp", "tmp", "tmpfs", $NOSUID | $NODEV, "mode=1777,size=${"$"}{tmp_mib}m");
  mnt("$scratch/etc/$_", "etc/$_", "none", $BIND) for ("resolv.conf", "hosts", "hostname");
  umask($umask);
  my ($new, $old) = (".", ".");
  syscall($sys_pivot_root, $new, $old) == 0 or die "kiln-init: pivot_root: $!\n";
  syscall($sys_umount2, $old, 2) == 0 or die "kiln-init: umount old root: $!\n";
  chdir "/" or die "kiln-init: chdir: $!\n";
  for my $cap (split /,/, $drop) {
    # PR_CAPBSET_DROP; EINVAL means an older kernel that does not know this capability.
    syscall($sys_prctl, 24, $cap + 0, 0, 0, 0) == 0 or $!{EINVAL} or die "kiln-init: drop capability $cap: $!\n";
  }
  exec { $ARGV[0] } @ARGV or die "kiln-init: exec $ARGV[0]: $!\n";
' "$syscalls" "$drop_caps" "$scratch" "$tmp_mib" /bin/bash --norc -c "$launcher"
`;

/** Joins the cgroups named by its first arguments, then execs the rest, so everything it starts is limited. */
export const JOIN_CGROUPS_SCRIPT = String.raw`
n=$1; shift
for ((i = 0; i < n; i++)); do echo $$ > "$1/cgroup.procs" || exit 125; shift; done
exec "$@"
`;

/** pivot_root, umount2, prctl, mount and mknodat system call numbers by Node's process.arch. */
export const SYSCALLS: Readonly<Record<string, readonly [number, number, number, number, number]>> = { x64: [155, 166, 157, 165, 259], arm64: [41, 39, 167, 40, 33] };

/**
 * Capabilities no build needs and that would open a way out: roughly what container engines drop by default
 * (CAP_SYS_ADMIN: mount, pivot_root, setns; CAP_DAC_READ_SEARCH: open_by_handle_at on the host filesystem;
 * modules, raw I/O, clock, reboot, BPF, perf, audit and MAC control). Ownership, setuid, chroot, kill and the
 * network in its own namespace stay, so package managers work.
 */
export const DROPPED_CAPABILITIES: readonly number[] = [2, 16, 17, 20, 21, 22, 25, 26, 30, 32, 33, 34, 35, 36, 38, 39, 40];

/** Where the scratch dir links to the image's layers: `l/0` is the top one. */
export const LAYER_LINKS_DIR = 'l';
/** overlayfs's limit on lower layers (OVL_MAX_STACK), the init layer included. */
export const OVERLAY_MAX_LOWER_LAYERS = 500;
/** mount(2) copies its options into one page; the smallest page Linux runs on is 4 KiB (with the NUL). */
export const MOUNT_OPTIONS_MAX = 4095;

/**
 * The overlay mount options of an instance with `layerCount` image layers, relative to its scratch dir. The
 * layers are reached through short links (`l/0`, `l/1`…) rather than their own paths, as Docker's overlay2
 * does: the options of one mount must fit in a page, which long absolute paths of a deep image would overflow,
 * and link names need no escaping of the commas and colons overlay splits on.
 */
export function overlayMountOptions(layerCount: number): string {
  const lower = ['init', ...Array.from({ length: layerCount }, (_, i) => `${LAYER_LINKS_DIR}/${i}`)];
  // Explicit, whatever the host's module defaults: a redirect or metacopy upper entry would make the
  // snapshot an incomplete diff, and a redirect planted in a lower layer must not be followed.
  return `lowerdir=${lower.join(':')},upperdir=upper,workdir=work,redirect_dir=nofollow,metacopy=off`;
}
