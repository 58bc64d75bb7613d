/**
 * What runs as PID 1 of an ns instance. `unshare` starts it in fresh mount, PID, UTS, IPC and network
 * namespaces; it builds the instance's root with the host's tools, pivots into it, and then becomes the
 * rootfs's own bash running the shared launcher loop (toe/instance/launcher.ts), so that each exec afterwards
 * costs one fork inside the namespaces. Everything it mounts lives in its private mount namespace and vanishes
 * with it. Arguments: the overlay mount options (see overlayMountOptions), scratch dir, hostname, /tmp size in
 * MiB, launcher script, the numbers of the pivot_root, umount2 and prctl system calls on this architecture, and
 * the capabilities to drop.
 *
 * Layers: `scratch/init` sits above the image's layers and holds only the mount points and the /etc files that
 * are bind-mounted per instance (resolv.conf, hosts, hostname), so none of them ever lands in the upper layer,
 * which is exactly what the instance changed.
 *
 * pivot_root needs a helper: after the pivot no host binary can run (their loader and libraries are gone with
 * the old root), and the old root must be detached by the same process. perl (perl-base, essential on Debian)
 * makes both system calls, drops the capabilities that would let root inside reach the host (mount, modules,
 * raw I/O, open_by_handle_at…) from the bounding set, and only then execs the rootfs's bash: no image binary
 * ever runs with them, and the host's root is unreachable even for root inside, unlike with a chroot.
 */
export const INIT_SCRIPT = String.raw`
set -eu
options=$1 scratch=$2 hostname=$3 tmp_mib=$4 launcher=$5 sys_pivot_root=$6 sys_umount2=$7 sys_prctl=$8 drop_caps=$9
m=$scratch/merged
# The options name the layers relative to the scratch dir (see overlayMountOptions).
cd "$scratch"
mount -t overlay overlay -o "$options" merged
mount -t proc -o nosuid,nodev,noexec proc "$m/proc"
mount -t tmpfs -o nosuid,noexec,mode=755,size=1m dev "$m/dev"
mknod -m 666 "$m/dev/null" c 1 3
mknod -m 666 "$m/dev/zero" c 1 5
mknod -m 666 "$m/dev/full" c 1 7
mknod -m 666 "$m/dev/random" c 1 8
mknod -m 666 "$m/dev/urandom" c 1 9
mknod -m 666 "$m/dev/tty" c 5 0
mkdir -m 755 "$m/dev/pts"
mkdir -m 1777 "$m/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,nosuid,noexec devpts "$m/dev/pts"
ln -s pts/ptmx "$m/dev/ptmx"
mount -t tmpfs -o nosuid,nodev,mode=1777,size=64m shm "$m/dev/shm"
ln -s /proc/self/fd "$m/dev/fd"
ln -s /proc/self/fd/0 "$m/dev/stdin"
ln -s /proc/self/fd/1 "$m/dev/stdout"
ln -s /proc/self/fd/2 "$m/dev/stderr"
mount -t tmpfs -o "nosuid,nodev,mode=1777,size=${"$"}{tmp_mib}m" tmp "$m/tmp"
for f in resolv.conf hosts hostname; do mount --bind "$scratch/etc/$f" "$m/etc/$f"; done
printf '%s' "$hostname" > /proc/sys/kernel/hostname
ip link set lo up
cd "$m"
exec perl -e '
  my ($sys_pivot_root, $sys_umount2, $sys_prctl, $drop) = splice(@ARGV, 0, 4);
  my ($new, $old) = (".", ".");
  syscall($sys_pivot_root, $new, $old) == 0 or die "kiln-init: pivot_root: $!\n";
  syscall($sys_umount2, $old, 2) == 0 or die "kiln-init: umount old root: $!\n";
  chdir "/" or die "kiln-init: chdir: $!\n";
  for my $cap (split /,/, $drop) {
    # PR_CAPBSET_DROP; EINVAL means an older kernel that does not know this capability.
    syscall($sys_prctl, 24, $cap + 0, 0, 0, 0) == 0 or $!{EINVAL} or die "kiln-init: drop capability $cap: $!\n";
  }
  exec { $ARGV[0] } @ARGV or die "kiln-init: exec $ARGV[0]: $!\n";
' "$sys_pivot_root" "$sys_umount2" "$sys_prctl" "$drop_caps" /bin/bash --norc -c "$launcher"
`;

/** Joins the cgroups named by its first arguments, then execs the rest, so everything it starts is limited. */
export const JOIN_CGROUPS_SCRIPT = String.raw`
n=$1; shift
for ((i = 0; i < n; i++)); do echo $$ > "$1/cgroup.procs" || exit 125; shift; done
exec "$@"
`;

/** pivot_root, umount2 and prctl system call numbers by Node's process.arch. */
export const SYSCALLS: Readonly<Record<string, readonly [number, number, number]>> = { x64: [155, 166, 157], arm64: [41, 39, 167] };

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
