/**
 * How an ns instance starts (ADR 0003). On the host, this script makes the instance's root volume: a sparse
 * ext4 file of the root volume's size, loop-mounted (autoclear) under the scratch dir, the quota a write past
 * fails against with ENOSPC. It is mounted where Kiln reads the upper layer from (snapshotDir) and is the one
 * mount an instance has on the host: dispose unmounts it, and a sweep after a crash finds it under the scratch
 * dir. Then `unshare` gives the instance a private mount namespace and a fresh network namespace; in them the
 * overlay is stacked (the image's layers below, the volume's upper directory on top), loopback comes up, and
 * the script becomes `runc run`, which starts the launcher loop (toe/instance/launcher.ts) as the container's
 * PID 1 with podman's confinement (runtime-spec.ts). The overlay lives only in the private namespace and goes
 * with it.
 *
 * Arguments: scratch dir, overlay mount options (see overlayMountOptions), root volume size in MiB, runc's
 * state dir, container id. fd 3 (the launcher's control pipe) is handed on to the container.
 *
 * Layers: `scratch/init` sits above the image's layers and holds only the mount points and the /etc files that
 * are bind-mounted per instance (resolv.conf, hosts, hostname), so none of them ever lands in the upper layer,
 * which is exactly what the instance changed.
 */
/**
 * Bash that lazily unmounts every ns instance's root volume from the mount namespace it runs in, but the one at
 * `$keep` (when set). A new mount namespace copies the host's mounts, the root volumes of running instances among
 * them, and its copy would keep a volume (and its loop device) alive after its instance unmounted it: whatever
 * Kiln runs in a namespace of its own while instances run (an instance, a base bootstrap) runs this first. It has
 * no single quote, so it can stand inside a `bash -c '…'`.
 */
export const DROP_INSTANCE_VOLUMES = String.raw`mapfile -t mounts < /proc/self/mountinfo
  for line in "${"$"}{mounts[@]}"; do
    read -r _ _ _ _ point _ <<< "$line"
    case "$point" in */kiln-ns-*/volume) [ "$point" = "${"$"}{keep:-}" ] || umount -l "$point" ;; esac
  done`;

export const INIT_SCRIPT = String.raw`
set -eu
scratch=$1 options=$2 disk_mib=$3 runc_root=$4 id=$5
cd "$scratch"
truncate -s "${"$"}{disk_mib}M" volume.img
# No journal and lazy inode tables: the volume lives as long as the instance, and is made in tens of ms.
mkfs.ext4 -q -F -O ^has_journal -m 0 -E lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0 volume.img
mount -o loop,nosuid,nodev volume.img volume
mkdir -m 755 volume/upper volume/work
exec unshare --mount --net --propagation private bash --norc -c '
  set -eu
  options=$1 runc_root=$2 id=$3
  # Only its own root volume stays in the namespace (see DROP_INSTANCE_VOLUMES).
  keep=$PWD/volume
  ${DROP_INSTANCE_VOLUMES}
  mount -t overlay overlay -o "$options" merged
  ip link set lo up
  # As podman sets it: unprivileged ICMP echo (ping) without CAP_NET_RAW, in the instance namespace only.
  printf "0 0" > /proc/sys/net/ipv4/ping_group_range
  exec runc --root "$runc_root" run --bundle bundle --pid-file bundle/pid --preserve-fds 1 --no-new-keyring "$id"
' kiln-instance "$options" "$runc_root" "$id"
`;

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
  return `lowerdir=${lower.join(':')},upperdir=volume/upper,workdir=volume/work,redirect_dir=nofollow,metacopy=off`;
}
